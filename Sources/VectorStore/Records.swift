import Foundation

/// Where a slot's passage and full-precision vector are kept: under the slot itself until a
/// store's first relayout, under the record number `rows` gives the slot after it (format 3, and
/// format 4 with "nextRecord"; see Schema). Read once per transaction, as a relayout by another
/// process may change it.
struct Records {
    /// nil: records are slots.
    let rows: Database?
    let blockSize: Int

    init(_ txn: Transaction, _ dbs: Databases, blockSize: Int) throws {
        self.blockSize = blockSize
        guard try txn.metaBytes(dbs, Schema.MetaKey.nextRecord) != nil else {
            rows = nil
            return
        }
        guard let rows = dbs.rows else {
            throw CorruptMeta(
                reason: "it was relaid out after this process opened it without the rows database; reopen it")
        }
        self.rows = rows
    }

    /// The record of `slot`, a live slot.
    func record(_ txn: Transaction, slot: UInt32) throws -> UInt32 {
        guard let rows else { return slot }
        let block = slot / UInt32(blockSize)
        guard let value = try withKey(block, { try txn.get(rows, key: $0) }), value.count == blockSize * 4 else {
            throw CorruptMeta(reason: "block \(block) has no record numbers")
        }
        return value.loadUnaligned(fromByteOffset: Int(slot % UInt32(blockSize)) * 4, as: UInt32.self)
    }
}

/// Hands out and takes back record numbers in one write transaction (format 3; in older formats a
/// passage's record is its slot and nothing is allocated here).
struct RecordAllocator {
    let txn: Transaction
    let dbs: Databases
    let records: Records
    private var next: UInt64
    private var changed = false

    init(_ txn: Transaction, _ dbs: Databases, blockSize: Int) throws {
        self.txn = txn
        self.dbs = dbs
        self.records = try Records(txn, dbs, blockSize: blockSize)
        if records.rows != nil {
            guard let bytes = try txn.metaBytes(dbs, Schema.MetaKey.nextRecord), bytes.count == 8 else {
                throw CorruptMeta(reason: "the next record number in its metadata is missing or malformed")
            }
            next = bytes.loadUInt64()
        } else {
            next = 0
        }
    }

    var keyedBySlot: Bool { records.rows == nil }

    /// A record for a new passage stored in `slot`.
    mutating func take(for slot: UInt32) throws -> UInt32 {
        guard !keyedBySlot else { return slot }
        let rfree = try dbs.required(dbs.rfree, "rfree")
        let cursor = try txn.cursor(rfree)
        if let entry = try cursor.first() {
            let record = entry.key.loadUInt32()
            try cursor.deleteCurrent()
            return record
        }
        guard next < UInt64(UInt32.max) else {
            throw StoreError.invalidOption("the store is full: \(UInt32.max) record numbers are in use")
        }
        defer { next += 1 }
        changed = true
        return UInt32(next)
    }

    /// Gives back the record of a deleted passage (its passage and vector already deleted).
    func release(_ record: UInt32) throws {
        guard !keyedBySlot else { return }
        try withKey(record) {
            try txn.put(
                try dbs.required(dbs.rfree, "rfree"), key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    func save() throws {
        if changed { try txn.putMeta(dbs, Schema.MetaKey.nextRecord, integer: next) }
    }
}
