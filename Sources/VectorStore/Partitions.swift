import COpenBLAS
import Foundation

/// A partitioned store's centroids: `count` unit vectors of the store's dimension, row-major.
struct Centroids {
    let count: Int
    let dimension: Int
    /// Owned values, or empty when `mapped` points at them in a read transaction's map.
    let values: [Float]
    private let mapped: UnsafePointer<Float>?

    init(count: Int, dimension: Int, values: [Float]) {
        self.count = count
        self.dimension = dimension
        self.values = values
        self.mapped = nil
    }

    private init(count: Int, dimension: Int, mapped: UnsafePointer<Float>) {
        self.count = count
        self.dimension = dimension
        self.values = []
        self.mapped = mapped
    }

    /// In a read transaction the centroids stay in the map (a search must not copy megabytes);
    /// a write transaction copies them, as its own writes may move the pages they lie on.
    static func read(_ txn: Transaction, _ dbs: Databases, dimension: Int) throws -> Centroids? {
        guard let bytes = try txn.metaBytes(dbs, Schema.MetaKey.centroids) else { return nil }
        guard !bytes.isEmpty, bytes.count % (dimension * 4) == 0 else {
            throw CorruptMeta(reason: "the centroids in its metadata are malformed")
        }
        let count = bytes.count / (dimension * 4)
        if txn.readOnly, Int(bitPattern: bytes.baseAddress) % MemoryLayout<Float>.alignment == 0 {
            return Centroids(
                count: count, dimension: dimension, mapped: bytes.baseAddress!.assumingMemoryBound(to: Float.self))
        }
        var values = [Float](repeating: 0, count: count * dimension)
        values.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        return Centroids(count: count, dimension: dimension, values: values)
    }

    /// The nearest centroid (largest inner product, lowest index on ties) of each row of `rows`.
    /// Scores 4,096 rows at a time, so that a million rows never need a million x count matrix.
    func nearest(_ rows: [Float]) -> [UInt32] {
        let n = rows.count / dimension
        var out = [UInt32]()
        out.reserveCapacity(n)
        let chunk = 4096
        for first in stride(from: 0, to: n, by: chunk) {
            let scores = self.scores(Array(rows[first * dimension..<min(first + chunk, n) * dimension]))
            for r in 0..<scores.count / count {
                var best = 0
                for c in 1..<count where scores[r * count + c] > scores[r * count + best] { best = c }
                out.append(UInt32(best))
            }
        }
        return out
    }

    /// The `nprobe` best partitions for one query, best first.
    func probe(_ query: UnsafeBufferPointer<Float>, nprobe: Int) -> [UInt32] {
        let scores = self.scores(Array(query))
        return Array(
            scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(nprobe)
        )
        .map { UInt32($0) }
    }

    /// rows x count inner products, row-major.
    func scores(_ rows: [Float]) -> [Float] {
        let n = rows.count / dimension
        var out = [Float](repeating: 0, count: n * count)
        guard n > 0 else { return out }
        func multiply(_ centroids: UnsafePointer<Float>) {
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, blasint(n), blasint(count), blasint(dimension), 1, rows,
                blasint(dimension), centroids, blasint(dimension), 0, &out, blasint(count))
        }
        if let mapped { multiply(mapped) } else { values.withUnsafeBufferPointer { multiply($0.baseAddress!) } }
        return out
    }
}

/// Spherical k-means: centroids of unit length, points assigned by largest inner product, each
/// centroid the normalised sum of its points. `points` must be unit vectors, n x dimension.
enum SphericalKMeans {
    static func train(points: [Float], dimension: Int, k: Int, iterations: Int, seed: UInt64) -> [Float] {
        let n = points.count / dimension
        precondition(n >= k && k > 0)
        var rng = SplitMix64(seed: seed)
        // Distinct random points to start from.
        var order = Array(0..<n)
        for i in 0..<k { order.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        var centroids = [Float](repeating: 0, count: k * dimension)
        for (c, p) in order.prefix(k).enumerated() {
            centroids[c * dimension..<(c + 1) * dimension] = points[p * dimension..<(p + 1) * dimension]
        }
        for _ in 0..<iterations {
            let assignment = Centroids(count: k, dimension: dimension, values: centroids).nearest(points)
            var sums = [Float](repeating: 0, count: k * dimension)
            var sizes = [Int](repeating: 0, count: k)
            for (p, c) in assignment.enumerated() {
                let c = Int(c)
                sizes[c] += 1
                for j in 0..<dimension { sums[c * dimension + j] += points[p * dimension + j] }
            }
            for c in 0..<k {
                // An empty partition restarts from a random point.
                if sizes[c] == 0 {
                    let p = Int(rng.next() % UInt64(n))
                    sums[c * dimension..<(c + 1) * dimension] = points[p * dimension..<(p + 1) * dimension]
                }
                let norm = sums[c * dimension..<(c + 1) * dimension].reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
                for j in 0..<dimension { sums[c * dimension + j] /= norm > 0 ? norm : 1 }
            }
            centroids = sums
        }
        return centroids
    }
}

/// SplitMix64: a tiny seeded generator, so that k-means samples (and the benchmarks' and tests'
/// data) are the same from a seed on every platform, which Swift's own generators do not promise.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unitInterval() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// Hands out and takes back slots in one write transaction: dense slot numbers in a plain store;
/// in a partitioned one, free slots of the right partition, else a whole new block for it.
struct SlotAllocator {
    let store: VectorStore
    let txn: Transaction
    var counters: Counters
    let centroids: Centroids?
    /// Partitions whose block lists grew in this transaction.
    private var grown: [UInt32: [UInt32]] = [:]

