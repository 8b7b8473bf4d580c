import Testing

@testable import Server

@Suite struct HealthStatusTests {
    @Test func watchSeesCurrentThenChangesThenEndsOnClose() async {
        let health = HealthStatus()
        health.set(.serving, for: "")
        let (updates, _) = health.watch("")
        var iterator = updates.makeAsyncIterator()
        #expect(await iterator.next() == .serving)
        health.set(.notServing, for: "")
        #expect(await iterator.next() == .notServing)
        health.close()
        #expect(await iterator.next() == .notServing)
        #expect(await iterator.next() == nil)
    }

    @Test func unknownServiceIsServiceUnknownForWatchAndNilForCheck() async {
        let health = HealthStatus()
        #expect(health.status(of: "nope") == nil)
        let (updates, stop) = health.watch("nope")
        var iterator = updates.makeAsyncIterator()
        #expect(await iterator.next() == .serviceUnknown)
        stop()
        #expect(await iterator.next() == nil)
    }

    @Test func closeMarksEverythingNotServing() {
        let health = HealthStatus()
        health.set(.serving, for: "")
        health.set(.serving, for: "cascade.v1.Cascade")
        health.close()
        #expect(health.all == ["": .notServing, "cascade.v1.Cascade": .notServing])
    }
}
