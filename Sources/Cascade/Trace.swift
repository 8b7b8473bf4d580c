/// The stages a request's time is split into. The names are the wire names (proto `Timing`,
/// Prometheus `stage` label, log keys).
public enum Stage: String, CaseIterable, Sendable {
    case queue, tokenize, encode, retrieve, fetch, rerank, write, total
}

/// Where one request's time went. Stages it did not run stay zero. `queue` is time spent waiting
/// for the model thread, summed over every model run the request made.
public struct Trace: Sendable, Equatable {
    public var queue: Duration = .zero
    public var tokenize: Duration = .zero
    public var encode: Duration = .zero
    public var retrieve: Duration = .zero
    public var fetch: Duration = .zero
    public var rerank: Duration = .zero
    public var write: Duration = .zero
    public var total: Duration = .zero

    public init() {}

    public subscript(stage: Stage) -> Duration {
        get {
            switch stage {
            case .queue: return queue
            case .tokenize: return tokenize
            case .encode: return encode
            case .retrieve: return retrieve
            case .fetch: return fetch
            case .rerank: return rerank
            case .write: return write
            case .total: return total
            }
        }
        set {
            switch stage {
            case .queue: queue = newValue
            case .tokenize: tokenize = newValue
            case .encode: encode = newValue
            case .retrieve: retrieve = newValue
            case .fetch: fetch = newValue
            case .rerank: rerank = newValue
            case .write: write = newValue
            case .total: total = newValue
            }
        }
    }

    /// Whole microseconds, rounded down (the proto's unit).
    public func microseconds(_ stage: Stage) -> UInt64 {
        let (seconds, attoseconds) = self[stage].components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }

    /// Runs `body` and adds its wall time to `stage`.
    public mutating func measure<T>(_ stage: Stage, _ body: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        defer { self[stage] += start.duration(to: .now) }
        return try body()
    }

    /// Adds every stage of `other` to this trace (`total` included).
    public mutating func add(_ other: Trace) {
        for stage in Stage.allCases { self[stage] += other[stage] }
    }
}
