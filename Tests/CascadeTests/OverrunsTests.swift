import Testing

@testable import Cascade

/// Admission's margin: the most that recent requests took longer than estimated.
@Suite struct OverrunsTests {
    @Test func startsAtTheFloorAndFollowsTheSlowTail() {
        var overruns = Overruns()
        #expect(overruns.headroom() == Overruns.floor)
        // Nine on time, one 3x late.
        for _ in 0..<9 { overruns.observe(estimate: 1, took: 1) }
        overruns.observe(estimate: 1, took: 3)
        #expect(overruns.headroom() == 3)
        // A window of on-time requests pushes the late one out.
        for _ in 0..<Overruns.window { overruns.observe(estimate: 1, took: 0.9) }
        #expect(overruns.headroom() == Overruns.floor)
    }

    @Test func isBoundedAndIgnoresCheapRequests() {
        var overruns = Overruns()
        for _ in 0..<20 { overruns.observe(estimate: 1, took: 100) }
        #expect(overruns.headroom() == Overruns.ceiling)
        var cheap = Overruns()
        // Milliseconds of fixed overhead on a 10 ms estimate say nothing about a long request.
        for _ in 0..<20 { cheap.observe(estimate: 0.01, took: 0.05) }
        #expect(cheap.headroom() == Overruns.floor)
    }

    @Test func forgetsRatiosOlderThanItsMemory() {
        var overruns = Overruns()
        let then = ContinuousClock.now
        overruns.observe(estimate: 1, took: 3, at: then)
        #expect(overruns.headroom(at: then + Overruns.memory - .seconds(1)) == 3)
        // Learnt while the machine was slow, it must not refuse callers once it is not.
        #expect(overruns.headroom(at: then + Overruns.memory) == Overruns.floor)
    }
}
