import Foundation
import Testing

@testable import VectorStore

@Suite struct NprobeCalibrationTests {
    /// A store of 16 clusters in 16 partitions, and queries that lie between clusters (so that
    /// one partition is not enough), with the exact top k of each.
    struct Fixture {
        let dir: TempDir
        let store: VectorStore
        let queries: [[Float]]
        let exact: [[String]]
        let k = 20

        init() throws {
            dir = try TempDir()
            var rng = SplitMix64(seed: 21)
            let dimension = 24
            store = try smallStore(dir, dimension: dimension, similarity: .cosine, blockSize: 32, codes: .fp32)
            let vectors = clusteredVectors(3000, dimension: dimension, centres: 16, spread: 0.35, rng: &rng)
            try store.upsert(
                vectors.enumerated().map { (passage: Passage(id: "d\($0.offset)", text: ""), vector: $0.element) })
            try store.repartition(partitions: 16)
            let reference = Dictionary(
                uniqueKeysWithValues: vectors.enumerated().map { ("d\($0.offset)", unitLength($0.element)) })
            let blends = clusteredVectors(200, dimension: dimension, centres: 16, spread: 0.9, rng: &rng)
            queries = blends.map { unitLength($0) }
            exact = queries.map { query in referenceSearch(reference, query: query, k: 20).map(\.id) }
        }

        /// Recall@k of searches probing `nprobe` partitions against the exact reference.
        func recall(nprobe: Int?) throws -> Double {
            let found = try store.search(queries, k: k, options: SearchOptions(nprobe: nprobe))
            let shares = zip(found, exact).map { hits, truth in
                Double(Set(hits.map(\.id)).intersection(truth).count) / Double(truth.count)
            }
            return shares.reduce(0, +) / Double(shares.count)
        }
    }

    @Test func storesTheFewestPartitionsThatReachTheTarget() throws {
        let fixture = try Fixture()
        let store = fixture.store
        #expect(try store.stats().nprobeCalibrated == false)
        #expect(try store.stats().defaultNprobe == VectorStore.defaultNprobe(partitions: 16))

        let result = try store.calibrateNprobe(queries: fixture.queries, k: fixture.k, target: 0.97)
        #expect(result.partitions == 16 && result.queries == 200)
        #expect(result.steps.map(\.nprobe) == result.steps.map(\.nprobe).sorted())
        #expect(result.steps.last?.nprobe == 16 && result.steps.last?.recall == 1)
        // What it reports agrees with recall measured against brute force, and is the fewest.
        let chosen = result.nprobe
        #expect(try fixture.recall(nprobe: chosen) >= 0.97)
        #expect(chosen > 1, "the fixture's queries should need more than one partition")
        #expect(try fixture.recall(nprobe: chosen - 1) < 0.97)
        for step in result.steps where step.nprobe < 16 {
            #expect(abs(step.recall - (try fixture.recall(nprobe: step.nprobe))) < 1e-9)
        }

        // Searches that name no nprobe now use it, also after reopening the store.
        #expect(try store.stats().defaultNprobe == chosen && store.stats().nprobeCalibrated)
        let query = fixture.queries[3]
        #expect(
            try store.search(query, k: 20, options: SearchOptions())
                == store.search(query, k: 20, options: SearchOptions(nprobe: chosen)))
        let reopened = try VectorStore.open(existingAt: fixture.dir.store(), readOnly: true)
        #expect(try reopened.stats().defaultNprobe == chosen)

        // New partitions make the measurement meaningless: a repartition drops it.
        try store.repartition(partitions: 12)
        #expect(try store.stats().nprobeCalibrated == false)
        #expect(try store.stats().defaultNprobe == VectorStore.defaultNprobe(partitions: 12))
    }

    @Test func aDryRunLeavesTheDefault() throws {
        let fixture = try Fixture()
        let result = try fixture.store.calibrateNprobe(
            queries: fixture.queries, k: fixture.k, target: 0.99, save: false)
        #expect(result.nprobe >= 1)
        #expect(try fixture.store.stats().nprobeCalibrated == false)
    }

    @Test func badInputIsRefusedWithAClearError() throws {
        let fixture = try Fixture()
        #expect(throws: StoreError.invalidOption("the recall target must be in (0, 1], got 1.5")) {
            try fixture.store.calibrateNprobe(queries: fixture.queries, k: 10, target: 1.5)
        }
        #expect(throws: StoreError.invalidOption("calibration needs at least one query")) {
            try fixture.store.calibrateNprobe(queries: [], k: 10, target: 0.9)
        }
        let dir = try TempDir()
        let flat = try smallStore(dir, dimension: 4)
        try flat.upsert([(passage: Passage(id: "a", text: ""), vector: [1, 0, 0, 0])])
        let error = try #require(throws: StoreError.self) {
            try flat.calibrateNprobe(queries: [[1, 0, 0, 0]], k: 1, target: 0.9)
        }
        #expect("\(error)".contains("is not partitioned"))
        #expect(try fixture.store.stats().nprobeCalibrated == false)
    }
}
