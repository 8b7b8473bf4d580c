import Foundation

extension VectorStore {
    /// Rewrites the store in partition order under `centroids`, in the write transaction `txn`,
    /// streaming: the store as it was is read from a read snapshot of the last commit (which this
    /// transaction's writes never change), never copied into memory.
    ///
    /// Held in memory: 2 bytes a slot (its partition) and, for fp16/int8, 2 bytes a record while
    /// assigning; then 4 bytes a slot (its new slot) and 4 a vector (the old slot of each new
    /// one): about 10-12 bytes a vector, 100 MB at 8.8M, plus the centroids and `batchRows`
    /// vectors being assigned. The assignment reads every full-precision vector once, in key
    /// order (a sequential pass over `full`, or over the fp32 blocks).
    ///
    /// Rewritten on disk (LMDB frees the old pages only at commit, so each costs its size again
    /// until then): the scanned blocks, copied row by row from the old ones (codes are not
    /// re-encoded), `live`, `rows`, `owner`, `parts`, `pfree` and the `ids` values. Passages and
    /// full-precision vectors are keyed by record numbers (format 3) and stay where they are; a
    /// format 1 or 2 store becomes format 3 here, its old slots becoming its record numbers.
    ///
    /// LMDB 0.9 keeps the pages a write transaction dirties in memory until commit unless it runs
    /// short of dirty-page entries, and a block is one entry however big, so the new blocks (the
    /// codes: 6.7 GB at 8.8M x 768 int8) are held by LMDB until the commit writes them.
    func relayout(_ txn: Transaction, centroids: Centroids, batchRows: Int) throws -> (vectors: Int, batches: Int) {
        let old = try Transaction(env, readOnly: true)
        defer { old.abort() }
        let bs = blockSize
        let oldRecords = try Records(old, dbs, blockSize: bs)
        let oldCounters = try old.counters(dbs)
        let slotCount = Int(oldCounters.nextSlot)

        // Each live slot's partition.
        let assigned = try assign(
            old, records: oldRecords, centroids: centroids, slotCount: slotCount, batchRows: batchRows)
        var partitionOf = assigned.partitions
        let partitions = centroids.count
        var counts = [Int](repeating: 0, count: partitions)
        try forEachLiveBlock(old) { block, bits in
            for row in liveRows(bits) { counts[Int(partitionOf[Int(block) * bs + row])] += 1 }
        }
        let n = counts.reduce(0, +)
        guard n == Int(oldCounters.count) else {
            throw CorruptMeta(reason: "\(n) live slots but a count of \(oldCounters.count)")
        }
        // Partition p takes whole blocks from firstBlock[p]; its vectors keep their slot order.
        var firstBlock = [Int](repeating: 0, count: partitions)
        var firstIndex = [Int](repeating: 0, count: partitions)
        var blockCount = 0
        for p in 0..<partitions {
            firstBlock[p] = blockCount
            firstIndex[p] = p == 0 ? 0 : firstIndex[p - 1] + counts[p - 1]
            blockCount += (counts[p] + bs - 1) / bs
        }
        guard blockCount * bs <= Int(UInt32.max) else {
            throw StoreError.invalidOption("the store is full: \(UInt32.max) slots are in use")
        }
        let unused = UInt32.max
        var sources = [UInt32](repeating: 0, count: n)
        var newSlotOf = [UInt32](repeating: unused, count: slotCount)
        var filled = [Int](repeating: 0, count: partitions)
        try forEachLiveBlock(old) { block, bits in
            for row in liveRows(bits) {
                let slot = Int(block) * bs + row
                let p = Int(partitionOf[slot])
                sources[firstIndex[p] + filled[p]] = UInt32(slot)
                newSlotOf[slot] = UInt32(firstBlock[p] * bs + filled[p])
                filled[p] += 1
            }
        }
        partitionOf = []

        let parts = try dbs.required(dbs.parts, "parts")
        let owner = try dbs.required(dbs.owner, "owner")
        let pfree = try dbs.required(dbs.pfree, "pfree")
        let rows = try dbs.required(dbs.rows, "rows")
        for db in [dbs.blocks, dbs.live, dbs.free, parts, owner, pfree, rows] { try txn.empty(db) }
        if oldRecords.rows == nil {
            // Into format 3: the old slots become the record numbers, those not live free ones.
            let rfree = try dbs.required(dbs.rfree, "rfree")
            try txn.empty(rfree)
            for slot in 0..<slotCount where newSlotOf[slot] == unused {
                try withKey(UInt32(slot)) {
                    try txn.put(rfree, key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0))
                }
            }
            try txn.putMeta(dbs, Schema.MetaKey.nextRecord, integer: UInt64(slotCount))
        }
        try centroids.values.withUnsafeBytes { try txn.putMeta(dbs, Schema.MetaKey.centroids, $0) }
        // A calibrated nprobe measured the old partitions; the new ones fall back to the rule.
        try withKey(Schema.MetaKey.nprobe) { _ = try txn.delete(dbs.meta, key: $0) }
        let format = try txn.metaBytes(dbs, Schema.MetaKey.format).map { Int($0.loadUInt64()) } ?? 1
        try txn.putMeta(dbs, Schema.MetaKey.format, integer: UInt64(max(format, 3)))

        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        var oldBlocks = OldBlocks(txn: old, dbs: dbs, blockBytes: layout.blockBytes, records: oldRecords)
        for p in 0..<partitions where counts[p] > 0 {
            var list = [UInt32]()
            for j in 0..<(counts[p] + bs - 1) / bs {
                let block = UInt32(firstBlock[p] + j)
                let used = min(bs, counts[p] - j * bs)
                // Where each row comes from, looked up before the copy (which cannot throw).
                var from = [(bytes: UnsafeRawBufferPointer, row: Int)]()
                var records = [UInt32](repeating: 0, count: bs)
                for r in 0..<used {
                    let source = sources[firstIndex[p] + j * bs + r]
                    let (oldBlock, oldRow) = (source / UInt32(bs), Int(source % UInt32(bs)))
                    from.append((try oldBlocks.bytes(of: oldBlock), oldRow))
                    records[r] =
                        try oldBlocks.records(of: oldBlock).map {
                            $0.loadUnaligned(fromByteOffset: oldRow * 4, as: UInt32.self)
                        } ?? source
                }
                let layout = self.layout
                try withKey(block) { key in
                    try txn.putReserved(dbs.blocks, key: key, count: layout.blockBytes) { out in
                        _ = out.initializeMemory(as: UInt8.self, repeating: 0)
                        for (r, source) in from.enumerated() {
                            layout.copy(row: source.row, of: source.bytes, to: r, in: out)
                        }
                    }
                }
                var bits = [UInt64](repeating: 0, count: (bs + 63) / 64)
                for r in 0..<used { bits[r / 64] |= UInt64(1) << UInt64(r % 64) }
                var partition = UInt32(p)
                try withKey(block) { key in
                    try bits.withUnsafeBytes { try txn.put(dbs.live, key: key, value: $0) }
                    try records.withUnsafeBytes { try txn.put(rows, key: key, value: $0) }
                    try withUnsafeBytes(of: &partition) { try txn.put(owner, key: key, value: $0) }
                }
                for r in used..<bs {
                    try withFreeKey(UInt32(p), block &* UInt32(bs) + UInt32(r)) {
                        try txn.put(pfree, key: $0, value: empty)
                    }
                }
                list.append(block)
            }
            try withKey(UInt32(p)) { key in try list.withUnsafeBytes { try txn.put(parts, key: key, value: $0) } }
        }

