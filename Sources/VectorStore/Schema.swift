import CLMDB
import Foundation

/// How a store lays out its data in one LMDB environment.
///
/// - `meta`: "format" (UInt32), "model" (JSON StoreModel), "blockSize" (UInt32), "count" and
///   "nextSlot" (UInt64). Slots are dense row numbers; a deleted slot goes to `free` for reuse.
/// - `passages`: slot → UInt32 id length, id bytes, text bytes (UTF-8).
/// - `ids`: caller's id (UTF-8) → slot.
/// - `blocks`: block number → `blockSize` float32 vectors, dimension-major: component j of the
///   block's row r is float `j * blockSize + r` (one BLAS call scores the block: see
///   BlockScanner). Always full length, so values live on overflow pages and a scan reads them
///   in place, page-aligned.
/// - `live`: block number → bitmap of the block's live slots (bit i of word i/64).
/// - `free`: slot → empty; deleted slots waiting to be reused.
/// - meta "precisions" (any format; older builds ignore it): a JSON array of the encoder
///   precisions ("fp32", "int8", ...) that writes named when they stored vectors; absent when
///   none did (imported vectors, or a store written before it was kept).
///
/// Format 2 (stores with codes other than fp32, or partitions; plain fp32 stores stay format 1, so
/// older builds keep reading them) adds:
/// - meta "codes" (the `VectorCodes` raw value; absent means fp32) and "centroids" (partitions x
///   dimension float32, unit length; absent means not partitioned).
/// - fp16 and int8 `blocks` are row-major: row r's codes at `r * dimension` (2 or 1 bytes each);
///   int8 blocks end with `blockSize` float32 scales, one per row (see BlockLayout).
/// - `full`: slot → the float32 vector, for rescoring (fp16 and int8 only).
/// - meta "nprobe" (UInt64): the default partitions probed, from `calibrateNprobe`; absent means
///   `VectorStore.defaultNprobe(partitions:)`. A repartition removes it.
/// - `parts`: partition → its block numbers (UInt32 each); `owner`: block → partition.
/// - `pfree`: big-endian (partition, slot) → empty: a partitioned store's free slots, per
///   partition (`free` is unused there). Partitioned stores allocate whole blocks.
///
/// Format 3 (every store a repartition has laid out; new stores are created as format 1 or 2 and
/// become format 3 at their first repartition) keys passages and full-precision vectors by a
/// record number instead of the slot, so that a relayout, which moves vectors to new slots,
/// rewrites only the scanned blocks and small tables, never the texts or the fp32 vectors (27 GB
/// at 8.8M x 768):
/// - `passages` and `full`: record → as above. A passage keeps its record number for life; an
///   upsert that moves its vector to another partition keeps it too.
/// - `rows`: block number → `blockSize` UInt32 record numbers, that of row r at `r * 4` (only
///   live rows mean anything).
/// - `rfree`: record → empty; record numbers of deleted passages, for reuse.
/// - meta "nextRecord" (UInt64): the next record number never used.
/// Turning a format 1 or 2 store into format 3 rewrites nothing either: its records are its old
/// slots (`nextRecord` its `nextSlot`, `rfree` the slots below it that were not live), so the
/// first relayout only writes `rows` to point each new slot at its old one.
///
/// Format 4 (every new store with fp16 or int8 codes) packs the `full` vectors: meta "fullGroup"
/// (UInt64) records per value, the value under key `record / fullGroup` holding them in record
/// order (see FullVectors). Whether passages and full vectors are keyed by slot or by record is
/// then told by meta "nextRecord" alone, which the first relayout adds (and leaves format 4 as it
/// is).
/// Integer keys are native-endian UInt32 with MDB_INTEGERKEY.
enum Schema {
    static let formatVersion = 4
    static let databaseCount: UInt32 = 12
    /// LMDB's default (compile-time) maximum key size.
    static let maxIdBytes = 511

    enum MetaKey {
        static let format = "format"
        static let model = "model"
        static let blockSize = "blockSize"
        static let count = "count"
        static let nextSlot = "nextSlot"
        static let codes = "codes"
        static let centroids = "centroids"
        static let nextRecord = "nextRecord"
        static let nprobe = "nprobe"
        static let fullGroup = "fullGroup"
        static let precisions = "precisions"
    }
}

struct Databases: Sendable {
    let meta: Database
    let passages: Database
    let ids: Database
    let blocks: Database
    let live: Database
    let free: Database
    /// Format 2's databases: nil in a format 1 store opened read-only (a writer creates them).
    let full: Database?
    let parts: Database?
    let owner: Database?
    let pfree: Database?
    /// Format 3's databases: nil in an older store opened read-only.
    let rows: Database?
    let rfree: Database?

