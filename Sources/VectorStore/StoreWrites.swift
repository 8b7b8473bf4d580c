import Foundation

extension VectorStore {
    /// One write transaction: all or nothing. Replaces text and vector of existing ids; when an
    /// id appears twice in `items`, the later one wins. In a partitioned store each vector goes
    /// to the partition of its nearest centroid, moving an existing id when its new vector
    /// belongs elsewhere. Ids obey `PassageID`'s rule and are stored in NFC. `encoderPrecision`:
    /// the precision of the model that made the vectors, kept for `stats` (nil: not known).
    public func upsert(_ items: [(passage: Passage, vector: [Float])], encoderPrecision: String? = nil) throws {
        guard !items.isEmpty else { return }
        var vectors = [[Float]]()
        vectors.reserveCapacity(items.count)
        var textBytes = 0
        var items = items
        for index in items.indices {
            let id = items[index].passage.id
            do {
                items[index].passage.id = try PassageID.checked(id, maxBytes: Schema.maxIdBytes)
            } catch {
                throw StoreError.invalidId(id: id, reason: "id \(error)")
            }
            let item = items[index]
            vectors.append(try prepared(item.vector, id: item.passage.id))
            textBytes += item.passage.id.utf8.count + item.passage.text.utf8.count + 64
        }
        let fullBytes = codes == .fp32 ? 0 : try fullVectors().estimatedBytes(vectors: items.count)
        let touchedBlocks = min(items.count, (items.count + blockSize - 1) / blockSize + 2)
        try write(
            operation: "upsert", estimatedBytes: textBytes + fullBytes + touchedBlocks * layout.blockBytes
        ) { txn in
            var records = try RecordAllocator(txn, dbs, blockSize: blockSize)
            var edit = BlockEdit(store: self, txn: txn, records: records.records)
            var slots = try SlotAllocator(store: self, txn: txn)
            let targets = try slots.partitions(for: vectors)
            var full = codes == .fp32 ? nil : FullVectorEdit(try fullVectors(), txn)
            for (index, (item, vector)) in zip(items, vectors).enumerated() {
                let slot: UInt32
                let record: UInt32
                if let existing = try txn.slot(dbs, id: item.passage.id) {
                    record = try edit.record(of: existing)
                    if let target = targets?[index], try slots.partition(of: existing) != target {
                        // To another partition: a new slot. Format 3 keeps the record, so only
                        // older formats move the passage and the full vector with the slot.
                        try edit.clear(slot: existing)
                        if records.keyedBySlot {
                            _ = try withKey(existing) { try txn.delete(dbs.passages, key: $0) }
                            try full?.remove(record: existing)
                        }
                        try slots.release(existing)
                        slot = try slots.take(partition: target)
                        try withKey(item.passage.id) { key in
                            try withKey(slot) { try txn.put(dbs.ids, key: key, value: $0) }
                        }
                    } else {
                        slot = existing
                    }
                } else {
                    slot = try slots.take(partition: targets?[index])
                    try withKey(item.passage.id) { key in
                        try withKey(slot) { try txn.put(dbs.ids, key: key, value: $0) }
                    }
                    slots.counters.count += 1
                    record = try records.take(for: slot)
                }
                let key = records.keyedBySlot ? slot : record
                let bytes = PassageRecord.encode(item.passage)
                try withKey(key) { key in try bytes.withUnsafeBytes { try txn.put(dbs.passages, key: key, value: $0) } }
                try full?.set(record: key, vector: vector)
                try edit.set(slot: slot, vector: vector, record: key)
            }
            try edit.save()
            try full?.save()
            try slots.save()
            try records.save()
            if let encoderPrecision { try txn.addEncoderPrecision(dbs, encoderPrecision) }
        }
    }

    /// One transaction; throws StoreError.unknownIds([...]) and deletes nothing if any id is absent.
    public func delete(ids: [String]) throws {
        var seen = Set<String>()
        let unique = ids.map(PassageID.nfc).filter { seen.insert($0).inserted }
        guard !unique.isEmpty else { return }
        try write(
            operation: "delete", estimatedBytes: min(unique.count, 64) * layout.blockBytes + unique.count * 128
        ) { txn in
            var slots = [UInt32]()
            var missing = [String]()
            for id in unique {
                if let slot = try txn.slot(dbs, id: id) { slots.append(slot) } else { missing.append(id) }
            }
            guard missing.isEmpty else { throw StoreError.unknownIds(missing) }
            let records = try RecordAllocator(txn, dbs, blockSize: blockSize)
            var edit = BlockEdit(store: self, txn: txn, records: records.records)
            var allocator = try SlotAllocator(store: self, txn: txn)
            var full = codes == .fp32 ? nil : FullVectorEdit(try fullVectors(), txn)
            for (id, slot) in zip(unique, slots) {
                try withKey(id) { _ = try txn.delete(dbs.ids, key: $0) }
                let record = try edit.record(of: slot)
                _ = try withKey(record) { try txn.delete(dbs.passages, key: $0) }
                try full?.remove(record: record)
                try records.release(record)
                try allocator.release(slot)
                try edit.clear(slot: slot)
                allocator.counters.count -= 1
            }
            try edit.save()
            try allocator.save()
        }
    }

    /// Checks a vector and brings it to the store's similarity (unit length for cosine).
    func prepared(_ vector: [Float], id: String?) throws -> [Float] {
        let norm = try Self.check(vector, id: id, model: model)
        return model.similarity == .cosine ? vector.map { $0 / norm } : vector
    }