        // Every id to its new slot, in key order.
        let cursor = try old.cursor(dbs.ids)
        var entry = try cursor.first()
        while let (id, value) = entry {
            let slot = value.count == 4 ? Int(value.loadUInt32()) : slotCount
            guard slot < slotCount, newSlotOf[slot] != unused else {
                throw CorruptMeta(
                    reason: "id \"\(String(decoding: id, as: UTF8.self))\" points at a slot that is not live")
            }
            try withKey(newSlotOf[slot]) { try txn.put(dbs.ids, key: id, value: $0) }
            entry = try cursor.next()
        }
        try txn.putCounters(dbs, Counters(count: UInt64(n), nextSlot: UInt64(blockCount * bs)))
        return (n, assigned.batches)
    }

    /// The nearest centroid of every live slot's full-precision vector (indexed by slot), assigned
    /// `batchRows` vectors at a time, and the number of batches.
    private func assign(
        _ old: Transaction, records: Records, centroids: Centroids, slotCount: Int, batchRows: Int
    ) throws -> (partitions: [UInt16], batches: Int) {
        let dim = model.dimension
        let bs = blockSize
        var batch = [Float]()
        batch.reserveCapacity(batchRows * dim)
        var keys = [Int]()
        var batches = 0
        /// Assigns the batch, handing each key its partition.
        func flush(_ store: (Int, UInt16) -> Void) {
            guard !keys.isEmpty else { return }
            for (key, p) in zip(keys, centroids.nearest(batch)) { store(key, UInt16(p)) }
            batches += 1
            batch.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
        }
        var partitionOf = [UInt16](repeating: 0, count: slotCount)
        if codes == .fp32 {
            // The vectors are the blocks: read them in slot order.
            var blocks = OldBlocks(txn: old, dbs: dbs, blockBytes: layout.blockBytes, records: records)
            try forEachLiveBlock(old) { block, bits in
                let bytes = try blocks.bytes(of: block)
                for row in liveRows(bits) {
                    batch += layout.read(row: row, from: bytes)
                    keys.append(Int(block) * bs + row)
                    if keys.count == batchRows { flush { partitionOf[$0] = $1 } }
                }
            }
            flush { partitionOf[$0] = $1 }
            return (partitionOf, batches)
        }
        // The full-precision vectors in record order, then each live slot's from its record.
        let full = try fullVectors()
        var recordCount = slotCount
        if records.rows != nil {
            guard let next = try old.metaBytes(dbs, Schema.MetaKey.nextRecord), next.count == 8 else {
                throw CorruptMeta(reason: "the next record number in its metadata is missing or malformed")
            }
            recordCount = Int(next.loadUInt64())
        }
        var partitionOfRecord = [UInt16](repeating: 0, count: recordCount)
        try full.forEach(old, below: recordCount) { record, values in
            batch += floats(values, count: dim)
            keys.append(record)
            if keys.count == batchRows { flush { partitionOfRecord[$0] = $1 } }
        }
        flush { partitionOfRecord[$0] = $1 }
        try forEachLiveBlock(old) { block, bits in
            let rowRecords = try records.rows.map { rows in
                guard let value = try withKey(block, { try old.get(rows, key: $0) }), value.count == bs * 4 else {
                    throw CorruptMeta(reason: "block \(block) has no record numbers")
                }
                return value
            }
            for row in liveRows(bits) {
                let slot = Int(block) * bs + row
                let record =
                    rowRecords.map { Int($0.loadUnaligned(fromByteOffset: row * 4, as: UInt32.self)) } ?? slot
                guard record < recordCount else { throw CorruptMeta(reason: "slot \(slot) has record \(record)") }
                partitionOf[slot] = partitionOfRecord[record]
            }
        }
        return (partitionOf, batches)
    }

    /// Each block with a live bitmap, in block order, with that bitmap (in the map).
    func forEachLiveBlock(_ txn: Transaction, _ body: (UInt32, UnsafeRawBufferPointer) throws -> Void) throws {
        let cursor = try txn.cursor(dbs.live)
        var entry = try cursor.first()
        while let (key, bits) = entry {
            try body(key.loadUInt32(), bits)
            entry = try cursor.next()
        }
    }
}

