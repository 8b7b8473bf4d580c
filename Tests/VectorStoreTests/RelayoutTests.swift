import Foundation
import Testing

@testable import VectorStore

/// What a store should hold: each id's vector (as stored: normalised for cosine) and text.
private struct Expected {
    var vectors: [String: [Float]] = [:]
    var texts: [String: String] = [:]

    mutating func add(_ items: [(passage: Passage, vector: [Float])]) {
        for item in items {
            vectors[item.passage.id] = item.vector
            texts[item.passage.id] = item.passage.text
        }
    }

    mutating func remove(_ ids: [String]) {
        for id in ids {
            vectors[id] = nil
            texts[id] = nil
        }
    }
}

private func batch(_ prefix: String, _ count: Int, dimension: Int, rng: inout SplitMix64)
    -> [(passage: Passage, vector: [Float])]
{
    (0..<count).map {
        (
            passage: Passage(id: "\(prefix)\($0)", text: "\(prefix) passage \($0)"),
            vector: integerVector(dimension, &rng)
        )
    }
}

/// Every id's text and vector, and exact search (every partition probed, every candidate
/// rescored) equal to brute force over `expected`.
private func expectHolds(_ store: VectorStore, _ expected: Expected, sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    #expect(store.count == expected.vectors.count, sourceLocation: sourceLocation)
    let ids = expected.texts.keys.sorted()
    for (id, passage) in zip(ids, try store.passages(ids: ids)) {
        #expect(passage?.text == expected.texts[id], "\(id)", sourceLocation: sourceLocation)
        #expect(try store.vector(id: id) == expected.vectors[id], "\(id)", sourceLocation: sourceLocation)
    }
    var rng = SplitMix64(seed: 99)
    for _ in 0..<5 {
        let query = integerVector(store.model.dimension, &rng)
        let hits = try store.search(query, k: 40, options: SearchOptions(rescoreK: 10_000, nprobe: 65536))
        if store.model.similarity == .dot {
            // Integer vectors: exact scores, ties broken by id.
            #expect(hits == referenceSearch(expected.vectors, query: query, k: 40), sourceLocation: sourceLocation)
        } else {
            let reference = referenceSearch(expected.vectors, query: unitLength(query), k: 40)
            #expect(hits.map(\.id) == reference.map(\.id), sourceLocation: sourceLocation)
        }
    }
    let stats = try store.stats()
    if !stats.partitionSizes.isEmpty {
        // Each block in exactly one partition's list: the sizes add up to the count.
        #expect(stats.partitionSizes.reduce(0, +) == expected.vectors.count, sourceLocation: sourceLocation)
    }
}

private func formatVersion(_ store: VectorStore) throws -> Int { try store.stats().formatVersion }

