/// The server's own account of a request, from the response's `Timing`, in microseconds.
public struct StageTimings: Equatable, Sendable {
    public var queue: UInt64
    public var tokenize: UInt64
    public var encode: UInt64
    public var retrieve: UInt64
    public var fetch: UInt64
    public var rerank: UInt64
    public var total: UInt64

    public init(
        queue: UInt64 = 0, tokenize: UInt64 = 0, encode: UInt64 = 0, retrieve: UInt64 = 0, fetch: UInt64 = 0,
        rerank: UInt64 = 0, total: UInt64 = 0
    ) {
        self.queue = queue
        self.tokenize = tokenize
        self.encode = encode
        self.retrieve = retrieve
        self.fetch = fetch
        self.rerank = rerank
        self.total = total
    }

    public subscript(stage: Stage) -> UInt64 {
        switch stage {
        case .queue: queue
        case .tokenize: tokenize
        case .encode: encode
        case .retrieve: retrieve
        case .fetch: fetch
        case .rerank: rerank
        case .total: total
        }
    }
}

/// The server-side stages, in pipeline order; `total` is the server's wall time for the request.
public enum Stage: String, CaseIterable, Codable, Sendable {
    case queue, tokenize, encode, retrieve, fetch, rerank, total
}

/// How a request ended: with the server's timings, or with a gRPC status code name
/// (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`, ...).
public enum Outcome: Equatable, Sendable {
    case success(StageTimings)
    /// `backOffNanos`: how long a closed-loop caller waits before its next call (the server's
    /// retry pushback); not part of this call's time.
    case failure(code: String, backOffNanos: UInt64 = 0)
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