    init(store: VectorStore, txn: Transaction) throws {
        self.store = store
        self.txn = txn
        self.counters = try txn.counters(store.dbs)
        self.centroids = try Centroids.read(txn, store.dbs, dimension: store.model.dimension)
    }

    /// Each vector's partition, or nil when the store is not partitioned.
    func partitions(for vectors: [[Float]]) throws -> [UInt32]? {
        guard let centroids else { return nil }
        return centroids.nearest(vectors.flatMap { $0 })
    }

    func partition(of slot: UInt32) throws -> UInt32? {
        guard centroids != nil else { return nil }
        let block = slot / UInt32(store.blockSize)
        guard
            let value = try withKey(block, { try txn.get(try store.dbs.required(store.dbs.owner, "owner"), key: $0) }),
            value.count == 4
        else { throw CorruptMeta(reason: "block \(block) has no partition") }
        return value.loadUInt32()
    }

    mutating func take(partition: UInt32?) throws -> UInt32 {
        let dbs = store.dbs
        guard let partition else {
            let cursor = try txn.cursor(dbs.free)
            if let entry = try cursor.first() {
                let slot = entry.key.loadUInt32()
                try cursor.deleteCurrent()
                return slot
            }
            guard counters.nextSlot < UInt64(UInt32.max) else { throw full() }
            defer { counters.nextSlot += 1 }
            return UInt32(counters.nextSlot)
        }
        let pfree = try dbs.required(dbs.pfree, "pfree")
        let cursor = try txn.cursor(pfree)
        if let entry = try withFreeKey(partition, 0, { try cursor.seek(atLeast: $0) }),
            entry.key.count == 8, UInt32(bigEndian: entry.key.loadUInt32()) == partition
        {
            let slot = UInt32(bigEndian: entry.key.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            try cursor.deleteCurrent()
            return slot
        }
        // A new block for this partition: its first row now, the others free.
        let blockSize = UInt64(store.blockSize)
        let start = (counters.nextSlot + blockSize - 1) / blockSize * blockSize
        guard start + blockSize <= UInt64(UInt32.max) else { throw full() }
        counters.nextSlot = start + blockSize
        let block = UInt32(start / blockSize)
        try addBlock(block, to: partition)
        for row in 1..<store.blockSize {
            try withFreeKey(partition, UInt32(start) + UInt32(row)) { key in
                try txn.put(pfree, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
        return UInt32(start)
    }

    /// Records `block` as `partition`'s (its owner and the end of its block list).
    mutating func addBlock(_ block: UInt32, to partition: UInt32) throws {
        let dbs = store.dbs
        var p = partition
        try withKey(block) { key in
            try withUnsafeBytes(of: &p) { try txn.put(try dbs.required(dbs.owner, "owner"), key: key, value: $0) }
        }
        if grown[partition] == nil { grown[partition] = try Self.blocks(of: partition, txn: txn, dbs: dbs) }
        grown[partition]!.append(block)
    }

    mutating func release(_ slot: UInt32) throws {
        let dbs = store.dbs
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        if let partition = try partition(of: slot) {
            try withFreeKey(partition, slot) {
                try txn.put(try dbs.required(dbs.pfree, "pfree"), key: $0, value: empty)
            }
        } else {
            try withKey(slot) { try txn.put(dbs.free, key: $0, value: empty) }
        }
    }

    func save() throws {
        let dbs = store.dbs
        try txn.putCounters(dbs, counters)
        for (partition, blocks) in grown {
            try withKey(partition) { key in
                try blocks.withUnsafeBytes { try txn.put(try dbs.required(dbs.parts, "parts"), key: key, value: $0) }
            }
        }
    }

    static func blocks(of partition: UInt32, txn: Transaction, dbs: Databases) throws -> [UInt32] {
        guard let value = try withKey(partition, { try txn.get(try dbs.required(dbs.parts, "parts"), key: $0) })
        else { return [] }
        return (0..<value.count / 4).map { value.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) }
    }

    private func full() -> StoreError {
        StoreError.invalidOption("the store is full: \(UInt32.max) slots are in use")
    }
}

/// `pfree` keys: big-endian partition then slot, so a partition's free slots sort together.
func withFreeKey<T>(_ partition: UInt32, _ slot: UInt32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    var key = (partition.bigEndian, slot.bigEndian)
    return try withUnsafeBytes(of: &key) { try body($0) }
}
