import Compute
import Foundation

extension VectorStore {
    public var count: Int {
        (try? read { Int(try $0.counters(dbs).count) }) ?? 0
    }

    /// Top-k by inner product, k in 1...1000, ties broken by id ascending: exact for fp32 codes
    /// without partitions; see `search(_:k:options:)`.
    public func search(_ query: [Float], k: Int) throws -> [Hit] {
        try search([query], k: k, options: SearchOptions())[0]
    }

    public func search(_ query: [Float], k: Int, options: SearchOptions) throws -> [Hit] {
        try search([query], k: k, options: options)[0]
    }

    public func search(_ queries: [[Float]], k: Int) throws -> [[Hit]] {
        try search(queries, k: k, options: SearchOptions())
    }

    /// The partitions probed by default before a calibration: an eighth of them, at least 8 (all
    /// when fewer).
    public static func defaultNprobe(partitions: Int) -> Int {
        min(partitions, max(8, (partitions + 7) / 8))
    }

    /// The store's default: what `calibrateNprobe` stored, else the rule above.
    func defaultNprobe(_ txn: Transaction, partitions: Int) throws -> Int {
        try calibratedNprobe(txn) ?? VectorStore.defaultNprobe(partitions: partitions)
    }

    func calibratedNprobe(_ txn: Transaction) throws -> Int? {
        guard let bytes = try txn.metaBytes(dbs, Schema.MetaKey.nprobe) else { return nil }
        guard bytes.count == 8, (1...Int(UInt32.max)).contains(Int(bytes.loadUInt64())) else {
            throw CorruptMeta(reason: "the calibrated nprobe in its metadata is malformed")
        }
        return Int(bytes.loadUInt64())
    }

    /// Several queries against one snapshot, same results as one by one. Without partitions they
    /// share one scan (one sgemm per fp32 block instead of one sgemv per query); the blocks are
    /// split over the compute pool, each thread keeping its own selections, merged at the end.
    /// A partitioned store scans, per query, the blocks of the `nprobe` partitions whose centroids
    /// are nearest the query. With fp16 or int8 codes, the best `rescoreK` by code score are
    /// rescored exactly from their full-precision vectors, and the best k of those returned.
    public func search(_ queries: [[Float]], k: Int, options: SearchOptions) throws -> [[Hit]] {
        guard (1...VectorStore.maxK).contains(k) else { throw StoreError.invalidK(k) }
        if let rescoreK = options.rescoreK, !(1...SearchOptions.maxRescoreK).contains(rescoreK) {
            throw StoreError.invalidOption("rescoreK must be in 1...\(SearchOptions.maxRescoreK), got \(rescoreK)")
        }
        if let nprobe = options.nprobe, nprobe < 1 {
            throw StoreError.invalidOption("nprobe must be at least 1, got \(nprobe)")
        }
        guard !queries.isEmpty else { return [] }
        let prepared = try queries.map { try self.prepared($0, id: nil) }
        let candidates = codes == .fp32 ? k : max(k, options.rescoreK ?? 4 * k)
        return try read { txn in
            let centroids = try Centroids.read(txn, dbs, dimension: model.dimension)
            let nprobe = try centroids.map {
                min($0.count, try options.nprobe ?? defaultNprobe(txn, partitions: $0.count))
            }
            var tops: [TopK]
            if let centroids, let nprobe, nprobe < centroids.count {
                try txn.metaBytes(dbs, Schema.MetaKey.format).map { env.readAtRandom(leafValue: $0) }
                tops = try prepared.map { query in
                    let probed = query.withUnsafeBufferPointer { centroids.probe($0, nprobe: nprobe) }
                    var blocks = [UInt32]()
                    for partition in probed { blocks += try SlotAllocator.blocks(of: partition, txn: txn, dbs: dbs) }
                    return try scan(
                        try mappedBlocks(txn, only: blocks.sorted()), queries: [query], candidates: candidates)[0]
                }
            } else {
                tops = try scan(try mappedBlocks(txn, only: nil), queries: prepared, candidates: candidates)
            }
            let records = try Records(txn, dbs, blockSize: blockSize)
            if codes != .fp32 {
                tops = try zip(tops, prepared).map { top, query in
                    try rescore(top.candidates, query: query, k: k, txn: txn, records: records)
                }
            }
            return try tops.map { try rank($0.candidates, k: k, txn: txn, records: records) }
        }
    }

