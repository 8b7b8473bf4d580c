/// Open-addressing hash table from exact UTF-8 byte strings to ids. WordPiece probes it with
/// slices of a reusable buffer, so the hot loop allocates nothing (a [String: Int32] lookup
/// would build a String per candidate piece).
struct ByteTable: Sendable {
    private var arena: [UInt8] = []
    /// Per entry: offset and length in `arena`, and the id.
    private var entries: [(offset: Int, length: Int, id: Int32)] = []
    /// Entry index + 1 per slot; 0 is empty.
    private var slots: [Int32]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Inserts or replaces (the last id for a key wins).
    mutating func insert<Bytes: Collection<UInt8>>(_ key: Bytes, id: Int32) {
        let bytes = Array(key)
        bytes.withUnsafeBufferPointer { buffer in
            var slot = Self.hash(buffer) & mask
            while slots[slot] != 0 {
                let index = Int(slots[slot] - 1)
                if matches(index, buffer) {
                    entries[index].id = id
                    return
                }
                slot = (slot + 1) & mask
            }
            entries.append((arena.count, buffer.count, id))
            arena.append(contentsOf: buffer)
            slots[slot] = Int32(entries.count)
        }
    }

    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = Self.hash(key) & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot] - 1)
            if matches(index, key) { return entries[index].id }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private func matches(_ index: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let entry = entries[index]
        guard entry.length == key.count else { return false }
        return arena.withUnsafeBufferPointer { arena in
            var i = 0
            while i < key.count {
                if arena[entry.offset + i] != key[i] { return false }
                i += 1
            }
            return true
        }
    }
}
