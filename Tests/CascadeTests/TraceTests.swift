import Testing

@testable import Cascade

@Suite struct TraceTests {
    @Test func microsecondsRoundDown() {
        var trace = Trace()
        trace.encode = .nanoseconds(1_999)
        trace.rerank = .seconds(2) + .microseconds(5)
        #expect(trace.microseconds(.encode) == 1)
        #expect(trace.microseconds(.rerank) == 2_000_005)
        #expect(trace.microseconds(.queue) == 0)
    }

    @Test func subscriptCoversEveryStage() {
        var trace = Trace()
        for (index, stage) in Stage.allCases.enumerated() { trace[stage] = .microseconds(index + 1) }
        #expect(Stage.allCases.map { trace.microseconds($0) } == Array(1...UInt64(Stage.allCases.count)))
    }

    @Test func addSumsStages() {
        var a = Trace()
        a.queue = .microseconds(3)
        var b = Trace()
        b.queue = .microseconds(4)
        b.fetch = .microseconds(7)
        a.add(b)
        #expect(a.microseconds(.queue) == 7)
        #expect(a.microseconds(.fetch) == 7)
    }

    @Test func stageNamesAreTheWireNames() {
        #expect(
            Stage.allCases.map(\.rawValue) == [
                "queue", "tokenize", "encode", "retrieve", "fetch", "rerank", "write", "total",
            ])
    }
}
