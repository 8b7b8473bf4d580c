import Compute
import Foundation

extension VectorStore {
    public var count: Int {
        (try? read { Int(try $0.counters(dbs).count) }) ?? 0
    }

    /// Exact top-k by inner product, k in 1...1000, ties broken by id ascending.
    public func search(_ query: [Float], k: Int) throws -> [Hit] {
        try search([query], k: k)[0]
    }

    /// Several queries in one scan (one sgemm per block instead of one sgemv per query), all
    /// against the same snapshot; same results as searching them one by one. The blocks are split
    /// over the compute pool, each thread keeping its own selections, merged at the end.
    public func search(_ queries: [[Float]], k: Int) throws -> [[Hit]] {
        guard (1...VectorStore.maxK).contains(k) else { throw StoreError.invalidK(k) }
        guard !queries.isEmpty else { return [] }
        let matrix = try queries.flatMap { try prepared($0, id: nil) }
        return try read { txn in
            let blocks = try mappedBlocks(txn)
            let pool = ComputePool.shared
            let scans = (0..<pool.threads).map { _ in
                SlotScan(
                    scanner: BlockScanner(dimension: model.dimension, blockSize: blockSize, queryCount: queries.count),
                    tops: [TopK](repeating: TopK(k: k), count: queries.count))
            }
            matrix.withUnsafeBufferPointer { matrix in
                pool.run(blocks.count, maxSlots: scans.count) { task, slot in
                    let b = blocks[task]
                    let scan = scans[slot]
                    scan.scanner.scan(
                        block: b.block, vectors: b.vectors, rows: b.rows, live: b.live, queries: matrix.baseAddress!,
                        into: &scan.tops)
                }
            }
            return try (0..<queries.count).map { q in
                var merged = TopK(k: k)
                for scan in scans {
                    for candidate in scan.tops[q].candidates { merged.offer(candidate.score, candidate.slot) }
                }
                return try rank(merged.candidates, k: k, txn: txn)
            }
        }
    }

    /// One pool slot's share of a scan.
    private final class SlotScan {
        let scanner: BlockScanner
        var tops: [TopK]
        init(scanner: BlockScanner, tops: [TopK]) {
            self.scanner = scanner
            self.tops = tops
        }
    }

    /// One block's vectors and live bitmap as they lie in the memory map, and its slots in use.
    private struct MappedBlock {
        let block: UInt32
        let vectors: UnsafeRawBufferPointer
        let rows: Int
        let live: UnsafeRawBufferPointer
    }

    /// Every block, valid while `txn` is.
    private func mappedBlocks(_ txn: Transaction) throws -> [MappedBlock] {
        let counters = try txn.counters(dbs)
        let cursor = try txn.cursor(dbs.blocks)
        let liveCursor = try txn.cursor(dbs.live)
        var entry = try cursor.first()
        var liveEntry = try liveCursor.first()
        var blocks: [MappedBlock] = []
        while let (key, vectors) = entry, let (liveKey, live) = liveEntry {
            let block = key.loadUInt32()
            guard liveKey.loadUInt32() == block else {
                throw CorruptMeta(reason: "block \(block) and its live bitmap are out of step")
            }
            let start = UInt64(block) * UInt64(blockSize)
            let rows = Int(min(UInt64(blockSize), counters.nextSlot > start ? counters.nextSlot - start : 0))
            blocks.append(MappedBlock(block: block, vectors: vectors, rows: rows, live: live))
            entry = try cursor.next()
            liveEntry = try liveCursor.next()
        }
        return blocks
    }

    /// Orders the candidates by score, then id, now that their ids are worth fetching.
    private func rank(_ candidates: [(score: Float, slot: UInt32)], k: Int, txn: Transaction) throws -> [Hit] {
        var hits = try candidates.map { Hit(id: try txn.passageId(dbs, slot: $0.slot), score: $0.score) }
        hits.sort { $0.score != $1.score ? $0.score > $1.score : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return Array(hits.prefix(k))
    }

    public func passages(ids: [String]) throws -> [Passage?] {
        try read { txn in
            try ids.map { id in try txn.slot(dbs, id: id).flatMap { try txn.passage(dbs, slot: $0) } }
        }
    }

    public func passage(id: String) throws -> Passage? {
        try passages(ids: [id])[0]
    }

    /// The stored vector of `id` (cosine stores hold it normalised), or nil when absent.
    public func vector(id: String) throws -> [Float]? {
        try read { txn in
            guard let slot = try txn.slot(dbs, id: id) else { return nil }
            let block = slot / UInt32(blockSize)
            let row = Int(slot % UInt32(blockSize))
            let dim = model.dimension
            guard let values = try withKey(block, { try txn.get(dbs.blocks, key: $0) }),
                values.count >= blockSize * dim * 4
            else { throw CorruptMeta(reason: "no vector for slot \(slot)") }
            return (0..<dim).map { values.loadUnaligned(fromByteOffset: ($0 * blockSize + row) * 4, as: Float.self) }
        }
    }

    public func stats() throws -> StoreStats {
        let count = try read { Int(try $0.counters(dbs).count) }
        let data = URL(fileURLWithPath: path).appendingPathComponent("data.mdb").path
        let size = (try? FileManager.default.attributesOfItem(atPath: data)[.size] as? Int) ?? 0
        return StoreStats(
            count: count, model: model, formatVersion: Schema.formatVersion, bytesOnDisk: size, path: path)
    }
}
