import CascadeWire
import Foundation
import Histogram

/// A latency distribution summarised, in microseconds.
public struct LatencySummary: Equatable, Codable, Sendable {
    public var count: UInt64
    public var mean: Double
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64

    public init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        let empty = histogram.totalCount == 0
        mean = empty ? 0 : histogram.mean
        // HdrHistogram reports the highest value equivalent to a bucket; 3 significant digits
        // bound that error to 0.1%.
        p50 = empty ? 0 : histogram.valueAtPercentile(50)
        p90 = empty ? 0 : histogram.valueAtPercentile(90)
        p99 = empty ? 0 : histogram.valueAtPercentile(99)
        p999 = empty ? 0 : histogram.valueAtPercentile(99.9)
        max = empty ? 0 : histogram.max
    }
}

/// Everything one run measured, as printed and as `--json` emits it.
public struct RunReport: Equatable, Codable, Sendable {
    /// "closed" or "open".
    public var mode: String
    public var concurrency: Int?
    public var rate: Double?
    public var arrivals: Arrivals?
    public var maxOutstanding: Int?
    public var settings: SearchSettings
    public var sent: Int
    public var completed: Int
    public var failed: Int
    /// Failed requests by gRPC status code name.
    public var errors: [String: Int]
    /// The first message the server gave with each code.
    public var errorMessages: [String: String]
    public var durationSeconds: Double
    /// Completed (successful) requests per second of the run.
    public var throughput: Double
    /// Each request's deadline in milliseconds (`--deadline-ms`), if it had one.
    public var deadlineMs: Double?
    /// Successful requests answered within their deadline, per second of the run.
    public var goodput: Double
    /// Failed requests, from the send to the error (how fast refusals come back).
    public var failureMicros: LatencySummary
    /// Successful requests, from the intended send time (equal to the send time in a closed loop).
    public var latencyMicros: LatencySummary
    /// Successful requests, from the actual send time: what a naive open-loop benchmark reports.
    public var serviceMicros: LatencySummary
    /// The server's `Timing` per stage.
    public var stageMicros: [String: LatencySummary]

    public init(shape: LoadShape, settings: SearchSettings, recorder: LatencyRecorder) {
        switch shape {
        case .closed(let concurrency):
            mode = "closed"
            self.concurrency = concurrency
        case .open(let schedule, let maxOutstanding):
            mode = "open"
            rate = schedule.rate
            arrivals = schedule.arrivals
            self.maxOutstanding = maxOutstanding
        }
        self.settings = settings
        sent = recorder.sent
        completed = recorder.completed
        failed = recorder.failed
        errors = recorder.errors
        errorMessages = recorder.errorMessages
        durationSeconds = Double(recorder.lastDone) / 1e9
        throughput = durationSeconds > 0 ? Double(recorder.completed) / durationSeconds : 0
        deadlineMs = recorder.deadlineNanos.map { Double($0) / 1e6 }
        goodput = durationSeconds > 0 ? Double(recorder.onTime) / durationSeconds : 0
        failureMicros = LatencySummary(recorder.failureService)
        latencyMicros = LatencySummary(recorder.latency)
        serviceMicros = LatencySummary(recorder.service)
        stageMicros = Dictionary(
            uniqueKeysWithValues: recorder.stages.map { ($0.key.rawValue, LatencySummary($0.value)) })
    }

    /// The human-readable report: a header, then one row per distribution, in milliseconds.
    public func formatted() -> String {
        var lines: [String] = []
        switch mode {
        case "open":
            let rateText = rate.map { String(format: "%g", $0) } ?? "?"
            lines.append(
                "open loop: \(rateText) req/s \(arrivals?.rawValue ?? "") arrivals, "
                    + "at most \(maxOutstanding ?? 0) outstanding; latency from the intended send time")
        default:
            lines.append("closed loop: \(concurrency ?? 0) callers")
        }
        lines.append(
            "settings: retrieve_k:rerank_k \(settings.label), top_n \(settings.topN.map(String.init) ?? "default")")
        lines.append(
            "requests: \(sent) sent, \(completed) ok, \(failed) failed in "
                + String(format: "%.2f s: %.1f req/s", durationSeconds, throughput))
        if let deadlineMs {
            lines.append(
                String(format: "goodput: %.1f req/s ok within their %g ms deadline", goodput, deadlineMs))
        }
        let header = ["", "p50", "p90", "p99", "p99.9", "max", "mean"]
        var rows: [[String]] = [header]
        rows.append(Self.row("latency", latencyMicros))
        if mode == "open" {
            rows.append(Self.row("service (uncorrected)", serviceMicros))
        }
        if failed > 0 {
            rows.append(Self.row("failed calls", failureMicros))
        }
        for stage in Stage.search {
            if let summary = stageMicros[stage.rawValue] {
                rows.append(Self.row(stage == .total ? "server total" : "  \(stage.rawValue)", summary))
            }
        }
        lines.append("latency (ms, successful requests; failed calls apart):")
        lines.append(contentsOf: Table.render(rows))
        if !errors.isEmpty {
            lines.append(
                "errors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            for (code, message) in errorMessages.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(code): \(message)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func row(_ name: String, _ s: LatencySummary) -> [String] {
        [name] + [s.p50, s.p90, s.p99, s.p999, s.max].map(millis) + [String(format: "%.3f", s.mean / 1000)]
    }
}

/// One row per cutoff setting of a sweep.
public struct SweepReport: Equatable, Codable, Sendable {
    public var runs: [RunReport]

    public init(runs: [RunReport]) {
        self.runs = runs
    }

    public func formatted() -> String {
        var rows: [[String]] = [
            ["retrieve:rerank", "ok", "errors", "req/s", "p50 ms", "p99 ms", "rerank p50 ms", "error codes"]
        ]
        for run in runs {
            let codes = run.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            rows.append([
                run.settings.label, String(run.completed), String(run.failed), String(format: "%.1f", run.throughput),
                millis(run.latencyMicros.p50), millis(run.latencyMicros.p99),
                millis(run.stageMicros[Stage.rerank.rawValue]?.p50 ?? 0), codes,
            ])
        }
        return Table.render(rows).joined(separator: "\n")
    }
}

/// The classes of a mixed load, each measured apart.
public struct MixReport: Equatable, Codable, Sendable {
    public var runs: [RunReport]

    public init(runs: [RunReport]) {
        self.runs = runs
    }
}

/// JSON for machines: sorted keys so two runs diff cleanly.
public func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func millis(_ micros: UInt64) -> String {
    String(format: "%.3f", Double(micros) / 1000)
}

enum Table {
    /// Left-aligns the first column, right-aligns the rest.
    static func render(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        return rows.map { row in
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
    }
}
