import Synchronization
import Testing

@testable import LoadTesting

/// The runner's bookkeeping (how many requests, which queries, what gets recorded), driven by a
/// send function that answers at once. What it measures against a server is cascade-bench's job.
@Suite struct LoadRunnerTests {
    static let queries = [BenchQuery(id: "a", text: "alpha"), BenchQuery(id: "b", text: "beta")]

    final class Seen: Sendable {
        let texts = Mutex<[String]>([])
        let calls = Atomic<Int>(0)
    }

    @Test func aClosedLoopSendsExactlyTheRequestedNumberRoundRobin() async {
        let seen = Seen()
        let recorder = await runLoad(
            shape: .closed(concurrency: 3), bounds: LoadBounds(requests: 10, durationNanos: nil),
            queries: Self.queries
        ) { query in
            seen.texts.withLock { $0.append(query.text) }
            return .success(StageTimings(total: 5))
        }
        #expect(recorder.completed == 10)
        #expect(recorder.failed == 0)
        let texts = seen.texts.withLock { $0 }
        #expect(texts.filter { $0 == "alpha" }.count == 5)
        #expect(texts.filter { $0 == "beta" }.count == 5)
        #expect(recorder.stages[.total]?.totalCount == 10)
    }

    @Test func anOpenLoopSendsTheScheduledRequestsAndCountsFailures() async throws {
        let schedule = try ArrivalSchedule(rate: 10_000, arrivals: .poisson)
        let seen = Seen()
        let recorder = await runLoad(
            shape: .open(schedule: schedule, maxOutstanding: 2), bounds: LoadBounds(requests: 20, durationNanos: nil),
            queries: Self.queries
        ) { _ in
            let n = seen.calls.wrappingAdd(1, ordering: .relaxed).oldValue
            return n % 4 == 0 ? .failure(code: "RESOURCE_EXHAUSTED") : .success(StageTimings())
        }
        #expect(recorder.sent == 20)
        #expect(recorder.errors == ["RESOURCE_EXHAUSTED": 5])
        #expect(recorder.completed == 15)
    }

    @Test func aDurationAloneEndsARun() async throws {
        let schedule = try ArrivalSchedule(rate: 1000, arrivals: .uniform)
        // 1000/s for 20 ms: the arrivals at 0, 1, ..., 19 ms.
        let recorder = await runLoad(
            shape: .open(schedule: schedule, maxOutstanding: 100),
            bounds: LoadBounds(requests: nil, durationNanos: 20_000_000), queries: Self.queries
        ) { _ in .success(StageTimings()) }
        #expect(recorder.sent == 20)
    }
}
