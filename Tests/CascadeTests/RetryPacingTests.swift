import Testing

@testable import Cascade
@testable import VectorStore

/// `RetryPacing` in a simulated overload: closed-loop callers that honour the wait they are given,
/// in front of a server that finishes one request every 0.4 s.
@Suite struct RetryPacingTests {
    struct Outcome {
        var admitted = 0
        var refused = 0
        /// Seconds the server had a free slot and nobody came.
        var idle = 0.0
    }

    /// Runs `callers` for `seconds` of simulated time, counting only the last half (after the
    /// start-up burst); `paced` false gives each refused caller only its own wait, as before.
    static func simulate(callers: Int, seconds: Double, paced: Bool) -> Outcome {
        let service = 0.4
        let origin = ContinuousClock.now
        var pacing = RetryPacing()
        var random = SplitMix64(seed: 7)
        var next = (0..<callers).map { Double($0) * 0.001 }
        var busyUntil = 0.0
        var outcome = Outcome()
        while true {
            let caller = next.indices.min { next[$0] < next[$1] }!
            let t = next[caller]
            if t > seconds { break }
            let counted = t > seconds / 2
            let now = origin + .seconds(t)
            if busyUntil <= t {
                if counted { outcome.idle += t - max(busyUntil, seconds / 2) }
                busyUntil = t + service
                pacing.admitted(at: now)
                next[caller] = busyUntil
                if counted { outcome.admitted += 1 }
            } else {
                let own = busyUntil - t
                let wait = paced ? pacing.refused(at: now, atLeast: own, unit: random.unitInterval()) : own
                next[caller] = t + wait
                if counted { outcome.refused += 1 }
            }
        }
        return outcome
    }

    @Test func refusalsRunAtAboutTheAdmissionRateAndTheServerStaysBusy() {
        let unpaced = Self.simulate(callers: 64, seconds: 120, paced: false)
        let paced = Self.simulate(callers: 64, seconds: 120, paced: true)
        // 60 s at one request per 0.4 s: 150 admissions when the server never waits for callers.
        #expect(unpaced.refused > 20 * unpaced.admitted, "\(unpaced)")
        #expect(paced.refused < 3 * paced.admitted, "\(paced)")
        #expect(paced.admitted >= 135, "the server waited for callers: \(paced)")
        #expect(paced.idle < 6, "\(paced)")
    }

    @Test func aLoneRefusalWaitsAboutItsOwnWorkAndNoWaitPassesTheLongest() {
        let now = ContinuousClock.now
        var pacing = RetryPacing()
        let first = pacing.refused(at: now, atLeast: 0.4, unit: 0.5)
        #expect(abs(first - 0.4) < 1e-9)
        for i in 0..<10_000 {
            let wait = pacing.refused(at: now + .milliseconds(i), atLeast: 0.4, unit: 0.999)
            #expect(wait <= RetryPacing.longest)
        }
    }
}
