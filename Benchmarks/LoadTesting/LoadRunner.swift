import Synchronization

/// How load is offered.
public enum LoadShape: Sendable, Equatable {
    /// `concurrency` callers, each sending its next request as soon as the last one answered.
    /// The server sets the pace, so this measures capacity, not latency under a given load.
    case closed(concurrency: Int)
    /// Requests sent on `schedule` whatever the server does, at most `maxOutstanding` unanswered
    /// at once (beyond that the sender waits, and the wait counts in the latency).
    case open(schedule: ArrivalSchedule, maxOutstanding: Int)
}

extension ArrivalSchedule: Equatable {
    public static func == (lhs: ArrivalSchedule, rhs: ArrivalSchedule) -> Bool {
        lhs.rate == rhs.rate && lhs.arrivals == rhs.arrivals && lhs.seed == rhs.seed
    }
}

/// When a run stops: after `requests` requests, after `durationNanos`, or whichever comes first.
public struct LoadBounds: Equatable, Sendable {
    public var requests: Int?
    public var durationNanos: UInt64?

    public init(requests: Int?, durationNanos: UInt64?) {
        self.requests = requests
        self.durationNanos = durationNanos
    }
}

/// Sends one query and says how it ended. The runner times it.
public typealias SendQuery = @Sendable (BenchQuery) async -> Outcome

/// Drives `send` in the given shape until the bounds are reached and returns what it recorded.
/// Queries are used round-robin. Every request it starts is awaited before it returns, so the
/// caller's per-request deadline is what bounds a run against a dead server.
public func runLoad(
    shape: LoadShape, bounds: LoadBounds, queries: [BenchQuery], deadlineNanos: UInt64? = nil,
    keepSamples: Bool = false, send: @escaping SendQuery
) async -> LatencyRecorder {
    precondition(!queries.isEmpty, "runLoad needs at least one query")
    precondition(bounds.requests != nil || bounds.durationNanos != nil, "runLoad needs a request count or duration")
    let run = RunState(deadlineNanos: deadlineNanos, keepSamples: keepSamples)
    switch shape {
    case .closed(let concurrency):
        await runClosed(concurrency: concurrency, bounds: bounds, queries: queries, send: send, run: run)
    case .open(let schedule, let maxOutstanding):
        await runOpen(
            schedule: schedule, maxOutstanding: maxOutstanding, bounds: bounds, queries: queries, send: send,
            run: run)
    }
    return run.recorder.withLock { $0 }
}

private final class RunState: Sendable {
    let clock = ContinuousClock()
    let start: ContinuousClock.Instant
    let recorder: Mutex<LatencyRecorder>
    let issued = Atomic<Int>(0)

    init(deadlineNanos: UInt64?, keepSamples: Bool) {
        start = clock.now
        recorder = Mutex(LatencyRecorder(deadlineNanos: deadlineNanos, keepSamples: keepSamples))
    }

    func elapsedNanos() -> UInt64 {
        let elapsed = (clock.now - start).components
        return UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000)
    }

    /// Returns how long the caller should back off before its next call.
    @discardableResult
    func timedSend(_ query: BenchQuery, intended: UInt64?, send: SendQuery) async -> UInt64 {
        let sent = elapsedNanos()
        let outcome = await send(query)
        let done = elapsedNanos()
        let sample = Sample(intended: intended ?? sent, sent: sent, done: done, outcome: outcome)
        recorder.withLock { $0.record(sample) }
        if case .failure(_, _, let backOff) = outcome { return backOff }
        return 0
    }
}

private func runClosed(
    concurrency: Int, bounds: LoadBounds, queries: [BenchQuery], send: @escaping SendQuery, run: RunState
) async {
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<max(1, concurrency) {
            group.addTask {
                while true {
                    if let limit = bounds.durationNanos, run.elapsedNanos() >= limit { return }
                    let index = run.issued.wrappingAdd(1, ordering: .relaxed).oldValue
                    if let limit = bounds.requests, index >= limit { return }
                    let backOff = await run.timedSend(queries[index % queries.count], intended: nil, send: send)
                    var wait = backOff
                    // A pushback longer than the run is cut at its end, so the run ends on time.
                    if let limit = bounds.durationNanos {
                        let now = run.elapsedNanos()
                        wait = now < limit ? min(wait, limit - now) : 0
                    }
                    if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(clamping: wait))) }
                }
            }
        }
    }
}

private func runOpen(
    schedule: ArrivalSchedule, maxOutstanding: Int, bounds: LoadBounds, queries: [BenchQuery],
    send: @escaping SendQuery, run: RunState
) async {
    await withTaskGroup(of: Void.self) { group in
        var outstanding = 0
        var index = 0
        for intended in schedule {
            if let limit = bounds.requests, index >= limit { break }
            if let limit = bounds.durationNanos, intended >= limit { break }
            let due = run.start.advanced(by: .nanoseconds(Int64(clamping: intended)))
            if run.clock.now < due {
                try? await Task.sleep(until: due, clock: run.clock)
            }
            // A finished task holds its slot until collected here; that keeps memory bounded
            // by maxOutstanding even when nothing is ever waited for.
            while outstanding >= max(1, maxOutstanding) {
                await group.next()
                outstanding -= 1
            }
            let query = queries[index % queries.count]
            group.addTask { await run.timedSend(query, intended: intended, send: send) }
            outstanding += 1
            index += 1
        }
    }
}
