// `Stage`, the one list of stages, is the wire's (clients share it); users of the pipeline get it with it.
@_exported import CascadeWire

/// One stretch of a request's time, kept so a tracer can turn it into a span: the stage, when it
/// began and ended, and counts that say how much work it was (tokens, hits, pairs).
public struct StageSpan: Sendable, Equatable {
    public var stage: Stage
    public var start: ContinuousClock.Instant
    public var end: ContinuousClock.Instant
    public var attributes: [String: Int]
    /// The model batches that ran this stage's work (each rerank batch holding some of the
    /// request's pairs, say), for a child span each.
    public var batches: [StageSpan]

    public init(
        stage: Stage, start: ContinuousClock.Instant, end: ContinuousClock.Instant, attributes: [String: Int] = [:],
        batches: [StageSpan] = []
    ) {
        self.stage = stage
        self.start = start
        self.end = end
        self.attributes = attributes
        self.batches = batches
    }
}

/// Where one request's time went. Stages it did not run stay zero. `queue` is time spent waiting
/// for the model thread, summed over every model run the request made. `spans` holds the same
/// stages as intervals, in the order they ended (a stage that ran twice, like tokenize for the
/// query and then for the rerank pairs, has two).
public struct Trace: Sendable, Equatable {
    public var queue: Duration = .zero
    public var tokenize: Duration = .zero
    public var encode: Duration = .zero
    public var retrieve: Duration = .zero
    public var fetch: Duration = .zero
    public var rerank: Duration = .zero
    public var write: Duration = .zero
    public var total: Duration = .zero
    public var spans: [StageSpan] = []
    /// Counts that describe the whole request (its cutoffs, how many hits), for its span.
    public var attributes: [String: Int] = [:]

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

    /// Runs `body`, adds its wall time to `stage` and records it as a span.
    public mutating func measure<T>(
        _ stage: Stage, attributes: [String: Int] = [:], _ body: () throws -> T
    ) rethrows -> T {
        let start = ContinuousClock.now
        defer {
            let end = ContinuousClock.now
            self[stage] += start.duration(to: end)
            spans.append(StageSpan(stage: stage, start: start, end: end, attributes: attributes))
        }
        return try body()
    }

    /// Records a span whose time was measured elsewhere (by the scheduler's thread, say); the
    /// stage's duration is left to the caller, which may sum several.
    public mutating func mark(
        _ stage: Stage, from start: ContinuousClock.Instant, to end: ContinuousClock.Instant,
        attributes: [String: Int] = [:], batches: [StageSpan] = []
    ) {
        spans.append(
            StageSpan(stage: stage, start: start, end: max(start, end), attributes: attributes, batches: batches))
    }

    /// Adds every stage of `other` to this trace (`total` included) and takes its spans.
    public mutating func add(_ other: Trace) {
        for stage in Stage.allCases { self[stage] += other[stage] }
        spans += other.spans
    }
}
