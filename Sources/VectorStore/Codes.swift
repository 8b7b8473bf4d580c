import CKernels
import Foundation

/// Where a block keeps each row's vector, for the store's codes (see Schema).
///
/// int8 scales are per vector, not per dimension (faiss SQ8 trains a min and a range per
/// dimension on a sample). On real all-MiniLM-L6-v2 embeddings (1,800 debian-desc dev queries as
/// the corpus, 200 others as queries; Benchmarks/peers/int8_scales.py) both keep the exact top
/// 10 equally well from codes alone (recall@10 0.996 per vector, 0.993 per dimension trained on
/// all of it; 1.000 for both after rescoring 400). But a store takes upserts for ever, so
/// per-dimension ranges would be trained on whatever came first: trained on the first 2% they
/// clip what lies outside and recall@10 falls to 0.94 (0.97 on the first 10%), and retraining
/// rewrites every code. A vector's own maximum needs no training and never clips.
struct BlockLayout: Sendable {
    let codes: VectorCodes
    let dimension: Int
    let blockSize: Int

    var blockBytes: Int {
        switch codes {
        case .fp32: return blockSize * dimension * 4
        case .fp16: return blockSize * dimension * 2
        case .int8: return blockSize * (dimension + 4)
        }
    }

    /// Writes `vector` (already prepared: finite, normalised for cosine) as row `row`.
    func write(_ vector: [Float], row: Int, into block: UnsafeMutableRawBufferPointer) {
        let dim = dimension
        switch codes {
        case .fp32:
            // Dimension-major: one BLAS call scores a block (see BlockScanner).
            for (j, value) in vector.enumerated() {
                block.storeBytes(of: value, toByteOffset: (j * blockSize + row) * 4, as: Float.self)
            }
        case .fp16:
            for (j, value) in vector.enumerated() {
                block.storeBytes(of: Float16(value).bitPattern, toByteOffset: (row * dim + j) * 2, as: UInt16.self)
            }
        case .int8:
            let (codes, scale) = Int8Code.encode(vector)
            for (j, code) in codes.enumerated() {
                block.storeBytes(of: Int8Code.biased(code), toByteOffset: row * dim + j, as: UInt8.self)
            }
            block.storeBytes(of: scale, toByteOffset: blockSize * dim + row * 4, as: Float.self)
        }
    }

    /// Copies row `row` of `source` (a block of this layout) to row `to` of `block`, bit for bit.
    func copy(row: Int, of source: UnsafeRawBufferPointer, to target: Int, in block: UnsafeMutableRawBufferPointer) {
        let dim = dimension
        switch codes {
        case .fp32:
            for j in 0..<dim {
                block.storeBytes(
                    of: source.loadUnaligned(fromByteOffset: (j * blockSize + row) * 4, as: UInt32.self),
                    toByteOffset: (j * blockSize + target) * 4, as: UInt32.self)
            }
        case .fp16:
            block.baseAddress!.advanced(by: target * dim * 2).copyMemory(
                from: source.baseAddress!.advanced(by: row * dim * 2), byteCount: dim * 2)
        case .int8:
            block.baseAddress!.advanced(by: target * dim).copyMemory(
                from: source.baseAddress!.advanced(by: row * dim), byteCount: dim)
            block.baseAddress!.advanced(by: blockSize * dim + target * 4).copyMemory(
                from: source.baseAddress!.advanced(by: blockSize * dim + row * 4), byteCount: 4)
        }
    }

    func clear(row: Int, in block: UnsafeMutableRawBufferPointer) {
        write([Float](repeating: 0, count: dimension), row: row, into: block)
    }

    /// Row `row` decoded to floats (exact for fp32; what the scan sees for the others).
    func read(row: Int, from block: UnsafeRawBufferPointer) -> [Float] {
        let dim = dimension
        switch codes {
        case .fp32:
            return (0..<dim).map { block.loadUnaligned(fromByteOffset: ($0 * blockSize + row) * 4, as: Float.self) }
        case .fp16:
            return (0..<dim).map {
                Float(Float16(bitPattern: block.loadUnaligned(fromByteOffset: (row * dim + $0) * 2, as: UInt16.self)))
            }
        case .int8:
            let scale = block.loadUnaligned(fromByteOffset: blockSize * dim + row * 4, as: Float.self)
            return (0..<dim).map {
                Float(Int(block.load(fromByteOffset: row * dim + $0, as: UInt8.self)) - 128) * scale
            }
        }
    }
}

