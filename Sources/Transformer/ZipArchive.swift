import Foundation

/// The central directory of a zip archive held in a memory map: where each STORED entry's bytes lie.
/// Only what `torch.save` writes is supported (no compression, no encryption, one disk), but every
/// field is checked against the mapped size so that a truncated or corrupt file is an error, not a crash.
struct ZipArchive {
    struct Entry {
        var name: String
        /// Byte offset of the entry's data in the file.
        var dataOffset: Int
        var size: Int
        var crc32: UInt32
    }

    private(set) var entries: [Entry] = []
    private var byName: [String: Int] = [:]

    private let bytes: ByteReader
    private let fileName: String

    init(file: MappedFile, fileName: String) throws {
        self.fileName = fileName
        bytes = ByteReader(base: file.base, size: file.size)
        let directory = try findCentralDirectory()
        try readCentralDirectory(offset: directory.offset, size: directory.size, count: directory.count)
    }

    func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// The entry's bytes, CRC-checked: for small records such as the pickle.
    func checkedData(_ entry: Entry) throws -> UnsafeRawBufferPointer {
        let data = UnsafeRawBufferPointer(start: bytes.base + entry.dataOffset, count: entry.size)
        guard crc32(data) == entry.crc32 else {
            throw fail("'\(entry.name)' fails its CRC-32 check (corrupt file)")
        }
        return data
    }

    private func fail(_ reason: String) -> WeightsError { .malformed(file: fileName, reason: reason) }

    private var truncated: String { "not a complete zip archive (truncated or not a PyTorch zip checkpoint)" }

    private func findCentralDirectory() throws -> (offset: Int, size: Int, count: Int) {
        // The end-of-central-directory record is 22 bytes plus a comment of at most 65535 bytes.
        let lowest = max(0, bytes.size - 22 - 0xFFFF)
        var eocd = bytes.size - 22
        while eocd >= lowest, bytes.u32(eocd) != 0x0605_4b50 { eocd -= 1 }
        guard eocd >= lowest, eocd >= 0 else { throw fail(truncated) }
        var count = Int(bytes.u16(eocd + 10)!)
        var size = Int(bytes.u32(eocd + 12)!)
        var offset = Int(bytes.u32(eocd + 16)!)
        // ZIP64: a locator just before the classic record points at the 64-bit record.
        let locator = eocd - 20
        if locator >= 0, bytes.u32(locator) == 0x0706_4b50 {
            guard let recordOffset = bytes.int64(locator + 8), bytes.u32(recordOffset) == 0x0606_4b50,
                let count64 = bytes.int64(recordOffset + 32), let size64 = bytes.int64(recordOffset + 40),
                let offset64 = bytes.int64(recordOffset + 48)
            else { throw fail("ZIP64 end-of-central-directory record is missing or corrupt") }
            (count, size, offset) = (count64, size64, offset64)
        } else if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            throw fail("ZIP64 archive without its ZIP64 locator (truncated?)")
        }
        guard offset <= bytes.size, size <= bytes.size - offset, count <= size / 46 + 1 else {
            throw fail("central directory lies outside the file (truncated?)")
        }
        return (offset, size, count)
    }

    private mutating func readCentralDirectory(offset: Int, size: Int, count: Int) throws {
        let end = offset + size
        var at = offset
        for index in 0..<count {
            guard at + 46 <= end, bytes.u32(at) == 0x0201_4b50 else {
                throw fail("central directory entry \(index) is corrupt (truncated?)")
            }
            let flags = bytes.u16(at + 8)!
            let method = bytes.u16(at + 10)!
            let crc = bytes.u32(at + 16)!
            var compressedSize = Int(bytes.u32(at + 20)!)
            var size = Int(bytes.u32(at + 24)!)
            let nameLength = Int(bytes.u16(at + 28)!)
            let extraLength = Int(bytes.u16(at + 30)!)
            let commentLength = Int(bytes.u16(at + 32)!)
            var localOffset = Int(bytes.u32(at + 42)!)
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= end else { throw fail("central directory entry \(index) runs past its end") }
            let name = bytes.string(at + 46, count: nameLength)
            // ZIP64 extra field: 64-bit values for exactly those fields saturated at 0xFFFFFFFF, in this order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = bytes.u16(extra)!
                let length = Int(bytes.u16(extra + 2)!)
                guard extra + 4 + length <= extraEnd else { throw fail("'\(name)': corrupt extra field") }
                if id == 0x0001 {
                    var field = extra + 4
                    func take() throws -> Int {
                        guard field + 8 <= extra + 4 + length, let value = bytes.int64(field) else {
                            throw fail("'\(name)': ZIP64 extra field too short")
                        }
                        field += 8
                        return value
                    }
                    if size == 0xFFFF_FFFF { size = try take() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try take() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try take() }
                }
                extra += 4 + length
            }
            guard flags & 1 == 0 else { throw fail("'\(name)' is encrypted") }
            guard method == 0 else {
                throw fail("'\(name)' is compressed (method \(method)); PyTorch checkpoints store entries uncompressed")
            }
            guard compressedSize == size else { throw fail("'\(name)': stored entry with two different sizes") }
            let dataOffset = try localDataOffset(localOffset, name: name)
            guard dataOffset <= bytes.size, size <= bytes.size - dataOffset else {
                throw fail("'\(name)' runs past the end of the file (truncated?)")
            }
            byName[name] = entries.count
            entries.append(Entry(name: name, dataOffset: dataOffset, size: size, crc32: crc))
            at = next
        }
    }

    /// The local header repeats the name and has its own extra field (torch pads it to align the data).
    private func localDataOffset(_ offset: Int, name: String) throws -> Int {
        guard offset <= bytes.size - 30, bytes.u32(offset) == 0x0403_4b50 else {
            throw fail("'\(name)': local header missing or corrupt (truncated?)")
        }
        let nameLength = Int(bytes.u16(offset + 26)!)
        let extraLength = Int(bytes.u16(offset + 28)!)
        return offset + 30 + nameLength + extraLength
    }
}

/// Bounds-checked little-endian reads from a mapped region: nil instead of reading outside it.
struct ByteReader {
    let base: UnsafeRawPointer
    let size: Int

    func u16(_ at: Int) -> UInt16? {
        guard at >= 0, at <= size - 2 else { return nil }
        return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    func u32(_ at: Int) -> UInt32? {
        guard at >= 0, at <= size - 4 else { return nil }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    /// A 64-bit field as a non-negative Int; nil when out of bounds or too large to be an offset.
    func int64(_ at: Int) -> Int? {
        guard at >= 0, at <= size - 8 else { return nil }
        return Int(exactly: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
    }

    func string(_ at: Int, count: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(start: base + at, count: count), as: UTF8.self)
    }
}

private let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ data: UnsafeRawBufferPointer) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}
