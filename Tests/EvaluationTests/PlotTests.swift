import Foundation
import Testing

@testable import Evaluation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What the XML parser saw in an SVG.
private final class SVGContents: NSObject, XMLParserDelegate {
    var root: String?
    var rootAttributes: [String: String] = [:]
    var points: [(label: String, frontier: Bool)] = []
    var circles = 0
    var frontierPolyline: [String] = []
    var texts: [String] = []
    private var currentText: String?

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String]
    ) {
        if root == nil {
            root = name
            rootAttributes = attributes
        }
        switch name {
        case "g" where attributes["class"] == "point":
            points.append((attributes["data-label"] ?? "", attributes["data-frontier"] == "true"))
        case "circle": circles += 1
        case "polyline" where attributes["class"] == "frontier":
            frontierPolyline = (attributes["points"] ?? "").split(separator: " ").map(String.init)
        case "text": currentText = ""
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { currentText? += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text", let text = currentText { texts.append(text) }
        if name == "text" { currentText = nil }
    }
}

private func parse(_ svg: String) throws -> SVGContents {
    let contents = SVGContents()
    let parser = XMLParser(data: Data(svg.utf8))
    parser.delegate = contents
    let parsed = parser.parse()
    #expect(parsed, "SVG is not well-formed XML: \(String(describing: parser.parserError))")
    return contents
}

/// Set CASCADE_EVAL_PLOT_DIR to keep the plots for a look (e.g. `rsvg-convert -o plot.png plot.svg`).
private func keep(_ plot: QualityLatencyPlot, _ name: String) throws {
    guard let directory = ProcessInfo.processInfo.environment["CASCADE_EVAL_PLOT_DIR"] else { return }
    try plot.write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
}

@Test(arguments: [false, true])
func plotIsAStandaloneSVGWithEveryPoint(logarithmic: Bool) throws {
    let frontier = try Frontier(points: knownSweep)
    let plot = QualityLatencyPlot(frontier: frontier, logarithmicLatency: logarithmic)
    try keep(plot, logarithmic ? "known-log.svg" : "known-linear.svg")
    let svg = try parse(plot.svg)
    #expect(svg.root == "svg")
    #expect(svg.rootAttributes["xmlns"] == "http://www.w3.org/2000/svg")
    #expect(svg.rootAttributes["viewBox"] == "0 0 900.0 560.0")
    #expect(Set(svg.points.map(\.label)) == Set(knownSweep.map(\.cutoffs.description)))
    #expect(svg.points.filter(\.frontier).map(\.label).sorted() == frontier.frontierLabels.sorted())
    #expect(svg.circles == knownSweep.count + 2)  // plus the legend's two
    #expect(svg.frontierPolyline.count == frontier.frontier.count)
    #expect(svg.texts.contains("nDCG@10"))
    #expect(svg.texts.contains(logarithmic ? "p50 latency (ms, log scale)" : "p50 latency (ms)"))
    #expect(svg.texts.contains("r=100 k=20"))
    // Latency ticks: 0..200 in steps of 50 (linear), decades 1..1000 with 2s and 5s (log).
    let expectedTicks =
        logarithmic ? ["1", "2", "5", "10", "20", "50", "100", "200", "500", "1000"] : ["0", "50", "150", "200"]
    for tick in expectedTicks { #expect(svg.texts.contains(tick), "missing tick \(tick)") }
    #expect(svg.texts.contains("0.45"))
}

@Test func frontierLineRunsLeftToRightAndUpward() throws {
    let frontier = try Frontier(points: knownSweep)
    let svg = try parse(QualityLatencyPlot(frontier: frontier).svg)
    let coordinates = svg.frontierPolyline.map { pair in pair.split(separator: ",").map { Double($0)! } }
    for (a, b) in zip(coordinates, coordinates.dropFirst()) {
        #expect(a[0] < b[0])
        #expect(a[1] > b[1])  // SVG y grows downwards: better quality is higher up
    }
}

@Test func singlePointAndOddTextStillMakeValidSVG() throws {
    let plot = QualityLatencyPlot(
        frontier: try Frontier(points: [point(5, 0, quality: 0.25, p50: 0)]), logarithmicLatency: true,
        title: "R&D <sweep> \"quoted\"")
    try keep(plot, "single.svg")
    let svg = try parse(plot.svg)
    #expect(svg.points.map(\.label) == ["r=5 k=0"])
    #expect(svg.texts.contains("R&D <sweep> \"quoted\""))
    #expect(svg.texts.contains("p50 latency (ms)"))  // 0 ms cannot go on a log axis
    #expect(!plot.svg.contains("nan"))
    #expect(!plot.svg.contains("inf"))
}

@Test func axisTicksAreRound() {
    let axis = Axis.linear(from: 0, to: 153)
    #expect(axis.ticks.map(\.label) == ["0", "50", "100", "150", "200"])
    #expect(axis.low == 0)
    #expect(axis.high == 200)
    let quality = Axis.linear(paddedAround: [0.3, 0.45])
    #expect(quality.ticks.map(\.label) == ["0.25", "0.30", "0.35", "0.40", "0.45", "0.50"])
    #expect(Axis.linear(from: 0.71, to: 0.74).ticks.map(\.label) == ["0.71", "0.72", "0.73", "0.74"])
    let log = Axis.logarithmic([0.8, 35])
    #expect(log.low == 0.1)
    #expect(log.high == 100)
    #expect(log.ticks.first?.label == "0.1")
    #expect(abs(log.fraction(10) - 2.0 / 3.0) < 1e-12)
}