    /// The best `candidates` slots of `blocks` for each query, by the scanned scores.
    private func scan(_ blocks: [MappedBlock], queries: [[Float]], candidates: Int) throws -> [TopK] {
        let matrix = queries.flatMap { $0 }
        let pool = ComputePool.shared
        let scans = (0..<min(pool.threads, max(1, blocks.count))).map { _ in
            SlotScan(
                scanner: codes == .fp32
                    ? .fp32(BlockScanner(dimension: model.dimension, blockSize: blockSize, queryCount: queries.count))
                    : .codes(CodeScanner(layout: layout, queries: matrix)),
                tops: [TopK](repeating: TopK(k: candidates), count: queries.count))
        }
        matrix.withUnsafeBufferPointer { matrix in
            pool.run(blocks.count, maxSlots: scans.count) { task, slot in
                let b = blocks[task]
                let scan = scans[slot]
                switch scan.scanner {
                case .fp32(let scanner):
                    scanner.scan(
                        block: b.block, vectors: b.vectors, rows: b.rows, live: b.live, queries: matrix.baseAddress!,
                        into: &scan.tops)
                case .codes(let scanner):
                    scanner.scan(block: b.block, codes: b.vectors, rows: b.rows, live: b.live, into: &scan.tops)
                }
            }
        }
        return (0..<queries.count).map { q in
            var merged = TopK(k: candidates)
            for scan in scans {
                for candidate in scan.tops[q].candidates { merged.offer(candidate.score, candidate.slot) }
            }
            return merged
        }
    }

    /// Exact scores of `candidates` from their full-precision vectors, read only for them: all
    /// asked of the device first, then read (see `prefetchMapped`).
    private func rescore(
        _ candidates: [(score: Float, slot: UInt32)], query: [Float], k: Int, txn: Transaction, records: Records
    ) throws -> TopK {
        let dim = model.dimension
        let full = try fullVectors()
        let vectors = try candidates.map { candidate in
            let vector = try full.required(
                txn, record: try records.record(txn, slot: candidate.slot), slot: candidate.slot)
            prefetchMapped(vector)
            return vector
        }
        var top = TopK(k: k)
        for (candidate, vector) in zip(candidates, vectors) {
            var score: Float = 0
            for j in 0..<dim { score += vector.loadUnaligned(fromByteOffset: j * 4, as: Float.self) * query[j] }
            top.offer(score, candidate.slot)
        }
        return top
    }

    /// One pool slot's share of a scan.
    private final class SlotScan {
        enum Scanner {
            case fp32(BlockScanner)
            case codes(CodeScanner)
        }
        let scanner: Scanner
        var tops: [TopK]
        init(scanner: Scanner, tops: [TopK]) {
            self.scanner = scanner
            self.tops = tops
        }
    }

    /// One block's vectors and live bitmap as they lie in the memory map, and its slots in use.
    struct MappedBlock {
        let block: UInt32
        let vectors: UnsafeRawBufferPointer
        let rows: Int
        let live: UnsafeRawBufferPointer
    }

    /// Every block (`only` nil) or the listed ones, valid while `txn` is.
    func mappedBlocks(_ txn: Transaction, only: [UInt32]?) throws -> [MappedBlock] {
        let counters = try txn.counters(dbs)
        func mapped(_ block: UInt32, _ vectors: UnsafeRawBufferPointer, _ live: UnsafeRawBufferPointer) throws
            -> MappedBlock
        {
            guard vectors.count == layout.blockBytes, live.count == (blockSize + 63) / 64 * 8 else {
                throw CorruptMeta(reason: "block \(block) or its live bitmap has the wrong size")
            }
            let start = UInt64(block) * UInt64(blockSize)
            let rows = Int(min(UInt64(blockSize), counters.nextSlot > start ? counters.nextSlot - start : 0))
            return MappedBlock(block: block, vectors: vectors, rows: usedRows(live, rows: rows), live: live)
        }
        if let only {
            // A few blocks of a big store: asked for exactly, not with the read-ahead around
            // each fault (see `prefetchMapped`).
            return try only.map { block in
                guard let vectors = try withKey(block, { try txn.get(dbs.blocks, key: $0) }),
                    let live = try withKey(block, { try txn.get(dbs.live, key: $0) })
                else { throw CorruptMeta(reason: "partition block \(block) is missing") }
                prefetchMapped(vectors)
                return try mapped(block, vectors, live)
            }
        }
        let cursor = try txn.cursor(dbs.blocks)
        let liveCursor = try txn.cursor(dbs.live)
        var entry = try cursor.first()
        var liveEntry = try liveCursor.first()
        var blocks: [MappedBlock] = []
        // Without read-ahead (a process that probes partitions), a full scan asks for its blocks.
        let ask = env.readsAtRandom
        while let (key, vectors) = entry, let (liveKey, live) = liveEntry {
            let block = key.loadUInt32()
            guard liveKey.loadUInt32() == block else {
                throw CorruptMeta(reason: "block \(block) and its live bitmap are out of step")
            }
            if ask { prefetchMapped(vectors) }
            blocks.append(try mapped(block, vectors, live))
            entry = try cursor.next()
            liveEntry = try liveCursor.next()
        }
        return blocks
    }

