import Foundation

extension VectorStore {
    /// One write transaction: all or nothing. Replaces text and vector of existing ids; when an
    /// id appears twice in `items`, the later one wins.
    public func upsert(_ items: [(passage: Passage, vector: [Float])]) throws {
        guard !items.isEmpty else { return }
        var vectors = [[Float]]()
        vectors.reserveCapacity(items.count)
        var textBytes = 0
        for item in items {
            try validate(id: item.passage.id)
            vectors.append(try prepared(item.vector, id: item.passage.id))
            textBytes += item.passage.id.utf8.count + item.passage.text.utf8.count + 64
        }
        let blockBytes = blockSize * model.dimension * 4
        let touchedBlocks = min(items.count, (items.count + blockSize - 1) / blockSize + 2)
        try write(operation: "upsert", estimatedBytes: textBytes + touchedBlocks * blockBytes) { txn in
            var edit = BlockEdit(store: self, txn: txn)
            var counters = try txn.counters(dbs)
            for (item, vector) in zip(items, vectors) {
                let slot: UInt32
                if let existing = try txn.slot(dbs, id: item.passage.id) {
                    slot = existing
                } else {
                    slot = try takeFreeSlot(txn) ?? newSlot(&counters)
                    try withKey(item.passage.id) { key in
                        try withKey(slot) { try txn.put(dbs.ids, key: key, value: $0) }
                    }
                    counters.count += 1
                }
                let record = PassageRecord.encode(item.passage)
                try withKey(slot) { key in try record.withUnsafeBytes { try txn.put(dbs.passages, key: key, value: $0) }
                }
                try edit.set(slot: slot, vector: vector)
            }
            try edit.save()
            try txn.putCounters(dbs, counters)
        }
    }

    /// One transaction; throws StoreError.unknownIds([...]) and deletes nothing if any id is absent.
    public func delete(ids: [String]) throws {
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        guard !unique.isEmpty else { return }
        let blockBytes = blockSize * model.dimension * 4
        try write(operation: "delete", estimatedBytes: min(unique.count, 64) * blockBytes + unique.count * 128) { txn in
            var slots = [UInt32]()
            var missing = [String]()
            for id in unique {
                if let slot = try txn.slot(dbs, id: id) { slots.append(slot) } else { missing.append(id) }
            }
            guard missing.isEmpty else { throw StoreError.unknownIds(missing) }
            var edit = BlockEdit(store: self, txn: txn)
            var counters = try txn.counters(dbs)
            for (id, slot) in zip(unique, slots) {
                try withKey(id) { _ = try txn.delete(dbs.ids, key: $0) }
                try withKey(slot) { _ = try txn.delete(dbs.passages, key: $0) }
                try withKey(slot) { key in
                    try txn.put(dbs.free, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
                }
                try edit.clear(slot: slot)
                counters.count -= 1
            }
            try edit.save()
            try txn.putCounters(dbs, counters)
        }
    }

    private func validate(id: String) throws {
        guard !id.isEmpty else { throw StoreError.invalidId(id: id, reason: "ids must not be empty") }
        let bytes = id.utf8.count
        guard bytes <= Schema.maxIdBytes else {
            throw StoreError.invalidId(
                id: id, reason: "\(bytes) bytes of UTF-8; at most \(Schema.maxIdBytes) are allowed")
        }
    }

    /// Checks a vector and brings it to the store's similarity (unit length for cosine).
    func prepared(_ vector: [Float], id: String?) throws -> [Float] {
        guard vector.count == model.dimension else {
            throw StoreError.dimensionMismatch(id: id, expected: model.dimension, got: vector.count)
        }
        guard vector.allSatisfy(\.isFinite) else {
            throw StoreError.invalidVector(id: id, reason: "it contains NaN or infinite values")
        }
        guard model.similarity == .cosine else { return vector }
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else {
            throw StoreError.invalidVector(id: id, reason: "a zero vector has no direction (cosine similarity)")
        }
        return vector.map { $0 / norm }
    }

    private func takeFreeSlot(_ txn: Transaction) throws -> UInt32? {
        let cursor = try txn.cursor(dbs.free)
        guard let entry = try cursor.first() else { return nil }
        let slot = entry.key.loadUInt32()
        try cursor.deleteCurrent()
        return slot
    }

    private func newSlot(_ counters: inout Counters) throws -> UInt32 {
        guard counters.nextSlot < UInt64(UInt32.max) else {
            throw StoreError.invalidOption("the store is full: \(UInt32.max) slots are in use")
        }
        defer { counters.nextSlot += 1 }
        return UInt32(counters.nextSlot)
    }
}

/// The blocks one write transaction changes, copied out of the map once, edited, written back once.
private struct BlockEdit {
    let store: VectorStore
    let txn: Transaction
    var vectors: [UInt32: [Float]] = [:]
    var live: [UInt32: [UInt64]] = [:]

    init(store: VectorStore, txn: Transaction) {
        self.store = store
        self.txn = txn
    }

    mutating func set(slot: UInt32, vector: [Float]) throws {
        let (block, row) = try load(slot)
        let blockSize = store.blockSize
        vectors[block]!.withUnsafeMutableBufferPointer { out in
            for (j, value) in vector.enumerated() { out[j * blockSize + row] = value }
        }
        live[block]![row / 64] |= UInt64(1) << UInt64(row % 64)
    }

    mutating func clear(slot: UInt32) throws {
        let (block, row) = try load(slot)
        let (dim, blockSize) = (store.model.dimension, store.blockSize)
        vectors[block]!.withUnsafeMutableBufferPointer { out in
            for j in 0..<dim { out[j * blockSize + row] = 0 }
        }
        live[block]![row / 64] &= ~(UInt64(1) << UInt64(row % 64))
    }

    mutating func save() throws {
        let dbs = store.dbs
        for (block, values) in vectors {
            try withKey(block) { key in
                try txn.putReserved(dbs.blocks, key: key, count: values.count * 4) { out in
                    values.withUnsafeBytes { out.copyMemory(from: $0) }
                }
            }
            try withKey(block) { key in try live[block]!.withUnsafeBytes { try txn.put(dbs.live, key: key, value: $0) }
            }
        }
    }

    private mutating func load(_ slot: UInt32) throws -> (block: UInt32, row: Int) {
        let blockSize = store.blockSize
        let block = slot / UInt32(blockSize)
        let row = Int(slot % UInt32(blockSize))
        if vectors[block] == nil {
            let count = blockSize * store.model.dimension
            var values = [Float](repeating: 0, count: count)
            if let stored = try withKey(block, { try txn.get(store.dbs.blocks, key: $0) }) {
                guard stored.count == count * 4 else {
                    throw CorruptMeta(reason: "block \(block) has \(stored.count) bytes, expected \(count * 4)")
                }
                values.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
            }
            vectors[block] = values
            var bits = [UInt64](repeating: 0, count: (blockSize + 63) / 64)
            if let stored = try withKey(block, { try txn.get(store.dbs.live, key: $0) }) {
                guard stored.count == bits.count * 8 else {
                    throw CorruptMeta(reason: "live bitmap of block \(block) is malformed")
                }
                bits.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
            }
            live[block] = bits
        }
        return (block, row)
    }
}
