import Testing

@testable import LoadTesting

/// A server that answers one request at a time in 1 ms, except one that stalls it for 2 s, offered
/// 100 requests/s on a uniform schedule. Times are simulated, so nothing here depends on the clock.
@Suite struct CoordinatedOmissionTests {
    static let interval: UInt64 = 10_000_000
    static let service: UInt64 = 1_000_000
    static let stall: UInt64 = 2_000_000_000
    static let stalled = 500

    /// The sender may have one request outstanding, so during the stall it cannot send:
    /// each request goes out when the schedule says or when the previous one answered, if later.
    static func blockedSender() throws -> [Sample] {
        var samples: [Sample] = []
        var previousDone: UInt64 = 0
        for (i, intended) in try ArrivalSchedule(rate: 100, arrivals: .uniform).prefix(1000).enumerated() {
            let sent = max(intended, previousDone)
            let done = sent + (i == stalled ? stall : service)
            samples.append(Sample(intended: intended, sent: sent, done: done, outcome: .success(StageTimings())))
            previousDone = done
        }
        return samples
    }

    @Test func theStallShowsInTheCorrectedPercentilesOnly() throws {
        let samples = try Self.blockedSender()
        #expect(samples[0].intended == 0)
        #expect(samples[Self.stalled + 1].intended == 5_010_000_000)
        // The request after the stall left 1.99 s late: that wait is the omission.
        #expect(samples[Self.stalled + 1].sent == 7_000_000_000)

        var recorder = LatencyRecorder()
        samples.forEach { recorder.record($0) }
        let corrected = LatencySummary(recorder.latency)
        let naive = LatencySummary(recorder.service)

        // Measured from the actual send, one slow request in a thousand: p99 looks like 1 ms.
        expectClose(naive.p50, 1000)
        expectClose(naive.p99, 1000)
        expectClose(naive.max, 2_000_000)

        // Measured from the intended send, every request scheduled during the stall waited for it.
        let delayed = samples.filter { $0.latencyNanos > 100_000_000 }.count
        #expect(delayed > 150, "\(delayed) requests waited more than 100 ms")
        #expect(corrected.p90 > 100_000, "corrected p90 \(corrected.p90) µs")
        #expect(corrected.p99 > 1_500_000, "corrected p99 \(corrected.p99) µs")
        expectClose(corrected.max, 2_000_000)
        expectClose(corrected.p50, 1000)
    }

    @Test func withoutAStallBothMeasuresAgree() throws {
        var recorder = LatencyRecorder()
        var previousDone: UInt64 = 0
        for intended in try ArrivalSchedule(rate: 100, arrivals: .uniform).prefix(1000) {
            let sent = max(intended, previousDone)
            previousDone = sent + Self.service
            recorder.record(
                Sample(intended: intended, sent: sent, done: previousDone, outcome: .success(StageTimings())))
        }
        #expect(LatencySummary(recorder.latency) == LatencySummary(recorder.service))
    }

    @Test func aClosedLoopSampleHasNoOmissionToCorrect() {
        let sample = Sample(intended: 5, sent: 5, done: 1_000_005, outcome: .success(StageTimings()))
        #expect(sample.latencyNanos == sample.serviceNanos)
    }

    @Test func timesOutOfOrderAreClampedRatherThanWrappingAround() {
        // A send recorded before its intended time (clock granularity) must not underflow.
        let sample = Sample(intended: 2_000, sent: 1_000, done: 1_500, outcome: .success(StageTimings()))
        #expect(sample.sent == 2_000)
        #expect(sample.latencyNanos == 0)
        #expect(sample.serviceNanos == 0)
    }
}