    /// What a vector must be to go into a store of `model`, checked without a store (an import
    /// checks every vector before it creates or writes anything); returns what a cosine store
    /// divides it by, its length (1 for other similarities, which keep vectors as they are).
    @discardableResult
    public static func check(_ vector: [Float], id: String?, model: StoreModel) throws -> Float {
        guard vector.count == model.dimension else {
            throw StoreError.dimensionMismatch(id: id, expected: model.dimension, got: vector.count)
        }
        guard vector.allSatisfy(\.isFinite) else {
            throw StoreError.invalidVector(id: id, reason: "it contains NaN or infinite values")
        }
        guard model.similarity == .cosine else { return 1 }
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else {
            throw StoreError.invalidVector(id: id, reason: "a zero vector has no direction (cosine similarity)")
        }
        return norm
    }
}

/// The blocks one write transaction changes, copied out of the map once, edited, written back once.
struct BlockEdit {
    let store: VectorStore
    let txn: Transaction
    let records: Records
    /// Format 3's `rows`, which `set` keeps up to date; nil in older formats.
    var rowsDB: Database? { records.rows }
    var blocks: [UInt32: [UInt8]] = [:]
    var live: [UInt32: [UInt64]] = [:]
    var rows: [UInt32: [UInt32]] = [:]

    init(store: VectorStore, txn: Transaction, records: Records) {
        self.store = store
        self.txn = txn
        self.records = records
    }

    /// The record of a live slot, as this transaction left it.
    func record(of slot: UInt32) throws -> UInt32 {
        let block = slot / UInt32(store.blockSize)
        if let loaded = rows[block] { return loaded[Int(slot % UInt32(store.blockSize))] }
        return try records.record(txn, slot: slot)
    }

    /// Stores `vector` in `slot`, whose passage is kept under `record`.
    mutating func set(slot: UInt32, vector: [Float], record: UInt32) throws {
        let (block, row) = try load(slot)
        let layout = store.layout
        blocks[block]!.withUnsafeMutableBytes { layout.write(vector, row: row, into: $0) }
        live[block]![row / 64] |= UInt64(1) << UInt64(row % 64)
        if rowsDB != nil { rows[block]![row] = record }
    }

    mutating func clear(slot: UInt32) throws {
        let (block, row) = try load(slot)
        let layout = store.layout
        blocks[block]!.withUnsafeMutableBytes { layout.clear(row: row, in: $0) }
        live[block]![row / 64] &= ~(UInt64(1) << UInt64(row % 64))
    }

    mutating func save() throws {
        let dbs = store.dbs
        for (block, bytes) in blocks {
            try withKey(block) { key in
                try txn.putReserved(dbs.blocks, key: key, count: bytes.count) { out in
                    bytes.withUnsafeBytes { out.copyMemory(from: $0) }
                }
            }
            try withKey(block) { key in try live[block]!.withUnsafeBytes { try txn.put(dbs.live, key: key, value: $0) }
            }
            if let rowsDB, let records = rows[block] {
                try withKey(block) { key in try records.withUnsafeBytes { try txn.put(rowsDB, key: key, value: $0) } }
            }
        }
    }

    private mutating func load(_ slot: UInt32) throws -> (block: UInt32, row: Int) {
        let blockSize = store.blockSize
        let block = slot / UInt32(blockSize)
        let row = Int(slot % UInt32(blockSize))
        if blocks[block] == nil {
            let count = store.layout.blockBytes
            var bytes = [UInt8](repeating: 0, count: count)
            if let stored = try withKey(block, { try txn.get(store.dbs.blocks, key: $0) }) {
                guard stored.count == count else {
                    throw CorruptMeta(reason: "block \(block) has \(stored.count) bytes, expected \(count)")
                }
                bytes.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
            }
            blocks[block] = bytes
            var bits = [UInt64](repeating: 0, count: (blockSize + 63) / 64)
            if let stored = try withKey(block, { try txn.get(store.dbs.live, key: $0) }) {
                guard stored.count == bits.count * 8 else {
                    throw CorruptMeta(reason: "live bitmap of block \(block) is malformed")
                }
                bits.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
            }
            live[block] = bits
            if let rowsDB {
                var records = [UInt32](repeating: 0, count: blockSize)
                if let stored = try withKey(block, { try txn.get(rowsDB, key: $0) }) {
                    guard stored.count == blockSize * 4 else {
                        throw CorruptMeta(reason: "record numbers of block \(block) are malformed")
                    }
                    records.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
                }
                rows[block] = records
            }
        }
        return (block, row)
    }
}

extension Transaction {
    /// The encoder precisions that made the stored vectors, sorted (see Schema).
    func encoderPrecisions(_ dbs: Databases) throws -> [String] {
        guard let bytes = try metaBytes(dbs, Schema.MetaKey.precisions) else { return [] }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(bytes)) else {
            throw CorruptMeta(reason: "the encoder precisions in its metadata are unreadable")
        }
        return names
    }

    func addEncoderPrecision(_ dbs: Databases, _ precision: String) throws {
        var names = try encoderPrecisions(dbs)
        guard !names.contains(precision) else { return }
        names = (names + [precision]).sorted()
        try JSONEncoder().encode(names).withUnsafeBytes { try putMeta(dbs, Schema.MetaKey.precisions, $0) }
    }
}