    init(_ txn: Transaction, create: Bool) throws(LMDBError) {
        let integer = MDB_INTEGERKEY
        meta = try txn.openDatabase("meta", flags: 0, create: create)
        passages = try txn.openDatabase("passages", flags: integer, create: create)
        ids = try txn.openDatabase("ids", flags: 0, create: create)
        blocks = try txn.openDatabase("blocks", flags: integer, create: create)
        live = try txn.openDatabase("live", flags: integer, create: create)
        free = try txn.openDatabase("free", flags: integer, create: create)
        func optional(_ name: String, _ flags: Int32) throws(LMDBError) -> Database? {
            do {
                return try txn.openDatabase(name, flags: flags, create: create)
            } catch  where error.code == MDB_NOTFOUND {
                return nil
            }
        }
        full = try optional("full", integer)
        parts = try optional("parts", integer)
        owner = try optional("owner", integer)
        pfree = try optional("pfree", 0)
        rows = try optional("rows", integer)
        rfree = try optional("rfree", integer)
    }

    /// Format 2's databases, which only stores that use them need.
    func required(_ db: Database?, _ name: String) throws -> Database {
        guard let db else { throw CorruptMeta(reason: "the \(name) database is missing") }
        return db
    }
}

/// The two numbers every write updates.
struct Counters {
    var count: UInt64
    var nextSlot: UInt64
}

extension Transaction {
    func metaBytes(_ dbs: Databases, _ key: String) throws -> UnsafeRawBufferPointer? {
        try withKey(key) { try get(dbs.meta, key: $0) }
    }

    func putMeta(_ dbs: Databases, _ key: String, _ value: UnsafeRawBufferPointer) throws {
        try withKey(key) { try put(dbs.meta, key: $0, value: value) }
    }

    func putMeta(_ dbs: Databases, _ key: String, integer: UInt64) throws {
        var v = integer
        try withUnsafeBytes(of: &v) { try putMeta(dbs, key, $0) }
    }

    func counters(_ dbs: Databases) throws -> Counters {
        guard let count = try metaBytes(dbs, Schema.MetaKey.count), count.count == 8,
            let next = try metaBytes(dbs, Schema.MetaKey.nextSlot), next.count == 8
        else { throw CorruptMeta(reason: "meta counters missing or malformed") }
        return Counters(count: count.loadUInt64(), nextSlot: next.loadUInt64())
    }

    func putCounters(_ dbs: Databases, _ counters: Counters) throws {
        try putMeta(dbs, Schema.MetaKey.count, integer: counters.count)
        try putMeta(dbs, Schema.MetaKey.nextSlot, integer: counters.nextSlot)
    }

    /// The slot of `id`, compared in NFC as ids are stored.
    func slot(_ dbs: Databases, id: String) throws -> UInt32? {
        let id = PassageID.nfc(id)
        guard !id.isEmpty, id.utf8.count <= Schema.maxIdBytes else { return nil }
        guard let value = try withKey(id, { try get(dbs.ids, key: $0) }) else { return nil }
        guard value.count == 4 else { throw CorruptMeta(reason: "slot of id \"\(id)\" is malformed") }
        return value.loadUInt32()
    }

    /// The passage of record `record` (see `Records`).
    func passage(_ dbs: Databases, record: UInt32) throws -> Passage? {
        guard let value = try withKey(record, { try get(dbs.passages, key: $0) }) else { return nil }
        return try PassageRecord.decode(value, slot: record)
    }

    /// Only the id of record `record`'s passage (a search needs ids, not texts).
    func passageId(_ dbs: Databases, record: UInt32) throws -> String {
        guard let value = try withKey(record, { try get(dbs.passages, key: $0) }) else {
            throw CorruptMeta(reason: "live record \(record) has no passage")
        }
        return try PassageRecord.decodeId(value, slot: record)
    }
}

/// Raised inside transactions; the store turns it into `StoreError.corrupt` with its path.
struct CorruptMeta: Error {
    var reason: String
}

enum PassageRecord {
    static func encode(_ passage: Passage) -> [UInt8] {
        let id = Array(passage.id.utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(4 + id.count + passage.text.utf8.count)
        withUnsafeBytes(of: UInt32(id.count)) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: id)
        bytes.append(contentsOf: passage.text.utf8)
        return bytes
    }

    /// `slot`: the record number, for error messages.
    static func decodeId(_ value: UnsafeRawBufferPointer, slot: UInt32) throws -> String {
        let length = try idLength(value, slot: slot)
        return String(decoding: UnsafeRawBufferPointer(rebasing: value[4..<4 + length]), as: UTF8.self)
    }

    static func decode(_ value: UnsafeRawBufferPointer, slot: UInt32) throws -> Passage {
        let length = try idLength(value, slot: slot)
        let id = String(decoding: UnsafeRawBufferPointer(rebasing: value[4..<4 + length]), as: UTF8.self)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: value[(4 + length)...]), as: UTF8.self)
        return Passage(id: id, text: text)
    }

    private static func idLength(_ value: UnsafeRawBufferPointer, slot: UInt32) throws -> Int {
        guard value.count >= 4 else { throw CorruptMeta(reason: "passage record of slot \(slot) is truncated") }
        let length = Int(value.loadUInt32())
        guard 4 + length <= value.count else {
            throw CorruptMeta(reason: "passage record of slot \(slot) is truncated")
        }
        return length
    }
}
