import CascadeWire

/// The server's own account of a request, from the response's `Timing`, in microseconds.
public struct StageTimings: Equatable, Sendable {
    private var micros: [Stage: UInt64]

    /// Stages not given are zero.
    public init(_ micros: [Stage: UInt64] = [:]) {
        self.micros = micros
    }

    /// Each search stage's time, as `micros` gives it (e.g. a response's `Timing`).
    public init(_ micros: (Stage) -> UInt64) {
        self.micros = Dictionary(uniqueKeysWithValues: Stage.search.map { ($0, micros($0)) })
    }

    public subscript(stage: Stage) -> UInt64 { micros[stage] ?? 0 }
}

extension Stage {
    /// The stages a Search reports, in pipeline order: all but `write` (a search writes nothing);
    /// `total` is the server's wall time for the request.
    public static let search = allCases.filter { $0 != .write }
}

/// How a request ended: with the server's timings, or with a gRPC status code name
/// (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`, ...) and the server's message.
public enum Outcome: Equatable, Sendable {
    case success(StageTimings)
    /// `backOffNanos`: how long a closed-loop caller waits before its next call (the server's
    /// retry pushback); not part of this call's time.
    case failure(code: String, message: String = "", backOffNanos: UInt64 = 0)
}

/// One request's times, in nanoseconds from the start of its run.
///
/// `intended` is when the schedule said to send it and `sent` when it actually went out. In a
/// closed loop they are the same; in an open loop `sent` lags `intended` whenever the sender had
/// to wait (too many requests outstanding, or a late wake-up), and that lag is the server's queueing
/// that a naive benchmark hides: coordinated omission.
public struct Sample: Equatable, Sendable {
    public var intended: UInt64
    public var sent: UInt64
    public var done: UInt64
    public var outcome: Outcome

    public init(intended: UInt64, sent: UInt64, done: UInt64, outcome: Outcome) {
        self.intended = intended
        self.sent = max(sent, intended)
        self.done = max(done, self.sent)
        self.outcome = outcome
    }

    /// What a user sees: from the intended send time to the answer (coordinated omission corrected).
    public var latencyNanos: UInt64 { done - intended }

    /// From the actual send to the answer: what a naive benchmark reports.
    public var serviceNanos: UInt64 { done - sent }
}

extension Sample {
    /// One JSON line for `cascade-bench --samples`: times in milliseconds from the start of the run
    /// named `run`, the outcome (`OK` or a status code name) and any pushback the caller honoured.
    public func jsonLine(run: String) -> String {
        func ms(_ nanos: UInt64) -> String { String(format: "%.3f", Double(nanos) / 1e6) }
        var fields = [
            "\"run\":\"\(run)\"", "\"intended_ms\":\(ms(intended))", "\"sent_ms\":\(ms(sent))",
            "\"done_ms\":\(ms(done))",
        ]
        switch outcome {
        case .success: fields.append("\"outcome\":\"OK\"")
        case .failure(let code, _, let backOff):
            fields.append("\"outcome\":\"\(code)\"")
            if backOff > 0 { fields.append("\"pushback_ms\":\(ms(backOff))") }
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}
