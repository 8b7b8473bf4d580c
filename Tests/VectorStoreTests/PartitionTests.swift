import Foundation
import Testing

@testable import VectorStore

@Suite struct PartitionTests {
    func items(_ vectors: [[Float]], prefix: String = "d") -> [(passage: Passage, vector: [Float])] {
        vectors.enumerated().map {
            (passage: Passage(id: "\(prefix)\($0.offset)", text: "text \($0.offset)"), vector: $0.element)
        }
    }

    func centroids(_ store: VectorStore) throws -> Centroids {
        try #require(try store.read { try Centroids.read($0, store.dbs, dimension: store.model.dimension) })
    }

    @Test(arguments: [VectorCodes.fp32, .int8])
    func probingEveryPartitionEqualsExactSearch(codes: VectorCodes) throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 12)
        let dimension = 16
        let store = try smallStore(dir, dimension: dimension, blockSize: 32, codes: codes)
        let vectors = (0..<900).map { _ in integerVector(dimension, &rng) }
        try store.upsert(items(vectors))
        var reference = Dictionary(uniqueKeysWithValues: items(vectors).map { ($0.passage.id, $0.vector) })
        let report = try store.repartition(partitions: 12)
        #expect(report.vectors == 900 && report.partitions == 12)
        let stats = try store.stats()
        #expect(stats.partitionSizes.count == 12 && stats.partitionSizes.reduce(0, +) == 900)
        #expect(stats.formatVersion == (codes == .fp32 ? 3 : 4) && store.count == 900)
        // Texts and vectors moved with their ids.
        #expect(try store.passage(id: "d17")?.text == "text 17")
        #expect(try store.vector(id: "d17") == vectors[17])
        try store.delete(ids: ["d1", "d2", "d3"])
        for id in ["d1", "d2", "d3"] { reference[id] = nil }
        for _ in 0..<10 {
            let query = integerVector(dimension, &rng)
            let hits = try store.search(query, k: 50, options: SearchOptions(rescoreK: 1000, nprobe: 12))
            #expect(hits == referenceSearch(reference, query: query, k: 50))
        }
    }

    /// A search that probes some partitions turns off the map's read-ahead (its page faults land at
    /// random; see `Environment.readAtRandom`), which needs the map's start found from a leaf page.
    @Test func probingSearchesReadTheMapAtRandom() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 14)
        let store = try smallStore(dir, dimension: 16, blockSize: 32)
        let vectors = (0..<600).map { _ in integerVector(16, &rng) }
        try store.upsert(items(vectors))
        let reference = Dictionary(uniqueKeysWithValues: items(vectors).map { ($0.passage.id, $0.vector) })
        try store.repartition(partitions: 8)
        _ = try store.search(vectors[0], k: 10, options: SearchOptions(nprobe: 8))
        #expect(!store.env.readsAtRandom, "probing every partition is a full scan: read-ahead stays")
        _ = try store.search(vectors[0], k: 10, options: SearchOptions(nprobe: 2))
        #expect(store.env.readsAtRandom)
        // A full scan afterwards asks for its blocks itself, and still equals brute force.
        let query = integerVector(16, &rng)
        let hits = try store.search(query, k: 20, options: SearchOptions(rescoreK: 600, nprobe: 8))
        #expect(hits == referenceSearch(reference, query: query, k: 20))
    }

    @Test func upsertsAndDeletesLandInTheirPartition() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 13)
        let dimension = 32
        let store = try smallStore(dir, dimension: dimension, similarity: .cosine)
        let vectors = clusteredVectors(1200, dimension: dimension, centres: 8, spread: 0.1, rng: &rng)
        try store.upsert(items(vectors))
        try store.repartition(partitions: 8)
        let trained = try centroids(store)
        // New ids, and existing ids whose vectors moved to another cluster.
        let fresh = clusteredVectors(200, dimension: dimension, centres: 8, spread: 0.1, rng: &rng)
        let moved = clusteredVectors(100, dimension: dimension, centres: 8, spread: 0.1, rng: &rng)
        try store.upsert(items(fresh, prefix: "new"))
        try store.upsert(items(moved))  // d0...d99 get new vectors
        let expected = trained.nearest((fresh + moved).flatMap { $0 })
        let ids = (0..<200).map { "new\($0)" } + (0..<100).map { "d\($0)" }
        for (id, partition) in zip(ids, expected) {
            #expect(try store.partition(id: id) == Int(partition), "\(id)")
        }
        #expect(store.count == 1400)
        var stats = try store.stats()
        #expect(stats.partitionSizes.reduce(0, +) == 1400)
        // A delete frees the slot in its own partition.
        let partitionOfD5 = try #require(try store.partition(id: "d5"))
        let before = stats.partitionSizes[partitionOfD5]
        try store.delete(ids: ["d5"])
        stats = try store.stats()
        #expect(stats.partitionSizes[partitionOfD5] == before - 1)
        #expect(stats.partitionSizes.reduce(0, +) == 1399)
        // Everything is still found exactly when every partition is probed.
        var reference = Dictionary(uniqueKeysWithValues: items(vectors).map { ($0.passage.id, unitLength($0.vector)) })
        for (i, v) in moved.enumerated() { reference["d\(i)"] = v }
        for (i, v) in fresh.enumerated() { reference["new\(i)"] = v }
        reference["d5"] = nil
        let query = fresh[0]
        let all = try store.search(query, k: 30, options: SearchOptions(rescoreK: 2000, nprobe: 8))
        #expect(all.map(\.id) == referenceSearch(reference, query: query, k: 30).map(\.id))
        // With fewer probes, hits come only from the probed partitions.
        let probed = Set(query.withUnsafeBufferPointer { trained.probe($0, nprobe: 2) }.map { Int($0) })
        for hit in try store.search(query, k: 30, options: SearchOptions(nprobe: 2)) {
            #expect(probed.contains(try #require(try store.partition(id: hit.id))))
        }
    }

    @Test func repartitionRefusesMorePartitionsThanVectors() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
        try store.upsert([(passage: Passage(id: "a", text: "a"), vector: [1, 2, 3, 4])])
        #expect(throws: StoreError.self) { try store.repartition(partitions: 2) }
        #expect(try store.stats().partitionSizes.isEmpty)
    }

    @Test func killedRepartitionLeavesTheStoreBeforeOrAfter() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 14)
        let dimension = RepartitionModel.model.dimension
        let vectors = clusteredVectors(20000, dimension: dimension, centres: 20, spread: 0.2, rng: &rng)
        var reference = [String: [Float]]()
        do {
            let store = try VectorStore.open(
                at: dir.store(), model: RepartitionModel.model, options: RepartitionModel.options)
            try store.upsert(items(vectors))
            for (i, v) in vectors.enumerated() { reference["d\(i)"] = unitLength(v) }
        }
        let process = Process()
        process.executableURL = try storeWriterURL()
        process.arguments = ["repartition", dir.store().path, "1000", "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Wait for two repartitions to commit, then kill it during a later one.
        var text = ""
        let deadline = Date().addingTimeInterval(120)
        while text.components(separatedBy: "repartitioned").count < 3 && Date() < deadline {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let store = try VectorStore.open(
            at: dir.store(), model: RepartitionModel.model, options: RepartitionModel.options)
        let stats = try store.stats()
        // One of the partition counts the writer alternates between, whole.
        #expect(RepartitionModel.partitionCounts.contains(stats.partitionSizes.count), "\(stats.partitionSizes.count)")
        #expect(stats.partitionSizes.reduce(0, +) == 20000 && store.count == 20000)
        #expect(try store.vector(id: "d123") == unitLength(vectors[123]))
        let query = vectors[7]
        let hits = try store.search(query, k: 20, options: SearchOptions(rescoreK: 20000, nprobe: 1000))
        #expect(hits.map(\.id) == referenceSearch(reference, query: query, k: 20).map(\.id))
        // And it still takes writes.
        try store.upsert([(passage: Passage(id: "after", text: "x"), vector: query)])
        #expect(store.count == 20001)
    }
}

/// Mirrors Tests/StoreWriter's repartition mode.
enum RepartitionModel {
    static let model = StoreModel(fingerprint: "repartition-test", dimension: 16, pooling: "none", similarity: .cosine)
    static let options = StoreOptions(blockSize: 64, initialMapSize: 1 << 20, codes: .int8)
    static let partitionCounts = [10, 17]
}
