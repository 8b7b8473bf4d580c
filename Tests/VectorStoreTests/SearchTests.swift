import Foundation
import Testing

@testable import VectorStore

@Suite struct SearchTests {
    /// Random ids so that slot order and id order disagree (the tie-break must use ids).
    func randomItems(_ count: Int, dimension: Int, rng: inout SplitMix64) -> [(passage: Passage, vector: [Float])] {
        (0..<count).map { i in
            let id = "doc-\(UInt32.random(in: 0...UInt32.max, using: &rng))-\(i)"
            return (passage: Passage(id: id, text: "text of \(id)"), vector: integerVector(dimension, &rng))
        }
    }

    @Test(arguments: [1, 7, 100, 1000])
    func searchEqualsBruteForce(k: Int) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 42)
        let dimension = 16
        // Small blocks: many blocks, a partial last block.
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: dimension), options: StoreOptions(blockSize: 64))
        let items = randomItems(1500, dimension: dimension, rng: &rng)
        try store.upsert(Array(items[..<700]))
        try store.upsert(Array(items[700...]))
        var reference = Dictionary(uniqueKeysWithValues: items.map { ($0.passage.id, $0.vector) })
        // Delete a scattered tenth: dead slots must never come back.
        let deleted = items.enumerated().filter { $0.offset % 10 == 3 }.map(\.element.passage.id)
        try store.delete(ids: deleted)
        for id in deleted { reference[id] = nil }
        #expect(store.count == reference.count)

        for _ in 0..<20 {
            let query = integerVector(dimension, &rng)
            let hits = try store.search(query, k: k)
            let expected = referenceSearch(reference, query: query, k: k)
            #expect(hits == expected)
            #expect(hits.allSatisfy { !deleted.contains($0.id) })
        }
    }

    @Test func batchedSearchEqualsSingleSearches() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 21)
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: 12), options: StoreOptions(blockSize: 100))
        let items = randomItems(700, dimension: 12, rng: &rng)
        try store.upsert(items)
        try store.delete(ids: items.prefix(50).map(\.passage.id))
        let reference = Dictionary(uniqueKeysWithValues: items.dropFirst(50).map { ($0.passage.id, $0.vector) })
        let queries = (0..<9).map { _ in integerVector(12, &rng) }
        let batched = try store.search(queries, k: 33)
        #expect(batched.count == 9)
        for (query, hits) in zip(queries, batched) {
            #expect(hits == referenceSearch(reference, query: query, k: 33))
        }
        #expect(try store.search([[Float]](), k: 5).isEmpty)
    }

    @Test func kLargerThanCountReturnsEverything() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 7)
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 8))
        let items = randomItems(30, dimension: 8, rng: &rng)
        try store.upsert(items)
        let reference = Dictionary(uniqueKeysWithValues: items.map { ($0.passage.id, $0.vector) })
        let query = integerVector(8, &rng)
        let hits = try store.search(query, k: 1000)
        #expect(hits.count == 30)
        #expect(hits == referenceSearch(reference, query: query, k: 1000))
    }

    @Test func allScoresTiedOrdersByIdAscending() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: 4), options: StoreOptions(blockSize: 8))
        // Inserted in descending id order so slot order is the reverse of id order.
        let ids = (0..<50).map { String(format: "id%03d", 49 - $0) }
        try store.upsert(ids.map { (passage: Passage(id: $0, text: ""), vector: [1, 1, 0, 0]) })
        let hits = try store.search([1, 0, 0, 0], k: 10)
        #expect(hits.map(\.id) == (0..<10).map { String(format: "id%03d", $0) })
        #expect(hits.allSatisfy { $0.score == 1 })
    }

    @Test func emptyStoreReturnsNothing() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
        #expect(try store.search([1, 2, 3, 4], k: 5).isEmpty)
        try store.upsert([(passage: Passage(id: "a", text: "x"), vector: [1, 0, 0, 0])])
        try store.delete(ids: ["a"])
        #expect(try store.search([1, 2, 3, 4], k: 5).isEmpty)
    }

    @Test func deletedSlotsAreReusedAndSearchedCorrectly() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 9)
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: 8), options: StoreOptions(blockSize: 16))
        var reference = [String: [Float]]()
        for round in 0..<5 {
            let items = randomItems(40, dimension: 8, rng: &rng)
            try store.upsert(items)
            for item in items { reference[item.passage.id] = item.vector }
            let victims = Array(reference.keys.sorted().prefix(25))
            try store.delete(ids: victims)
            for id in victims { reference[id] = nil }
            let query = integerVector(8, &rng)
            #expect(try store.search(query, k: 50) == referenceSearch(reference, query: query, k: 50), "round \(round)")
        }
        // Slots are recycled: 5 x 40 inserted, 125 deleted, at most 100 live at once.
        let maxSlots = try store.read { Int(try $0.counters(store.dbs).nextSlot) }
        #expect(maxSlots <= 100)
    }

    @Test func cosineStoresNormalisedVectors() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 2, similarity: .cosine))
        try store.upsert([
            (passage: Passage(id: "long", text: ""), vector: [30, 40]),
            (passage: Passage(id: "short", text: ""), vector: [0.6, 0.8]),
            (passage: Passage(id: "other", text: ""), vector: [-1, 0]),
        ])
        let hits = try store.search([3, 4], k: 3)
        #expect(hits.map(\.id) == ["long", "short", "other"])
        #expect(abs(hits[0].score - 1) < 1e-6 && abs(hits[1].score - 1) < 1e-6 && abs(hits[2].score + 0.6) < 1e-6)
        #expect(try store.vector(id: "long") == [0.6, 0.8])
        #expect(throws: StoreError.invalidVector(id: "z", reason: "a zero vector has no direction (cosine similarity)"))
        {
            try store.upsert([(passage: Passage(id: "z", text: ""), vector: [0, 0])])
        }
    }

    @Test func badQueriesAreRefused() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
        #expect(throws: StoreError.invalidK(0)) { try store.search([1, 2, 3, 4], k: 0) }
        #expect(throws: StoreError.invalidK(1001)) { try store.search([1, 2, 3, 4], k: 1001) }
        #expect(throws: StoreError.dimensionMismatch(id: nil, expected: 4, got: 3)) {
            try store.search([1, 2, 3], k: 1)
        }
        #expect(throws: StoreError.invalidVector(id: nil, reason: "it contains NaN or infinite values")) {
            try store.search([1, .nan, 3, 4], k: 1)
        }
        #expect(StoreError.invalidK(0).description == "k must be in 1...1000, got 0")
        #expect(
            StoreError.dimensionMismatch(id: nil, expected: 4, got: 3).description
                == "query vector has 3 dimensions; the store holds 4-dimensional vectors")
    }
}

@Suite struct TopKTests {
    /// The selection alone, against sorting, on data with heavy ties.
    @Test func selectionKeepsEveryBoundaryTie() {
        var rng = SplitMix64(seed: 3)
        let scores = (0..<5000).map { _ in Float(Int.random(in: 0...20, using: &rng)) }
        for k in [1, 5, 64, 999] {
            var top = TopK(k: k)
            for (slot, score) in scores.enumerated() { top.offer(score, UInt32(slot)) }
            let candidates = top.candidates
            let kth = scores.sorted(by: >)[k - 1]
            // Every slot scoring above the k-th score, and every slot tying it, must be a candidate.
            let must = Set(scores.enumerated().filter { $0.element >= kth }.map { UInt32($0.offset) })
            #expect(Set(candidates.map(\.slot)) == must, "k = \(k)")
        }
    }
}