    /// Orders the candidates by score, then id, now that their ids are worth fetching.
    private func rank(_ candidates: [(score: Float, slot: UInt32)], k: Int, txn: Transaction, records: Records)
        throws -> [Hit]
    {
        var hits = try candidates.map {
            Hit(id: try txn.passageId(dbs, record: try records.record(txn, slot: $0.slot)), score: $0.score)
        }
        hits.sort { $0.score != $1.score ? $0.score > $1.score : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        return Array(hits.prefix(k))
    }

    public func passages(ids: [String]) throws -> [Passage?] {
        try read { txn in
            let records = try Records(txn, dbs, blockSize: blockSize)
            return try ids.map { id in
                try txn.slot(dbs, id: id).flatMap { try txn.passage(dbs, record: try records.record(txn, slot: $0)) }
            }
        }
    }

    public func passage(id: String) throws -> Passage? {
        try passages(ids: [id])[0]
    }

    /// The stored vector of `id` (cosine stores hold it normalised) at full precision, or nil
    /// when absent.
    public func vector(id: String) throws -> [Float]? {
        try read { txn in
            let records = try Records(txn, dbs, blockSize: blockSize)
            return try txn.slot(dbs, id: id).map { try fullVector(txn, slot: $0, records: records) }
        }
    }

    /// The partition `id` is stored in, or nil when absent or the store is not partitioned.
    public func partition(id: String) throws -> Int? {
        try read { txn in
            guard let slot = try txn.slot(dbs, id: id), let owner = dbs.owner,
                try Centroids.read(txn, dbs, dimension: model.dimension) != nil
            else { return nil }
            return try withKey(slot / UInt32(blockSize)) { try txn.get(owner, key: $0) }.map { Int($0.loadUInt32()) }
        }
    }

    public func stats() throws -> StoreStats {
        try read { txn in
            let count = Int(try txn.counters(dbs).count)
            let format = try txn.metaBytes(dbs, Schema.MetaKey.format).map { Int($0.loadUInt64()) } ?? 1
            var sizes = [Int]()
            if let centroids = try Centroids.read(txn, dbs, dimension: model.dimension) {
                for partition in 0..<UInt32(centroids.count) {
                    var live = 0
                    for block in try SlotAllocator.blocks(of: partition, txn: txn, dbs: dbs) {
                        guard let bits = try withKey(block, { try txn.get(dbs.live, key: $0) }) else { continue }
                        for w in 0..<bits.count / 8 {
                            live += bits.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self).nonzeroBitCount
                        }
                    }
                    sizes.append(live)
                }
            }
            let calibrated = try calibratedNprobe(txn)
            let data = URL(fileURLWithPath: path).appendingPathComponent("data.mdb").path
            let size = (try? FileManager.default.attributesOfItem(atPath: data)[.size] as? Int) ?? 0
            return StoreStats(
                count: count, model: model, formatVersion: format, bytesOnDisk: size, path: path, codes: codes,
                bytesPerVector: codes.bytesPerVector(dimension: model.dimension), partitionSizes: sizes,
                scannedBytes: try txn.bytes(dbs.blocks), rescoreBytes: try dbs.full.map { try txn.bytes($0) } ?? 0,
                defaultNprobe: sizes.isEmpty ? nil : calibrated ?? VectorStore.defaultNprobe(partitions: sizes.count),
                nprobeCalibrated: calibrated != nil, encoderPrecisions: try txn.encoderPrecisions(dbs))
        }
    }
}
