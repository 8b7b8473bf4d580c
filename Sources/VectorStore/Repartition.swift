import Foundation

/// What `repartition` did, for the CLI's report.
public struct RepartitionReport: Sendable {
    public var partitions: Int
    public var vectors: Int
    public var sampled: Int
    public var trainSeconds: Double
    public var writeSeconds: Double
}

extension VectorStore {
    /// Trains `partitions` centroids by spherical k-means on a sample of the stored vectors (at
    /// most `samplePerPartition` per centroid), assigns every vector to its nearest centroid and
    /// lays each partition out in blocks of its own, all in one write transaction: a reader or a
    /// kill -9 sees the store before or after, never in between. Slots change; ids and texts
    /// move with their vectors. Later upserts go to their nearest centroid.
    @discardableResult
    public func repartition(
        partitions: Int, samplePerPartition: Int = 64, iterations: Int = 10, seed: UInt64 = 42
    ) throws -> RepartitionReport {
        guard (1...65536).contains(partitions) else {
            throw StoreError.invalidOption("partitions must be in 1...65536, got \(partitions)")
        }
        guard !readOnly else { throw StoreError.readOnly(operation: "repartition", path: path) }
        let clock = ContinuousClock()
        let started = clock.now
        let dim = model.dimension
        // Train outside the write transaction, on a snapshot's sample.
        let sample: [Float] = try read { txn in
            let slots = try liveSlots(txn)
            guard slots.count >= partitions else {
                throw StoreError.invalidOption(
                    "cannot make \(partitions) partitions from \(slots.count) vectors; use at most \(slots.count)")
            }
            var rng = SplitMix(state: seed)
            var chosen = slots
            let size = min(slots.count, partitions * max(1, samplePerPartition))
            for i in 0..<size { chosen.swapAt(i, i + Int(rng.next() % UInt64(slots.count - i))) }
            var out = [Float]()
            out.reserveCapacity(size * dim)
            for slot in chosen.prefix(size) { out += unitLength(try fullVector(txn, slot: slot)) }
            return out
        }
        let centroids = SphericalKMeans.train(
            points: sample, dimension: dim, k: partitions, iterations: iterations, seed: seed)
        let trained = clock.now
        let total = try write(
            operation: "repartition", estimatedBytes: max(count, 1) * (layout.blockBytes / blockSize + 4 * dim + 256)
        ) { txn in
            try relayout(txn, centroids: Centroids(count: partitions, dimension: dim, values: centroids))
        }
        let seconds = { (d: Duration) in Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
        return RepartitionReport(
            partitions: partitions, vectors: total, sampled: sample.count / dim,
            trainSeconds: seconds(trained - started),
            writeSeconds: seconds(clock.now - trained))
    }

    /// Rewrites every live vector, passage and id into partition order under `centroids`.
    private func relayout(_ txn: Transaction, centroids: Centroids) throws -> Int {
        let dim = model.dimension
        // Everything live, read before the databases are emptied.
        var ids = [String]()
        var records = [[UInt8]]()
        var vectors = [Float]()
        let cursor = try txn.cursor(dbs.ids)
        var entry = try cursor.first()
        while let (key, value) = entry {
            let slot = value.loadUInt32()
            ids.append(String(decoding: key, as: UTF8.self))
            guard let record = try withKey(slot, { try txn.get(dbs.passages, key: $0) }) else {
                throw CorruptMeta(reason: "live slot \(slot) has no passage")
            }
            records.append(Array(record))
            vectors += try fullVector(txn, slot: slot)
            entry = try cursor.next()
        }
        let assignment = centroids.nearest(vectors)
        let full = codes == .fp32 ? nil : try dbs.required(dbs.full, "full")
        for db in [dbs.blocks, dbs.live, dbs.free, dbs.passages, dbs.ids] { try txn.empty(db) }
        for db in [dbs.pfree, dbs.parts, dbs.owner, full] { if let db { try txn.empty(db) } }
        try centroids.values.withUnsafeBytes { try txn.putMeta(dbs, Schema.MetaKey.centroids, $0) }
        try txn.putMeta(dbs, Schema.MetaKey.format, integer: 2)

        var allocator = try SlotAllocator(store: self, txn: txn)
        allocator.counters = Counters(count: UInt64(ids.count), nextSlot: 0)
        var edit = BlockEdit(store: self, txn: txn)
        let order = ids.indices.sorted { (assignment[$0], $0) < (assignment[$1], $1) }
        for i in order {
            let slot = try allocator.take(partition: assignment[i])
            let vector = Array(vectors[i * dim..<(i + 1) * dim])
            try withKey(ids[i]) { key in try withKey(slot) { try txn.put(dbs.ids, key: key, value: $0) } }
            try withKey(slot) { key in
                try records[i].withUnsafeBytes { try txn.put(dbs.passages, key: key, value: $0) }
                if let full { try vector.withUnsafeBytes { try txn.put(full, key: key, value: $0) } }
            }
            try edit.set(slot: slot, vector: vector)
        }
        try edit.save()
        try allocator.save()
        return ids.count
    }

    /// Every live slot, in slot order.
    private func liveSlots(_ txn: Transaction) throws -> [UInt32] {
        var slots = [UInt32]()
        let cursor = try txn.cursor(dbs.live)
        var entry = try cursor.first()
        while let (key, bits) = entry {
            let base = key.loadUInt32() &* UInt32(blockSize)
            for w in 0..<bits.count / 8 {
                var word = bits.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)
                while word != 0 {
                    slots.append(base + UInt32(w * 64 + word.trailingZeroBitCount))
                    word &= word &- 1
                }
            }
            entry = try cursor.next()
        }
        return slots
    }

    /// A slot's vector at full precision: from its fp32 block, or the `full` database.
    func fullVector(_ txn: Transaction, slot: UInt32) throws -> [Float] {
        let dim = model.dimension
        if codes != .fp32 {
            guard let values = try withKey(slot, { try txn.get(try dbs.required(dbs.full, "full"), key: $0) }),
                values.count == dim * 4
            else { throw CorruptMeta(reason: "no full-precision vector for slot \(slot)") }
            return (0..<dim).map { values.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        let block = slot / UInt32(blockSize)
        guard let values = try withKey(block, { try txn.get(dbs.blocks, key: $0) }), values.count == layout.blockBytes
        else { throw CorruptMeta(reason: "no vector for slot \(slot)") }
        return layout.read(row: Int(slot % UInt32(blockSize)), from: values)
    }
}

/// `v` scaled to unit length (zero stays zero): k-means on directions, as the scan ranks by angle
/// for cosine stores and mostly so for dot stores.
func unitLength(_ v: [Float]) -> [Float] {
    let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? v.map { $0 / norm } : v
}
