import Testing

@testable import Cascade

@Suite struct RerankCacheTests {
    static func key(_ id: Int, text: String = "text", query: String = "query") -> RerankCache.Key {
        RerankCache.Key(model: "m", query: query, passageID: "p\(id)", text: text)
    }

    @Test func returnsWhatWasStoredAndNothingForOtherKeys() {
        let cache = RerankCache(capacityBytes: 1 << 20)
        cache.insert([(key: Self.key(1), score: 1.5), (key: Self.key(2), score: -2)])
        #expect(cache.scores(for: [Self.key(1), Self.key(2), Self.key(3)]) == [1.5, -2, nil])
        // Another text of the same passage, or another query, is another key.
        #expect(cache.scores(for: [Self.key(1, text: "new text"), Self.key(1, query: "other")]) == [nil, nil])
    }

    @Test func staysWithinItsBytesAndKeepsWhatIsUsed() {
        let capacity = 64 << 10
        let cache = RerankCache(capacityBytes: capacity)
        cache.insert([(key: Self.key(0), score: 7)])
        for id in 1...10_000 {
            cache.insert([(key: Self.key(id), score: Float(id))])
            // A hit keeps key 0 in the young generation.
            if id % 100 == 0 { #expect(cache.scores(for: [Self.key(0)]) == [7]) }
            #expect(cache.bytes <= capacity)
        }
        #expect(cache.scores(for: [Self.key(1)]) == [nil], "the oldest unused entries are gone")
        #expect(cache.scores(for: [Self.key(10_000)]) == [10_000])
    }

    @Test func zeroBytesCachesNothing() {
        let cache = RerankCache(capacityBytes: 0)
        cache.insert([(key: Self.key(1), score: 1)])
        #expect(cache.scores(for: [Self.key(1)]) == [nil] && cache.bytes == 0)
    }
}
