import Foundation
import Synchronization
import Testing

@testable import LoadTesting

@Suite struct GoodputTests {
    @Test func goodputCountsOnlyCallsAnsweredWithinTheirDeadline() {
        var recorder = LatencyRecorder(deadlineNanos: 100_000_000)
        // Sent at 0 and answered at 50 ms, 100 ms and 150 ms; one refused after 2 ms.
        for done: UInt64 in [50_000_000, 100_000_000, 150_000_000] {
            recorder.record(Sample(intended: 0, sent: 0, done: done, outcome: .success(StageTimings())))
        }
        recorder.record(
            Sample(
                intended: 0, sent: 0, done: 2_000_000,
                outcome: .failure(code: "RESOURCE_EXHAUSTED", backOffNanos: 40_000_000)))
        let report = RunReport(shape: .closed(concurrency: 2), settings: SearchSettings(), recorder: recorder)
        #expect(report.completed == 3 && report.failed == 1)
        #expect(report.deadlineMs == 100)
        #expect(abs(report.throughput - 3 / 0.15) < 1e-9)
        #expect(abs(report.goodput - 2 / 0.15) < 1e-9)
        // The refusal's own time, not the back-off after it.
        #expect(report.failureMicros.count == 1 && report.failureMicros.max == 2000)
        #expect(report.formatted().contains("goodput: 13.3 req/s ok within their 100 ms deadline"))
    }

    @Test func keptSamplesSayWhenEachCallEndedAndHow() async throws {
        let recorder = await runLoad(
            shape: .closed(concurrency: 1), bounds: LoadBounds(requests: 2, durationNanos: nil),
            queries: [BenchQuery(id: "q", text: "q")], keepSamples: true
        ) { query in
            query.id == "q" ? .failure(code: "RESOURCE_EXHAUSTED", backOffNanos: 1_500_000) : .success(StageTimings())
        }
        let samples = try #require(recorder.samples)
        #expect(samples.count == 2 && samples[0].done <= samples[1].sent)
        let line = samples[0].jsonLine(run: "100:20@1")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["run"] as? String == "100:20@1" && object["outcome"] as? String == "RESOURCE_EXHAUSTED")
        #expect(object["pushback_ms"] as? Double == 1.5)
        #expect((object["done_ms"] as? Double ?? -1) >= (object["sent_ms"] as? Double ?? 0))
        // Not kept unless asked: a long run would hold every sample in memory.
        #expect(LatencyRecorder().samples == nil)
    }

    @Test func withoutADeadlineGoodputIsThroughput() {
        var recorder = LatencyRecorder()
        recorder.record(Sample(intended: 0, sent: 0, done: 9_000_000_000, outcome: .success(StageTimings())))
        let report = RunReport(shape: .closed(concurrency: 1), settings: SearchSettings(), recorder: recorder)
        #expect(report.deadlineMs == nil && report.goodput == report.throughput)
        #expect(!report.formatted().contains("goodput"))
    }

    @Test func aClosedLoopCallerWaitsItsBackOffBeforeItsNextCall() async {
        let sendTimes = Mutex<[ContinuousClock.Instant]>([])
        let recorder = await runLoad(
            shape: .closed(concurrency: 1), bounds: LoadBounds(requests: 3, durationNanos: nil),
            queries: [BenchQuery(id: "q", text: "q")]
        ) { _ in
            sendTimes.withLock { $0.append(.now) }
            return .failure(code: "RESOURCE_EXHAUSTED", backOffNanos: 50_000_000)
        }
        let times = sendTimes.withLock { $0 }
        #expect(recorder.failed == 3 && times.count == 3)
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(earlier.duration(to: later) >= .milliseconds(50))
        }
    }
}

@Suite struct MixArgumentTests {
    @Test func aMixListsItsClassesWithCallersOrRates() throws {
        var options = BenchOptions()
        options.mix = "100:50@2, 100:0@20/s"
        options.topN = 5
        let plan = try BenchPlan(options)
        #expect(plan.mix.count == 2)
        #expect(plan.mix.map(\.label) == ["100:50@2", "100:0@20/s"])
        #expect(plan.mix[0].shape == .closed(concurrency: 2))
        #expect(plan.mix.allSatisfy { $0.settings.topN == 5 })
        guard case .open(let schedule, _) = plan.mix[1].shape else {
            Issue.record("a rate gives an open loop")
            return
        }
        #expect(schedule.rate == 20 && schedule.arrivals == .poisson)
    }

    @Test(arguments: [
        ("100:0@2", "--mix needs two or more classes, e.g. \"100:50@2,100:0@2\""),
        ("100:0@2,100:10", "--mix item 2 (\"100:10\") must be retrieve_k:rerank_k@callers or @rate/s, e.g. 100:50@2"),
        ("100:0@2,100:10@0", "--mix item 2 (\"100:10@0\"): \"0\" is not a caller count from 1 to 10000"),
        ("100:0@2,100:10@-3/s", "--mix item 2 (\"100:10@-3/s\"): \"-3/s\" is not a positive rate such as 20/s"),
        (
            "100:0@2,10:20@1",
            "--mix item 2 (\"10:20@1\"): cutoffs (\"10:20\"): rerank_k 20 exceeds retrieve_k 10: only retrieved "
                + "passages can be reranked"
        ),
    ])
    func aBadMixSaysWhatIsWrong(text: String, message: String) {
        var options = BenchOptions()
        options.mix = text
        #expect(throws: BenchError(message)) { try BenchPlan(options) }
    }

    @Test func aMixExcludesTheSingleLoadFlags() {
        var options = BenchOptions()
        options.mix = "100:0@1,100:10@1"
        options.concurrency = 4
        options.rerankK = 3
        #expect(throws: BenchError("--mix sets each class's cutoffs and load itself: drop --concurrency, --rerank-k")) {
            try BenchPlan(options)
        }
    }
}
