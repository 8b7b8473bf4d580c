import Foundation

/// What `repartition` did, for the CLI's report.
public struct RepartitionReport: Sendable {
    public var partitions: Int
    public var vectors: Int
    public var sampled: Int
    public var trainSeconds: Double
    public var writeSeconds: Double
    /// Batches the vectors were assigned to their partitions in (a bounded number of vectors each).
    public var batches: Int
}

extension VectorStore {
    /// Vectors whose nearest centroids a relayout computes in one BLAS call: what it holds of
    /// vectors at a time (3 MB at 768 dimensions).
    static let relayoutBatchRows = 1024

    /// Trains `partitions` centroids by spherical k-means on a sample of the stored vectors (at
    /// most `samplePerPartition` per centroid), assigns every vector to its nearest centroid and
    /// lays each partition out in blocks of its own, all in one write transaction: a reader or a
    /// kill -9 sees the store before or after, never in between. Slots change; ids, texts and
    /// vectors stay with each other. Later upserts go to their nearest centroid. See `relayout`
    /// for what it holds in memory and rewrites on disk.
    @discardableResult
    public func repartition(
        partitions: Int, samplePerPartition: Int = 64, iterations: Int = 10, seed: UInt64 = 42
    ) throws -> RepartitionReport {
        try repartition(
            partitions: partitions, samplePerPartition: samplePerPartition, iterations: iterations, seed: seed,
            batchRows: VectorStore.relayoutBatchRows)
    }

    /// `repartition` assigning `batchRows` vectors at a time (tests make it small).
    @discardableResult
    func repartition(partitions: Int, samplePerPartition: Int, iterations: Int, seed: UInt64, batchRows: Int)
        throws -> RepartitionReport
    {
        try checkPartitions(partitions)
        let clock = ContinuousClock()
        let started = clock.now
        let dim = model.dimension
        // Train outside the write transaction, on a snapshot's sample.
        let sample: [Float] = try read { txn in
            let slots = try liveSlots(txn)
            try VectorStore.checkPartitionCount(partitions, vectors: slots.count)
            let records = try Records(txn, dbs, blockSize: blockSize)
            var rng = SplitMix64(seed: seed)
            var chosen = slots
            let size = min(slots.count, partitions * max(1, samplePerPartition))
            for i in 0..<size { chosen.swapAt(i, i + Int(rng.next() % UInt64(slots.count - i))) }
            var out = [Float]()
            out.reserveCapacity(size * dim)
            guard codes != .fp32 else {
                for slot in chosen.prefix(size) { out += unitLength(try fullVector(txn, slot: slot, records: records)) }
                return out
            }
            // Random reads, from a store that may not fit in memory: each part's vectors asked for
            // first (see `prefetchMapped`), then read.
            let full = try fullVectors()
            for start in stride(from: 0, to: size, by: 4096) {
                let vectors = try chosen[start..<min(start + 4096, size)].map { slot in
                    try full.required(txn, record: try records.record(txn, slot: slot), slot: slot)
                }
                vectors.forEach(prefetchMapped)
                for vector in vectors { out += unitLength(floats(vector, count: dim)) }
            }
            return out
        }
        return try layOut(
            partitions: partitions, sample: sample, iterations: iterations, seed: seed, batchRows: batchRows,
            started: started)
    }

    /// Trains `partitions` centroids on `trainingVectors` instead of on a sample of the store, then
    /// lays the store out as `repartition` does (on an empty store, that only records them).
    @discardableResult
    public func repartition(partitions: Int, trainingVectors: [[Float]], iterations: Int = 10, seed: UInt64 = 42)
        throws -> RepartitionReport
    {
        try checkPartitions(partitions)
        try VectorStore.checkPartitionCount(partitions, vectors: trainingVectors.count)
        let started = ContinuousClock().now
        var sample = [Float]()
        sample.reserveCapacity(trainingVectors.count * model.dimension)
        for vector in trainingVectors { sample += unitLength(try prepared(vector, id: nil)) }
        return try layOut(
            partitions: partitions, sample: sample, iterations: iterations, seed: seed,
            batchRows: VectorStore.relayoutBatchRows, started: started)
    }

    /// k-means needs at least one vector per centroid: checked here for every repartition, and by
    /// an import before it writes anything.
    public static func checkPartitionCount(_ partitions: Int, vectors: Int) throws {
        guard vectors >= partitions else {
            throw StoreError.invalidOption(
                "cannot make \(partitions) partitions from \(vectors) vectors; use at most \(vectors)")
        }
    }

    private func checkPartitions(_ partitions: Int) throws {
        guard (1...65536).contains(partitions) else {
            throw StoreError.invalidOption("partitions must be in 1...65536, got \(partitions)")
        }
        guard !readOnly else { throw StoreError.readOnly(operation: "repartition", path: path) }
    }

    private func layOut(
        partitions: Int, sample: [Float], iterations: Int, seed: UInt64, batchRows: Int,
        started: ContinuousClock.Instant
    ) throws -> RepartitionReport {
        let clock = ContinuousClock()
        let dim = model.dimension
        let centroids = SphericalKMeans.train(
            points: sample, dimension: dim, k: partitions, iterations: iterations, seed: seed)
        let trained = clock.now
        // What the transaction writes: the scanned blocks (each partition's last one part empty),
        // ids and the small per-block tables; texts and full-precision vectors stay where they are.
        let estimate = max(count, 1) * (layout.blockBytes / blockSize + 96) + partitions * layout.blockBytes
        let result = try write(operation: "repartition", estimatedBytes: estimate) { txn in
            try relayout(
                txn, centroids: Centroids(count: partitions, dimension: dim, values: centroids), batchRows: batchRows)
        }
        let seconds = { (d: Duration) in Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        return RepartitionReport(
            partitions: partitions, vectors: result.vectors, sampled: sample.count / dim,
            trainSeconds: seconds(trained - started), writeSeconds: seconds(clock.now - trained),
            batches: result.batches)
    }

    /// Every live slot, in slot order.
    func liveSlots(_ txn: Transaction) throws -> [UInt32] {
        var slots = [UInt32]()
        try forEachLiveBlock(txn) { block, bits in
            for row in liveRows(bits) { slots.append(block &* UInt32(blockSize) + UInt32(row)) }
        }
        return slots
    }

    /// A slot's vector at full precision: from its fp32 block, or the `full` database.
    func fullVector(_ txn: Transaction, slot: UInt32, records: Records) throws -> [Float] {
        let dim = model.dimension
        if codes != .fp32 {
            let vector = try fullVectors().required(txn, record: try records.record(txn, slot: slot), slot: slot)
            return floats(vector, count: dim)
        }
        let block = slot / UInt32(blockSize)
        guard let values = try withKey(block, { try txn.get(dbs.blocks, key: $0) }), values.count == layout.blockBytes
        else { throw CorruptMeta(reason: "no vector for slot \(slot)") }
        return layout.read(row: Int(slot % UInt32(blockSize)), from: values)
    }
}

/// `count` floats as they lie in the map, maybe unaligned.
func floats(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
    (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
}

/// `v` scaled to unit length (zero stays zero): k-means on directions, as the scan ranks by angle
/// for cosine stores and mostly so for dot stores.
func unitLength(_ v: [Float]) -> [Float] {
    let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? v.map { $0 / norm } : v
}