/// The rows set in a live bitmap, ascending.
func liveRows(_ bits: UnsafeRawBufferPointer) -> [Int] {
    var rows = [Int]()
    for w in 0..<bits.count / 8 {
        var word = bits.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self)
        while word != 0 {
            rows.append(w * 64 + word.trailingZeroBitCount)
            word &= word &- 1
        }
    }
    return rows
}

/// Blocks of a read snapshot and their record numbers, each looked up once while it is used (a
/// partition's vectors come in slot order, so mostly from the same few blocks).
private struct OldBlocks {
    let txn: Transaction
    let dbs: Databases
    let blockBytes: Int
    let rows: Database?
    let blockSize: Int
    private var last: (block: UInt32, bytes: UnsafeRawBufferPointer)?
    private var lastRecords: (block: UInt32, records: UnsafeRawBufferPointer)?

    init(txn: Transaction, dbs: Databases, blockBytes: Int, records: Records) {
        self.txn = txn
        self.dbs = dbs
        self.blockBytes = blockBytes
        self.rows = records.rows
        self.blockSize = records.blockSize
    }

    mutating func bytes(of block: UInt32) throws -> UnsafeRawBufferPointer {
        if let last, last.block == block { return last.bytes }
        guard let bytes = try withKey(block, { try txn.get(dbs.blocks, key: $0) }), bytes.count == blockBytes else {
            throw CorruptMeta(reason: "block \(block) is missing or malformed")
        }
        last = (block, bytes)
        return bytes
    }

    /// The block's record numbers (format 3: UInt32 each, maybe unaligned), or nil when records
    /// are slots.
    mutating func records(of block: UInt32) throws -> UnsafeRawBufferPointer? {
        guard let rows else { return nil }
        if let lastRecords, lastRecords.block == block { return lastRecords.records }
        guard let value = try withKey(block, { try txn.get(rows, key: $0) }), value.count == blockSize * 4 else {
            throw CorruptMeta(reason: "record numbers of block \(block) are missing or malformed")
        }
        lastRecords = (block, value)
        return value
    }
}
