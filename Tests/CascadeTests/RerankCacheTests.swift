import Testing

@testable import Cascade

@Suite struct RerankCacheTests {
    static func key(_ id: Int, text: String = "text", query: String = "query") -> RerankCache.Key {
        RerankCache.Key(model: "m", query: query, passageID: "p\(id)", text: text)
    }

    static func entry(_ id: Int, _ score: Float) -> (key: RerankCache.Key, entry: RerankCache.Entry) {
        (key: key(id), entry: .init(score: score, tokens: 20))
    }

    @Test func returnsWhatWasStoredAndNothingForOtherKeys() {
        let cache = RerankCache(capacityBytes: 1 << 20)
        cache.insert([(key: Self.key(1), entry: .init(score: 1.5, tokens: 30)), Self.entry(2, -2)])
        #expect(cache.entries(for: [Self.key(1), Self.key(2), Self.key(3)]).map { $0?.score } == [1.5, -2, nil])
        #expect(cache.entries(for: [Self.key(1)]) == [.init(score: 1.5, tokens: 30)])
        // Another text of the same passage, or another query, is another key.
        #expect(cache.entries(for: [Self.key(1, text: "new text"), Self.key(1, query: "other")]) == [nil, nil])
        #expect(cache.pairs(model: "m", query: "query") == 2 && cache.pairs(model: "m", query: "other") == 0)
    }

    @Test func staysWithinItsBytesAndKeepsWhatIsUsed() {
        let capacity = 64 << 10
        let cache = RerankCache(capacityBytes: capacity)
        cache.insert([Self.entry(0, 7)])
        for id in 1...10_000 {
            cache.insert([Self.entry(id, Float(id))])
            // A hit keeps key 0 in the young generation.
            if id % 100 == 0 { #expect(cache.entries(for: [Self.key(0)]).map { $0?.score } == [7]) }
            #expect(cache.bytes <= capacity)
        }
        #expect(cache.entries(for: [Self.key(1)]) == [nil], "the oldest unused entries are gone")
        #expect(cache.entries(for: [Self.key(10_000)]).map { $0?.score } == [10_000])
        // The count that prices a repeated search follows what is held: at most a generation's worth.
        let held = cache.pairs(model: "m", query: "query")
        #expect(held > 0 && held < 10_000, "\(held)")
    }

    @Test func zeroBytesCachesNothing() {
        let cache = RerankCache(capacityBytes: 0)
        cache.insert([Self.entry(1, 1)])
        #expect(cache.entries(for: [Self.key(1)]) == [nil] && cache.bytes == 0)
        #expect(cache.pairs(model: "m", query: "query") == 0)
    }
}
