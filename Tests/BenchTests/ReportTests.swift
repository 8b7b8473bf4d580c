import CascadeWire
import Foundation
import Testing

@testable import LoadTesting

@Suite struct ReportTests {
    static func recorder() -> LatencyRecorder {
        var recorder = LatencyRecorder()
        for i in 1...10 as ClosedRange<UInt64> {
            let timings = StageTimings([
                .queue: 10, .tokenize: 20, .encode: 1000, .retrieve: 300, .fetch: 40, .total: 1400,
            ])
            recorder.record(
                Sample(
                    intended: i * 1_000_000, sent: i * 1_000_000, done: i * 1_000_000 + 2_000_000,
                    outcome: .success(timings)))
        }
        recorder.record(Sample(intended: 0, sent: 0, done: 12_000_000, outcome: .failure(code: "UNAVAILABLE")))
        recorder.record(Sample(intended: 0, sent: 0, done: 3_000, outcome: .failure(code: "DEADLINE_EXCEEDED")))
        return recorder
    }

    @Test func throughputCountsCompletedRequestsOverTheRun() {
        let report = RunReport(
            shape: .closed(concurrency: 4), settings: SearchSettings(retrieveK: 100, rerankK: 10),
            recorder: Self.recorder())
        #expect(report.sent == 12)
        #expect(report.completed == 10)
        #expect(report.failed == 2)
        // 10 successes in the 12 ms the run lasted.
        #expect(report.durationSeconds == 0.012)
        #expect(abs(report.throughput - 10 / 0.012) < 1e-6)
    }

    @Test func theServersMessageIsKeptOncePerCode() {
        var recorder = LatencyRecorder()
        for message in ["retrieve_k must be in 1...1000, got 5000", "another", ""] {
            recorder.record(
                Sample(intended: 0, sent: 0, done: 1_000, outcome: .failure(code: "INVALID_ARGUMENT", message: message))
            )
        }
        recorder.record(Sample(intended: 0, sent: 0, done: 1_000, outcome: .failure(code: "UNAVAILABLE")))
        var other = LatencyRecorder()
        other.record(Sample(intended: 0, sent: 0, done: 1_000, outcome: .failure(code: "UNAVAILABLE", message: "gone")))
        recorder.merge(other)
        let report = RunReport(shape: .closed(concurrency: 1), settings: SearchSettings(), recorder: recorder)
        #expect(
            report.errorMessages == [
                "INVALID_ARGUMENT": "retrieve_k must be in 1...1000, got 5000", "UNAVAILABLE": "gone",
            ])
        let text = report.formatted()
        #expect(
            text.contains(
                "errors: INVALID_ARGUMENT 3, UNAVAILABLE 2\n  INVALID_ARGUMENT: retrieve_k must be in 1...1000, got 5000\n  UNAVAILABLE: gone"
            ), "\(text)")
    }

    @Test func theTextReportShowsEveryRowAndTheErrors() {
        let report = RunReport(
            shape: .closed(concurrency: 4), settings: SearchSettings(retrieveK: 100, rerankK: 10, topN: 5),
            recorder: Self.recorder())
        let text = report.formatted()
        #expect(text.contains("closed loop: 4 callers"))
        #expect(text.contains("retrieve_k:rerank_k 100:10, top_n 5"))
        #expect(text.contains("12 sent, 10 ok, 2 failed"))
        #expect(text.contains("errors: DEADLINE_EXCEEDED 1, UNAVAILABLE 1"))
        for row in [
            "latency", "  queue", "  tokenize", "  encode", "  retrieve", "  fetch", "  rerank", "server total",
        ] {
            #expect(text.contains("\n" + row + " "), "no row \(row)")
        }
        // The naive measure is shown only where it can differ: in an open loop.
        #expect(!text.contains("service (uncorrected)"))
        #expect(text.contains("2.000"))
    }

    @Test func theJSONReportRoundTrips() throws {
        let schedule = try ArrivalSchedule(rate: 20, arrivals: .poisson)
        let report = RunReport(
            shape: .open(schedule: schedule, maxOutstanding: 64), settings: SearchSettings(retrieveK: 50),
            recorder: Self.recorder())
        #expect(report.formatted().contains("service (uncorrected)"))
        let text = try jsonText(report)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(object?["mode"] as? String == "open")
        #expect(object?["arrivals"] as? String == "poisson")
        #expect((object?["errors"] as? [String: Int]) == ["UNAVAILABLE": 1, "DEADLINE_EXCEEDED": 1])
        let latency = object?["latencyMicros"] as? [String: Any]
        #expect(Set(latency?.keys.map { $0 } ?? []) == ["count", "mean", "p50", "p90", "p99", "p999", "max"])
        #expect(try JSONDecoder().decode(RunReport.self, from: Data(text.utf8)) == report)
    }

    @Test func aSweepHasOneRowPerSetting() throws {
        let runs = try Sweep.parse("100:0,100:10").map {
            RunReport(shape: .closed(concurrency: 1), settings: $0, recorder: Self.recorder())
        }
        let lines = SweepReport(runs: runs).formatted().split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("retrieve:rerank"))
        #expect(lines[1].hasPrefix("100:0 "))
        #expect(lines[2].hasPrefix("100:10 "))
        #expect(lines[2].hasSuffix("DEADLINE_EXCEEDED 1, UNAVAILABLE 1"))
        let json = try jsonText(SweepReport(runs: runs))
        #expect(try JSONDecoder().decode(SweepReport.self, from: Data(json.utf8)).runs.count == 2)
    }
}
