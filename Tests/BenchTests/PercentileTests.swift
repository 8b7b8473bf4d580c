import CascadeWire
import Testing

@testable import LoadTesting

/// HdrHistogram with three significant digits reports a bucket's highest equivalent value: within 0.1%.
func expectClose(_ actual: UInt64, _ expected: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
    let tolerance = max(1, Double(expected) * 0.001)
    #expect(
        abs(Double(actual) - Double(expected)) <= tolerance, "\(actual) is not within 0.1% of \(expected)",
        sourceLocation: sourceLocation)
}

@Suite struct PercentileTests {
    @Test func percentilesOfOneToAThousandMilliseconds() {
        var recorder = LatencyRecorder()
        // Shuffled order: percentiles must not depend on arrival order.
        for ms in (1...1000 as ClosedRange<UInt64>).shuffled() {
            let start = ms * 10_000_000
            recorder.record(
                Sample(intended: start, sent: start, done: start + ms * 1_000_000, outcome: .success(StageTimings())))
        }
        let summary = LatencySummary(recorder.latency)
        #expect(summary.count == 1000)
        expectClose(summary.p50, 500_000)
        expectClose(summary.p90, 900_000)
        expectClose(summary.p99, 990_000)
        expectClose(summary.p999, 999_000)
        expectClose(summary.max, 1_000_000)
        #expect(abs(summary.mean - 500_500) < 500_500 * 0.001)
    }

    @Test func stagesComeFromTheServerTimings() {
        var recorder = LatencyRecorder()
        for i in 1...100 as ClosedRange<UInt64> {
            let timings = StageTimings([
                .queue: i, .tokenize: 2 * i, .encode: 3 * i, .retrieve: 4 * i, .fetch: 5 * i, .rerank: 0,
                .total: 20 * i,
            ])
            recorder.record(Sample(intended: 0, sent: 0, done: 1_000_000, outcome: .success(timings)))
        }
        let report = RunReport(shape: .closed(concurrency: 1), settings: SearchSettings(), recorder: recorder)
        #expect(report.stageMicros.keys.sorted() == Stage.search.map(\.rawValue).sorted())
        #expect(report.stageMicros["queue"]?.p50 == 50)
        #expect(report.stageMicros["encode"]?.p99 == 297)
        #expect(report.stageMicros["total"]?.max == 2000)
        #expect(report.stageMicros["rerank"]?.max == 0)
    }

    @Test func failuresAreCountedByCodeAndKeptOutOfLatency() {
        var recorder = LatencyRecorder()
        recorder.record(Sample(intended: 0, sent: 0, done: 5_000_000, outcome: .success(StageTimings())))
        recorder.record(Sample(intended: 0, sent: 0, done: 1_000, outcome: .failure(code: "RESOURCE_EXHAUSTED")))
        recorder.record(Sample(intended: 0, sent: 0, done: 9_000_000_000, outcome: .failure(code: "UNAVAILABLE")))
        recorder.record(Sample(intended: 0, sent: 0, done: 2_000, outcome: .failure(code: "RESOURCE_EXHAUSTED")))
        #expect(recorder.completed == 1)
        #expect(recorder.failed == 3)
        #expect(recorder.sent == 4)
        #expect(recorder.errors == ["RESOURCE_EXHAUSTED": 2, "UNAVAILABLE": 1])
        #expect(recorder.latency.totalCount == 1)
        expectClose(recorder.latency.max, 5000)
        // The run lasted until its last answer, failed or not.
        #expect(recorder.lastDone == 9_000_000_000)
    }

    @Test func mergingRecordersAddsTheirCounts() {
        var a = LatencyRecorder()
        var b = LatencyRecorder()
        a.record(Sample(intended: 0, sent: 0, done: 1_000_000, outcome: .success(StageTimings([.total: 900]))))
        b.record(Sample(intended: 0, sent: 0, done: 3_000_000, outcome: .success(StageTimings([.total: 2900]))))
        b.record(Sample(intended: 0, sent: 0, done: 4_000_000, outcome: .failure(code: "INTERNAL")))
        a.merge(b)
        #expect(a.completed == 2)
        #expect(a.errors == ["INTERNAL": 1])
        #expect(a.latency.totalCount == 2)
        expectClose(a.latency.max, 3000)
        #expect(a.stages[.total]?.totalCount == 2)
        #expect(a.lastDone == 4_000_000)
    }

    @Test func latenciesBeyondAnHourAreClampedNotDropped() {
        var recorder = LatencyRecorder()
        recorder.record(Sample(intended: 0, sent: 0, done: 7_200_000_000_000, outcome: .success(StageTimings())))
        #expect(recorder.latency.totalCount == 1)
        expectClose(recorder.latency.max, LatencyRecorder.highestTrackableMicros)
    }

    @Test func statusCodeNames() {
        #expect(StatusCodes.name(3) == "INVALID_ARGUMENT")
        #expect(StatusCodes.name(8) == "RESOURCE_EXHAUSTED")
        #expect(StatusCodes.name(14) == "UNAVAILABLE")
        #expect(StatusCodes.name(16) == "UNAUTHENTICATED")
        #expect(StatusCodes.name(42) == "STATUS_42")
    }
}
