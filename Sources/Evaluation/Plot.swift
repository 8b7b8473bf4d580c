import Foundation

/// Quality against latency as a standalone SVG: one labelled dot per setting, the Pareto
/// frontier as a line, axes with ticks. Written by hand (no dependency) and plain enough for
/// any browser or `rsvg-convert`.
public struct QualityLatencyPlot: Sendable {
    public let frontier: Frontier
    /// Log scale suits sweeps whose latencies span decades (reranking 10 vs 1000 passages).
    public var logarithmicLatency: Bool
    public var width: Double = 900
    public var height: Double = 560
    public var title: String?

    public init(frontier: Frontier, logarithmicLatency: Bool = false, title: String? = nil) {
        self.frontier = frontier
        self.logarithmicLatency = logarithmicLatency
        self.title = title
    }

    private let margin = (left: 80.0, right: 40.0, top: 56.0, bottom: 64.0)

    public var svg: String {
        let statistic = frontier.latencyStatistic
        let measure = frontier.measure
        let latencies = frontier.points.map { $0.latency[statistic] }
        let qualities = frontier.points.map { $0.quality[measure] }
        // A latency of 0 has no place on a log axis: fall back to linear (the axis title says which).
        let logarithmic = logarithmicLatency && latencies.allSatisfy { $0 > 0 }
        let xAxis = logarithmic ? Axis.logarithmic(latencies) : Axis.linear(from: 0, to: latencies.max()! * 1.05)
        let yAxis = Axis.linear(paddedAround: qualities)
        let plot = (
            left: margin.left, right: width - margin.right, top: margin.top, bottom: height - margin.bottom
        )
        func x(_ value: Double) -> Double { plot.left + xAxis.fraction(value) * (plot.right - plot.left) }
        func y(_ value: Double) -> Double { plot.bottom - yAxis.fraction(value) * (plot.bottom - plot.top) }

        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" \
            viewBox="0 0 \(n(width)) \(n(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        let heading = title ?? "\(measure.rawValue) against \(statistic.rawValue) latency"
        svg += text(heading, x: width / 2, y: 28, anchor: "middle", extra: #"font-size="16" font-weight="bold""#)

        // Grid and ticks.
        svg += #"<g class="x-axis">"# + "\n"
        for tick in xAxis.ticks {
            let px = x(tick.value)
            svg += line(px, plot.top, px, plot.bottom, stroke: "#e4e4e4")
            svg += line(px, plot.bottom, px, plot.bottom + 5, stroke: "black")
            svg += text(tick.label, x: px, y: plot.bottom + 19, anchor: "middle")
        }
        let xTitle = "\(statistic.rawValue) latency (ms\(logarithmic ? ", log scale" : ""))"
        svg += text(xTitle, x: (plot.left + plot.right) / 2, y: height - 18, anchor: "middle")
        svg += "</g>\n" + #"<g class="y-axis">"# + "\n"
        for tick in yAxis.ticks {
            let py = y(tick.value)
            svg += line(plot.left, py, plot.right, py, stroke: "#e4e4e4")
            svg += line(plot.left - 5, py, plot.left, py, stroke: "black")
            svg += text(tick.label, x: plot.left - 8, y: py + 4, anchor: "end")
        }
        let yMid = (plot.top + plot.bottom) / 2
        svg += text(
            measure.rawValue, x: 22, y: yMid, anchor: "middle", extra: "transform=\"rotate(-90 22 \(n(yMid)))\"")
        svg += "</g>\n"
        svg +=
            #"<rect x="\#(n(plot.left))" y="\#(n(plot.top))" width="\#(n(plot.right - plot.left))" "#
            + #"height="\#(n(plot.bottom - plot.top))" fill="none" stroke="black"/>"# + "\n"

        // Frontier line under the dots.
        let path = frontier.frontier.map { "\(n(x($0.latency[statistic]))),\(n(y($0.quality[measure])))" }
        svg +=
            ##"<polyline class="frontier" fill="none" stroke="#1f77b4" stroke-width="2" points="\##(path.joined(separator: " "))"/>"##
            + "\n"

        for point in frontier.points {
            let onFrontier = frontier.isOnFrontier(point.cutoffs)
            let px = x(point.latency[statistic])
            let py = y(point.quality[measure])
            let label = point.cutoffs.description
            svg += #"<g class="point" data-label="\#(escape(label))" data-frontier="\#(onFrontier)">"#
            svg +=
                onFrontier
                ? ##"<circle cx="\##(n(px))" cy="\##(n(py))" r="5" fill="#1f77b4"/>"##
                : ##"<circle cx="\##(n(px))" cy="\##(n(py))" r="4" fill="white" stroke="#777" stroke-width="1.5"/>"##
            // Nothing lies up and to the left of a frontier point (it would dominate it), so its
            // label goes there, clear of the line; dominated points sit below the line, labels to
            // their lower right. A label that would cross the y axis flips to the right.
            let fitsLeft = px - 8 - Double(label.count) * 7 > plot.left
            svg +=
                onFrontier
                ? text(
                    label, x: fitsLeft ? px - 8 : px + 8, y: py - 9, anchor: fitsLeft ? "end" : "start",
                    extra: ##"fill="#1f4e79""##, newline: false)
                : text(label, x: px + 7, y: py + 16, anchor: "start", extra: ##"fill="#666""##, newline: false)
            svg += "</g>\n"
        }

        // Legend in the band above the plot, where it can hide no point.
        let lx = plot.right - 200
        let ly = plot.top - 12
        svg += ##"<g class="legend"><circle cx="\##(n(lx))" cy="\##(n(ly))" r="5" fill="#1f77b4"/>"##
        svg += text("Pareto frontier", x: lx + 10, y: ly + 4, anchor: "start", newline: false)
        svg += ##"<circle cx="\##(n(lx + 120))" cy="\##(n(ly))" r="4" fill="white" stroke="#777" stroke-width="1.5"/>"##
        svg += text("dominated", x: lx + 130, y: ly + 4, anchor: "start", newline: false) + "</g>\n"
        svg += "</svg>\n"
        return svg
    }

    public func write(to url: URL) throws {
        try Data(svg.utf8).write(to: url, options: .atomic)
    }

    private func n(_ value: Double) -> String { String(format: "%.1f", value) }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) -> String {
        #"<line x1="\#(n(x1))" y1="\#(n(y1))" x2="\#(n(x2))" y2="\#(n(y2))" stroke="\#(stroke)"/>"# + "\n"
    }

    private func text(
        _ content: String, x: Double, y: Double, anchor: String, extra: String = "", newline: Bool = true
    ) -> String {
        let attributes = extra.isEmpty ? "" : " " + extra
        return #"<text x="\#(n(x))" y="\#(n(y))" text-anchor="\#(anchor)"\#(attributes)>\#(escape(content))</text>"#
            + (newline ? "\n" : "")
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A numeric axis: its domain, how a value maps into [0, 1], and labelled ticks.
struct Axis {
    struct Tick: Equatable {
        let value: Double
        let label: String
    }

    let low: Double
    let high: Double
    let logarithmic: Bool
    let ticks: [Tick]

    func fraction(_ value: Double) -> Double {
        if logarithmic {
            let v = max(value, low)
            return (log10(v) - log10(low)) / (log10(high) - log10(low))
        }
        return (value - low) / (high - low)
    }

    /// Ticks at 1, 2, 5 x 10^n, about five of them, the domain widened to whole ticks.
    static func linear(from low: Double, to high: Double) -> Axis {
        let span = high > low ? high - low : max(abs(high), 1) * 0.1
        let rough = span / 5
        let magnitude = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough }!
        let first = floor(low / step) * step
        var last = ceil(high / step) * step
        if last <= first { last = first + 5 * step }
        let decimals = max(0, -Int(floor(log10(step))))
        let count = Int(((last - first) / step).rounded())
        let ticks = (0...count).map { index in
            let value = first + Double(index) * step
            return Tick(value: value, label: String(format: "%.\(decimals)f", value))
        }
        return Axis(low: first, high: last, logarithmic: false, ticks: ticks)
    }

    /// A quality axis: the values' range with 8 % room on each side.
    static func linear(paddedAround values: [Double]) -> Axis {
        let low = values.min()!
        let high = values.max()!
        let pad = high > low ? (high - low) * 0.08 : max(abs(high) * 0.05, 0.01)
        return linear(from: low - pad, to: high + pad)
    }

    /// Whole decades; ticks at 1, 2 and 5 of each.
    static func logarithmic(_ values: [Double]) -> Axis {
        let positive = values.isEmpty ? [1.0] : values
        var lowExponent = floor(log10(positive.min()!))
        var highExponent = ceil(log10(positive.max()!))
        if highExponent <= lowExponent { highExponent = lowExponent + 1 }
        lowExponent = min(lowExponent, highExponent - 1)
        var ticks: [Tick] = []
        var exponent = lowExponent
        while exponent <= highExponent {
            for multiple in [1.0, 2, 5] {
                let value = multiple * pow(10, exponent)
                guard value <= pow(10, highExponent) * 1.000001 else { break }
                let decimals = max(0, -Int(exponent))
                ticks.append(Tick(value: value, label: String(format: "%.\(decimals)f", value)))
            }
            exponent += 1
        }
        return Axis(low: pow(10, lowExponent), high: pow(10, highExponent), logarithmic: true, ticks: ticks)
    }
}