@Suite struct RelayoutTests {
    /// Grouped: format 4's packed full-precision vectors; not grouped: one per value, as older
    /// builds made them (format 2).
    @Test(arguments: [(VectorCodes.fp32, true), (.fp16, true), (.int8, true), (.int8, false)])
    func relayoutInSmallBatchesKeepsEveryPassage(codes: VectorCodes, grouped: Bool) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 21)
        let dimension = 16
        let created = try smallStore(dir, dimension: dimension, blockSize: 32, codes: codes)
        let store = grouped ? created : try makeUngrouped(created)
        let format = codes == .fp32 ? (before: 1, after: 3) : grouped ? (before: 4, after: 4) : (before: 2, after: 3)
        var expected = Expected()
        for b in 0..<3 {
            let items = batch("b\(b)-", 400, dimension: dimension, rng: &rng)
            try store.upsert(items)
            expected.add(items)
        }
        // Holes in the slots, which become free record numbers in format 3.
        let deleted = stride(from: 0, to: 400, by: 7).map { "b1-\($0)" }
        try store.delete(ids: deleted)
        expected.remove(deleted)
        #expect(try formatVersion(store) == format.before)

        let report = try store.repartition(
            partitions: 9, samplePerPartition: 64, iterations: 5, seed: 3, batchRows: 50)
        #expect(report.vectors == expected.vectors.count)
        // Never more than 50 vectors assigned at a time.
        #expect(report.batches >= expected.vectors.count / 50, "\(report.batches)")
        #expect(try formatVersion(store) == format.after)
        #expect(try store.stats().partitionSizes.count == 9)
        try expectHolds(store, expected)
        let centroids = try #require(try store.read { try Centroids.read($0, store.dbs, dimension: dimension) })
        let ids = expected.vectors.keys.sorted()
        let nearest = centroids.nearest(ids.flatMap { expected.vectors[$0]! })
        for (id, partition) in zip(ids, nearest) { #expect(try store.partition(id: id) == Int(partition), "\(id)") }

        // Format 3 to format 3, into fewer partitions.
        try store.repartition(partitions: 5, samplePerPartition: 64, iterations: 5, seed: 4, batchRows: 64)
        #expect(try store.stats().partitionSizes.count == 5)
        try expectHolds(store, expected)

        // Writes afterwards: new ids (on freed record numbers), ids moved to new vectors, deletes.
        let fresh = batch("new", 100, dimension: dimension, rng: &rng)
        let moved = batch("b0-", 50, dimension: dimension, rng: &rng).map {
            (passage: Passage(id: $0.passage.id, text: "moved"), vector: $0.vector)
        }
        try store.upsert(fresh + moved)
        expected.add(fresh + moved)
        let gone = (0..<20).map { "b2-\($0)" }
        try store.delete(ids: gone)
        expected.remove(gone)
        try expectHolds(store, expected)
    }

    @Test func anOlderPartitionedStoreStillWorksAndIsMigratedByARepartition() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 22)
        let dimension = 16
        // What an older build left: a format 2 store with centroids, whose passages and full
        // vectors are keyed by slot, one full vector per value.
        let store = try makeUngrouped(try smallStore(dir, dimension: dimension))
        let points = (0..<60).flatMap { _ in unitLength(integerVector(dimension, &rng)) }
        let centroids = SphericalKMeans.train(points: points, dimension: dimension, k: 6, iterations: 5, seed: 1)
        try store.write(operation: "test", estimatedBytes: 0) { txn in
            try centroids.withUnsafeBytes { try txn.putMeta(store.dbs, Schema.MetaKey.centroids, $0) }
        }
        var expected = Expected()
        let items = batch("d", 600, dimension: dimension, rng: &rng)
        try store.upsert(items)
        expected.add(items)
        #expect(try formatVersion(store) == 2)
        #expect(try store.stats().partitionSizes.count == 6)
        try expectHolds(store, expected)
        // Moves and deletes the format 2 way.
        let moved = batch("d", 80, dimension: dimension, rng: &rng)
        try store.upsert(moved)
        expected.add(moved)
        try store.delete(ids: ["d100", "d101"])
        expected.remove(["d100", "d101"])
        try expectHolds(store, expected)
        #expect(try formatVersion(store) == 2)

        try store.repartition(partitions: 4, samplePerPartition: 64, iterations: 5, seed: 2, batchRows: 64)
        #expect(try formatVersion(store) == 3)
        try expectHolds(store, expected)
        // The records of deleted passages are free; new ones reuse them before new numbers.
        let next = try store.read { try #require(try $0.metaBytes(store.dbs, Schema.MetaKey.nextRecord)).loadUInt64() }
        let fresh = batch("new", 2, dimension: dimension, rng: &rng)
        try store.upsert(fresh)
        expected.add(fresh)
        #expect(try store.read { try $0.metaBytes(store.dbs, Schema.MetaKey.nextRecord)!.loadUInt64() } == next)
        try expectHolds(store, expected)

        // Opened afresh, read-only.
        let reader = try VectorStore.open(existingAt: dir.store(), readOnly: true)
        try expectHolds(reader, expected)
    }

    @Test func repartitionLeavesTextsAndFullVectorsWhereTheyAre() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 23)
        let dimension = 64
        let store = try smallStore(dir, dimension: dimension)
        try store.upsert(batch("d", 500, dimension: dimension, rng: &rng))
        let probe = stride(from: 0, to: 500, by: 37).map { "d\($0)" }
        /// Where each probed passage, full vector and block lie in the map, relative to the first
        /// passage (the map may move when it grows; the file offsets between values do not).
        func offsets() throws -> (passages: [Int], full: [Int], blocks: [Int]) {
            try store.read { txn in
                let records = try Records(txn, store.dbs, blockSize: store.blockSize)
                var pointers: (passages: [UnsafeRawPointer], full: [UnsafeRawPointer], blocks: [UnsafeRawPointer]) = (
                    [], [], []
                )
                for id in probe {
                    let slot = try #require(try txn.slot(store.dbs, id: id))
                    let record = try records.record(txn, slot: slot)
                    let text = try #require(try withKey(record) { try txn.get(store.dbs.passages, key: $0) })
                    let full = try #require(
                        try store.fullVectors().vector(txn, record: record))
                    let block = try #require(
                        try withKey(slot / UInt32(store.blockSize)) { try txn.get(store.dbs.blocks, key: $0) })
                    pointers.passages.append(text.baseAddress!)
                    pointers.full.append(full.baseAddress!)
                    pointers.blocks.append(block.baseAddress!)
                }
                let base = pointers.passages[0]
                return (
                    pointers.passages.map { $0 - base }, pointers.full.map { $0 - base },
                    pointers.blocks.map { $0 - base }
                )
            }
        }
        let before = try offsets()
        try store.repartition(partitions: 6)
        let first = try offsets()
        #expect(first.passages == before.passages && first.full == before.full)
        #expect(first.blocks != before.blocks, "the scanned blocks are rewritten")
        try store.repartition(partitions: 3)
        let second = try offsets()
        #expect(second.passages == before.passages && second.full == before.full)
    }

    @Test func trainingOnGivenVectorsPartitionsAnEmptyStoreWithoutData() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 24)
        let dimension = 16
        let store = try smallStore(dir, dimension: dimension, similarity: .cosine)
        let vectors = clusteredVectors(400, dimension: dimension, centres: 5, spread: 0.1, rng: &rng)
        #expect(throws: StoreError.invalidOption("cannot make 8 partitions from 5 vectors; use at most 5")) {
            try store.repartition(partitions: 8, trainingVectors: Array(vectors.prefix(5)))
        }
        let report = try store.repartition(partitions: 8, trainingVectors: Array(vectors.prefix(100)))
        #expect(report.vectors == 0 && report.sampled == 100)
        #expect(try store.stats().partitionSizes == [Int](repeating: 0, count: 8))
        var expected = Expected()
        let items = vectors.enumerated().map {
            (passage: Passage(id: "v\($0.offset)", text: "\($0.offset)"), vector: $0.element)
        }
        try store.upsert(items)
        expected.add(items.map { (passage: $0.passage, vector: unitLength($0.vector)) })
        let centroids = try #require(try store.read { try Centroids.read($0, store.dbs, dimension: dimension) })
        for (item, partition) in zip(items, centroids.nearest(items.flatMap { unitLength($0.vector) })) {
            #expect(try store.partition(id: item.passage.id) == Int(partition))
        }
        try expectHolds(store, expected)
    }
}