/// Symmetric int8 codes with one scale per vector: code = round(x / scale), scale = max |x| / 127,
/// stored biased (code + 128) as the scan kernel reads them (see scan.h).
enum Int8Code {
    static func biased(_ code: Int8) -> UInt8 { UInt8(Int(code) + 128) }

    static func encode(_ vector: [Float]) -> (codes: [Int8], scale: Float) {
        let top = vector.reduce(Float(0)) { max($0, abs($1)) }
        guard top > 0 else { return ([Int8](repeating: 0, count: vector.count), 0) }
        let scale = top / 127
        return (vector.map { Int8(clamping: Int(($0 / scale).rounded())) }, scale)
    }
}

/// A query as the int8 kernel takes it: components rounded to [-64, 64] (what `vpmaddubsw`
/// multiplies by 255 without saturating), their sum and their scale.
struct Int8Query {
    static let range = 64
    let values: [Int8]
    let sum: Int32
    let scale: Float

    init(_ query: UnsafeBufferPointer<Float>) {
        let top = query.reduce(Float(0)) { max($0, abs($1)) }
        guard top > 0 else {
            values = [Int8](repeating: 0, count: query.count)
            (sum, scale) = (0, 0)
            return
        }
        let scale = top / Float(Self.range)
        values = query.map { Int8(clamping: max(-Self.range, min(Self.range, Int(($0 / scale).rounded())))) }
        sum = values.reduce(Int32(0)) { $0 + Int32($1) }
        self.scale = scale
    }
}

/// Scores one fp16 or int8 block in place against each query with the kernels of scan.h, at the
/// level `cascade_isa_selected()` picks, and feeds live slots to the queries' selections.
final class CodeScanner {
    let layout: BlockLayout
    let queryCount: Int
    private let queries: [Float]
    private let int8Queries: [Int8Query]
    private let level = cascade_isa_selected()
    private let scores: UnsafeMutablePointer<Float>

    /// `queries`: `queryCount` prepared queries, row-major.
    init(layout: BlockLayout, queries: [Float]) {
        self.layout = layout
        self.queryCount = queries.count / layout.dimension
        self.queries = queries
        let dim = layout.dimension
        self.int8Queries =
            layout.codes == .int8
            ? queries.withUnsafeBufferPointer { all in
                (0..<queries.count / dim).map {
                    Int8Query(UnsafeBufferPointer(rebasing: all[$0 * dim..<($0 + 1) * dim]))
                }
            } : []
        self.scores = .allocate(capacity: layout.blockSize)
    }

    deinit { scores.deallocate() }

    func scan(
        block: UInt32, codes: UnsafeRawBufferPointer, rows: Int, live: UnsafeRawBufferPointer, into tops: inout [TopK]
    ) {
        let dim = layout.dimension
        guard rows > 0, codes.count >= layout.blockBytes else { return }
        let base = block &* UInt32(layout.blockSize)
        for q in 0..<queryCount {
            switch layout.codes {
            case .int8:
                let query = int8Queries[q]
                query.values.withUnsafeBufferPointer { values in
                    cascade_scan_int8(
                        Int32(level), codes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        codes.baseAddress! + layout.blockSize * dim, Int32(rows), Int32(dim), values.baseAddress!,
                        query.sum, query.scale, scores)
                }
            case .fp16:
                queries.withUnsafeBufferPointer { all in
                    cascade_scan_fp16(
                        Int32(level), codes.baseAddress!, Int32(rows), Int32(dim), all.baseAddress! + q * dim, scores)
                }
            case .fp32:
                preconditionFailure("fp32 blocks are scanned by BlockScanner")
            }
            selectLive(top: &tops[q], scores: scores, stride: 1, rows: rows, live: live, base: base)
        }
    }
}

/// The rows in use of a block: up to its last live slot (partitioned stores allocate whole blocks
/// and fill them from the front), at most `rows`.
func usedRows(_ live: UnsafeRawBufferPointer, rows: Int) -> Int {
    var w = (rows + 63) / 64
    while w > 0 {
        let word = live.loadUnaligned(fromByteOffset: (w - 1) * 8, as: UInt64.self)
        if word != 0 { return min(rows, (w - 1) * 64 + 64 - word.leadingZeroBitCount) }
        w -= 1
    }
    return 0
}
