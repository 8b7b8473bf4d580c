import Foundation
import Testing

@testable import VectorStore

/// Unit vectors around `centres` random centres (a Gaussian mixture on the sphere), like
/// embeddings of topical text.
func clusteredVectors(_ count: Int, dimension: Int, centres: Int, spread: Float, rng: inout SplitMix64) -> [[Float]] {
    func gaussian() -> Float {
        let u = max(Float.random(in: 0...1, using: &rng), 1e-12)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * Float.random(in: 0...1, using: &rng))
    }
    let middles = (0..<centres).map { _ in unitLength((0..<dimension).map { _ in gaussian() }) }
    return (0..<count).map { _ in
        let centre = middles[Int.random(in: 0..<centres, using: &rng)]
        return unitLength(centre.map { $0 + spread * gaussian() })
    }
}

/// The share of `expected`'s ids that `got` holds.
func recall(_ got: [Hit], _ expected: [Hit]) -> Double {
    Double(Set(got.map(\.id)).intersection(expected.map(\.id)).count) / Double(expected.count)
}

@Suite struct CodesTests {
    func items(_ vectors: [[Float]], prefix: String = "d") -> [(passage: Passage, vector: [Float])] {
        vectors.enumerated().map {
            (passage: Passage(id: "\(prefix)\($0.offset)", text: "text \($0.offset)"), vector: $0.element)
        }
    }

    @Test(arguments: [VectorCodes.int8, .fp16])
    func rescoringEverythingEqualsExactSearch(codes: VectorCodes) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 3)
        let dimension = 24
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: dimension), options: StoreOptions(blockSize: 64, codes: codes))
        let vectors = (0..<600).map { _ in integerVector(dimension, &rng) }
        try store.upsert(items(vectors))
        try store.delete(ids: (0..<60).map { "d\($0 * 10)" })
        var reference = Dictionary(uniqueKeysWithValues: items(vectors).map { ($0.passage.id, $0.vector) })
        for i in 0..<60 { reference["d\(i * 10)"] = nil }
        #expect(store.count == 540)
        // Integer vectors: the rescored scores are exact, so all candidates rescored is exact search.
        for _ in 0..<10 {
            let query = integerVector(dimension, &rng)
            let hits = try store.search(query, k: 20, options: SearchOptions(rescoreK: 600))
            #expect(hits == referenceSearch(reference, query: query, k: 20))
        }
        #expect(try store.vector(id: "d1") == vectors[1])
        let stats = try store.stats()
        #expect(stats.codes == codes && stats.formatVersion == 4)
        #expect(stats.bytesPerVector == codes.bytesPerVector(dimension: dimension))
        #expect(stats.rescoreBytes > 0)
    }

    @Test(arguments: [VectorCodes.int8, .fp16])
    func defaultRescoringKeepsTheExactTopTen(codes: VectorCodes) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 8)
        let dimension = 64
        let vectors = clusteredVectors(4000, dimension: dimension, centres: 40, spread: 0.08, rng: &rng)
        let exact = try VectorStore.open(
            at: dir.store("exact"), model: model(dimension: dimension, similarity: .cosine))
        let coded = try VectorStore.open(
            at: dir.store("coded"), model: model(dimension: dimension, similarity: .cosine),
            options: StoreOptions(codes: codes))
        try exact.upsert(items(vectors))
        try coded.upsert(items(vectors))
        let queries = clusteredVectors(50, dimension: dimension, centres: 40, spread: 0.08, rng: &rng)
        var total = 0.0
        var rawTotal = 0.0
        let raws = try coded.search(queries, k: 10, options: SearchOptions(rescoreK: 10))
        for ((expected, got), raw) in zip(zip(try exact.search(queries, k: 10), try coded.search(queries, k: 10)), raws)
        {
            total += recall(got, expected)
            rawTotal += recall(raw, expected)
            // Rescored scores are the exact ones.
            for hit in got where expected.contains(where: { $0.id == hit.id }) {
                #expect(abs(hit.score - expected.first { $0.id == hit.id }!.score) < 1e-5)
            }
        }
        #expect(total / 50 >= 0.99, "recall@10 \(total / 50) with rescoring, \(rawTotal / 50) without")
    }

    @Test func fp32StoresStayFormatOneAndCodesAreFixed() throws {
        let dir = try TempDir()
        do {
            let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
            try store.upsert([(passage: Passage(id: "a", text: "a"), vector: [1, 2, 3, 4])])
            let stats = try store.stats()
            #expect(stats.formatVersion == 1 && stats.codes == .fp32 && stats.rescoreBytes == 0)
            #expect(stats.bytesPerVector == 16 && stats.partitionSizes.isEmpty)
        }
        #expect(throws: StoreError.codesMismatch(stored: .fp32, requested: .int8, path: dir.store().path)) {
            try VectorStore.open(at: dir.store(), model: model(dimension: 4), options: StoreOptions(codes: .int8))
        }
        let reopened = try VectorStore.open(existingAt: dir.store(), readOnly: true)
        #expect(reopened.codes == .fp32)
        #expect(try reopened.search([1, 0, 0, 0], k: 1) == [Hit(id: "a", score: 1)])
    }

    /// A store written by a build before codes existed: format 1, none of the later databases.
    @Test func formatOneStoresWithoutTheNewDatabasesStillOpen() throws {
        let dir = try TempDir()
        do {
            let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
            try store.upsert([
                (passage: Passage(id: "a", text: "a"), vector: [1, 2, 3, 4]),
                (passage: Passage(id: "b", text: "bee"), vector: [0, 1, 0, 0]),
            ])
            try store.write(operation: "test", estimatedBytes: 0) { txn in
                let later = [store.dbs.full, store.dbs.parts, store.dbs.owner, store.dbs.pfree, store.dbs.rows]
                for db in later + [store.dbs.rfree] { try txn.dropDatabase(try #require(db)) }
            }
        }
        do {
            let readOnly = try VectorStore.open(existingAt: dir.store(), readOnly: true)
            #expect(readOnly.dbs.full == nil && readOnly.dbs.pfree == nil && readOnly.dbs.rows == nil)
            #expect(try readOnly.search([1, 0, 0, 0], k: 1) == [Hit(id: "a", score: 1)])
            #expect(try readOnly.stats().formatVersion == 1)
        }
        // A writer adds the databases it lacks; a repartition turns the store into format 3 in place.
        let writer = try VectorStore.open(existingAt: dir.store())
        try writer.repartition(partitions: 2)
        #expect(try writer.stats().formatVersion == 3)
        #expect(try writer.search([1, 0, 0, 0], k: 1) == [Hit(id: "a", score: 1)])
        #expect(try writer.passage(id: "b")?.text == "bee")
        #expect(try writer.vector(id: "b") == [0, 1, 0, 0])
    }

    @Test func searchOptionsAreChecked() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: 4), options: StoreOptions(codes: .int8))
        try store.upsert([(passage: Passage(id: "a", text: "a"), vector: [1, 2, 3, 4])])
        #expect(throws: StoreError.self) { try store.search([1, 0, 0, 0], k: 1, options: SearchOptions(rescoreK: 0)) }
        #expect(throws: StoreError.self) { try store.search([1, 0, 0, 0], k: 1, options: SearchOptions(nprobe: 0)) }
        // rescoreK below k is raised to k.
        #expect(try store.search([1, 0, 0, 0], k: 1, options: SearchOptions(rescoreK: 1)).map(\.id) == ["a"])
    }
}
