import Foundation

/// The float32 vectors a store with fp16 or int8 codes keeps beside its blocks for rescoring: the
/// `full` database, keyed by record (see `Records`).
///
/// Formats 2 and 3 keep one vector per value. A 768-dimension vector is 3,072 bytes, too big to
/// sit in a leaf page, so LMDB gives each its own 4 KiB overflow page: 36 GB instead of 27 for
/// 8.8M vectors. Format 4 packs `group` consecutive records into one value, chosen at creation
/// so that the values fill their pages (`group(dimension:)`): 29 records in 22 pages at 768
/// dimensions. A rescore still reads only the pages its candidates lie on, through the map.
struct FullVectors {
    let db: Database
    let dimension: Int
    /// Records per value, fixed at creation: 1 before format 4.
    let group: Int

    var vectorBytes: Int { dimension * 4 }
    var valueBytes: Int { group * vectorBytes }

    /// The group size a store's metadata gives (1 when absent: formats 2 and 3).
    static func group(_ txn: Transaction, _ dbs: Databases) throws -> Int {
        guard let bytes = try txn.metaBytes(dbs, Schema.MetaKey.fullGroup) else { return 1 }
        guard bytes.count == 8, (1...UInt64(maxGroup)).contains(bytes.loadUInt64()) else {
            throw CorruptMeta(reason: "the full-precision vectors' group size in its metadata is malformed")
        }
        return Int(bytes.loadUInt64())
    }

    static let maxGroup = 32
    /// LMDB's header at the start of an overflow run (PAGEHDRSZ on 64-bit builds).
    private static let overflowHeader = 16

    /// The records per value that waste the least of their overflow pages, at most `maxGroup`
    /// (so an upsert rewrites at most that many vectors' bytes); the fewest on a tie.
    static func group(dimension: Int, pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))) -> Int {
        let bytes = dimension * 4
        func pagesPerVector(_ g: Int) -> Double {
            Double((g * bytes + overflowHeader + pageSize - 1) / pageSize) / Double(g)
        }
        return (1...maxGroup).min { pagesPerVector($0) < pagesPerVector($1) } ?? 1
    }

    /// Record `record`'s vector as it lies in the map (maybe unaligned), or nil when none was stored.
    func vector(_ txn: Transaction, record: UInt32) throws -> UnsafeRawBufferPointer? {
        let key = record / UInt32(group)
        guard let value = try withKey(key, { try txn.get(db, key: $0) }) else { return nil }
        guard value.count == valueBytes else {
            throw CorruptMeta(reason: "full-precision vector of record \(record) is malformed")
        }
        let offset = Int(record % UInt32(group)) * vectorBytes
        return UnsafeRawBufferPointer(rebasing: value[offset..<offset + vectorBytes])
    }

    /// Record `record`'s vector, which must be stored (it is `slot`'s, for the error).
    func required(_ txn: Transaction, record: UInt32, slot: UInt32) throws -> UnsafeRawBufferPointer {
        guard let vector = try vector(txn, record: record) else {
            throw CorruptMeta(reason: "no full-precision vector for slot \(slot) (record \(record))")
        }
        return vector
    }

    /// Every stored vector below `limit` in record order. With groups, records deleted (or never
    /// used) that share a value with live ones come too: callers keep only those they know live.
    func forEach(_ txn: Transaction, below limit: Int, _ body: (Int, UnsafeRawBufferPointer) throws -> Void) throws {
        let cursor = try txn.cursor(db)
        var entry = try cursor.first()
        while let (key, value) = entry {
            let first = Int(key.loadUInt32()) * group
            guard value.count == valueBytes, group > 1 || first < limit else {
                throw CorruptMeta(reason: "full-precision vector of record \(first) is malformed")
            }
            for i in 0..<group where first + i < limit {
                try body(first + i, UnsafeRawBufferPointer(rebasing: value[i * vectorBytes..<(i + 1) * vectorBytes]))
            }
            entry = try cursor.next()
        }
    }

    /// An upper bound on the bytes a write of `vectors` vectors adds (each may open a value of its own).
    func estimatedBytes(vectors: Int) -> Int { vectors * (valueBytes + 64) }
}

/// The full-precision vectors one write transaction sets: each value copied out of the map once,
/// edited, written back once.
struct FullVectorEdit {
    let full: FullVectors
    let txn: Transaction
    private var values: [UInt32: [UInt8]] = [:]

    init(_ full: FullVectors, _ txn: Transaction) {
        self.full = full
        self.txn = txn
    }

    mutating func set(record: UInt32, vector: [Float]) throws {
        let key = record / UInt32(full.group)
        if values[key] == nil {
            var bytes = [UInt8](repeating: 0, count: full.valueBytes)
            if let stored = try withKey(key, { try txn.get(full.db, key: $0) }) {
                guard stored.count == bytes.count else {
                    throw CorruptMeta(reason: "full-precision vector of record \(record) is malformed")
                }
                bytes.withUnsafeMutableBytes { $0.copyMemory(from: stored) }
            }
            values[key] = bytes
        }
        let offset = Int(record % UInt32(full.group)) * full.vectorBytes
        values[key]!.withUnsafeMutableBytes { out in
            vector.withUnsafeBytes {
                out.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
            }
        }
    }

    /// Forgets a deleted passage's vector. A grouped value keeps the bytes until the record is
    /// used again (the live bitmaps, not this table, say what is live).
    mutating func remove(record: UInt32) throws {
        guard full.group == 1 else { return }
        values[record] = nil
        _ = try withKey(record) { try txn.delete(full.db, key: $0) }
    }

    func save() throws {
        for (key, bytes) in values {
            try withKey(key) { key in
                try txn.putReserved(full.db, key: key, count: bytes.count) { out in
                    bytes.withUnsafeBytes { out.copyMemory(from: $0) }
                }
            }
        }
    }
}
