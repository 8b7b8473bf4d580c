import CKernels
import COpenBLAS
import Compute
import Foundation

/// `nn.Linear`: `bias [out]` and the weights `[out, in]` in the form its precision runs:
/// - fp32: on an AVX2 CPU packed for our kernels (`PackedFloats`); elsewhere the checkpoint's tensor
///   used in place by OpenBLAS (transposed by the GEMM, never copied);
/// - fp16 / int8: only the reduced copy, packed for its kernels (`HalfWeights`, `Int8Weights`).
struct Linear: Sendable {
    enum Weights: Sendable {
        /// Used in place by OpenBLAS (a CPU without AVX2).
        case fp32(FloatTensor)
        case packed(PackedFloats)
        case fp16(HalfWeights)
        case int8(Int8Weights)
    }

    let weights: Weights
    let bias: FloatTensor
    let inFeatures: Int
    let outFeatures: Int

    enum Activation { case none, gelu }

    /// fp32. With an `arena` and an AVX2 CPU, the weights are packed for our kernels, with the
    /// skinny copy too when `forQueries`.
    init(weight: FloatTensor, bias: FloatTensor, packInto arena: PackingArena? = nil, forQueries: Bool = true) {
        self.init(weight: weight, bias: bias, precision: .fp32, arena: arena, forQueries: forQueries)
    }

    /// At `precision`; fp16 and int8 need an `arena` for their packed weights. The caller may drop
    /// `weight` afterwards unless it stays fp32 unpacked (`isPacked` false).
    init(weight: FloatTensor, bias: FloatTensor, precision: Precision, arena: PackingArena?, forQueries: Bool) {
        self.bias = bias
        (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        switch precision {
        case .fp32:
            if let arena, PackedFloats.cpuCanRun {
                weights = .packed(PackedFloats(weight, in: arena, forQueries: forQueries))
            } else {
                weights = .fp32(weight)
            }
        case .fp16:
            weights = .fp16(HalfWeights(weight, in: arena ?? PackingArena()))
        case .int8:
            weights = .int8(Int8Weights(weight, in: arena ?? PackingArena()))
        }
    }

    /// Whether the layer runs on a copy of its weights made at load (the checkpoint's is then unused).
    var isPacked: Bool {
        if case .fp32 = weights { return false }
        return true
    }

    var precision: Precision {
        switch weights {
        case .fp32, .packed: return .fp32
        case .fp16: return .fp16
        case .int8: return .int8
        }
    }

    /// `y[rows, out] = activation(x[rows, in] · weightᵀ + bias)` on the compute pool, one tile of
    /// `y` per task (`GemmTiles`). Each tile is seeded with the bias and the GEMM adds onto it
    /// (beta = 1): OpenBLAS would otherwise spend a pass zeroing `y` and we another adding the bias.
    /// int8, fp16 and panel tiles write `y` whole, bias (and int8's rescale) included.
    func callAsFunction(
        _ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, activation: Activation = .none
    ) {
        guard rows > 0 else { return }
        let (n, k) = (outFeatures, inFeatures)
        let pool = ComputePool.shared
        switch weights {
        case .int8(let q):
            let xq = QuantizedRows(x, rows: rows, depth: k, stride: q.activationStride)
            self(xq, rows: rows, into: y, activation: activation)
        case .fp16(let half):
            let tiles = GemmTiles(rows: rows, columns: n, threads: pool.threads, packed: true, panel: 16)
            pool.run(tiles.count) { task, _ in
                let (r, c) = tiles[task]
                let out = y + r.lowerBound * n + c.lowerBound
                half.multiply(x + r.lowerBound * k, rows: r.count, columns: c, bias: bias.pointer, into: out, ldy: n)
                if activation == .gelu { cascade_gelu(out, Int32(r.count), Int32(c.count), Int32(n)) }
            }
        case .packed(let packed):
            if let skinny = packed.skinny, rows <= GemmTiles.skinnyRows {
                let tiles = GemmTiles(rows: rows, columns: n, threads: pool.threads, packed: true)
                pool.run(tiles.count) { task, _ in
                    let (r, c) = tiles[task]
                    let out = seedBias(y, rows: r, columns: c)
                    cascade_sgemm_nt_skinny(
                        Int32(r.count), Int32(c.count), Int32(k), x + r.lowerBound * k, Int32(k),
                        skinny.columns(from: c.lowerBound), out, Int32(n))
                    if activation == .gelu { cascade_gelu(out, Int32(r.count), Int32(c.count), Int32(n)) }
                }
            } else {
                let tiles = GemmTiles(rows: rows, columns: n, threads: pool.threads, packed: true, panel: 16)
                pool.run(tiles.count) { task, _ in
                    let (r, c) = tiles[task]
                    let out = y + r.lowerBound * n + c.lowerBound
                    cascade_sgemm_nt_panels(
                        Int32(r.count), Int32(c.count), Int32(k), x + r.lowerBound * k, Int32(k),
                        packed.panels.columns(from: c.lowerBound), bias.pointer + c.lowerBound, out, Int32(n))
                    if activation == .gelu { cascade_gelu(out, Int32(r.count), Int32(c.count), Int32(n)) }
                }
            }
        case .fp32(let weight):
            let tiles = GemmTiles(rows: rows, columns: n, threads: pool.threads, packed: false)
            pool.run(tiles.count) { task, _ in
                let (r, c) = tiles[task]
                let out = seedBias(y, rows: r, columns: c)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r.count), Int32(c.count), Int32(k), 1,
                    x + r.lowerBound * k, Int32(k), weight.pointer + c.lowerBound * k, Int32(k), 1, out, Int32(n))
                if activation == .gelu { cascade_gelu(out, Int32(r.count), Int32(c.count), Int32(n)) }
            }
        }
    }

    /// int8: `y = activation(xq · weightᵀ + bias)` from rows already quantized for this layer.
    func callAsFunction(
        _ xq: borrowing QuantizedRows, rows: Int, into y: UnsafeMutablePointer<Float>, activation: Activation = .none
    ) {
        guard case .int8(let q) = weights else { preconditionFailure("quantized rows feed int8 layers only") }
        let (n, k) = (outFeatures, inFeatures)
        let pool = ComputePool.shared
        let level = Int32(Precision.kernelLevel)
        let (bytes, scales, zeros, stride) = (xq.bytes, xq.scales, xq.zeros, xq.stride)
        let tiles = GemmTiles(rows: rows, columns: n, threads: pool.threads, packed: true, panel: 16)
        pool.run(tiles.count) { task, _ in
            let (r, c) = tiles[task]
            let out = y + r.lowerBound * n + c.lowerBound
            cascade_q8_gemm_f32(
                level, Int32(r.count), Int32(c.count), Int32(k), bytes + r.lowerBound * stride, Int32(stride),
                scales + r.lowerBound, zeros + r.lowerBound, q.columns(from: c.lowerBound), q.scales + c.lowerBound,
                q.sums + c.lowerBound, bias.pointer + c.lowerBound, out, Int32(n))
            if activation == .gelu { cascade_gelu(out, Int32(r.count), Int32(c.count), Int32(n)) }
        }
    }

    /// Rows per block of `inBlocks`: a block's fp32 output (32 x 1,536 floats for MiniLM's widest,
    /// 192 KiB) stays in L2 from the GEMM that writes it to the step that reads it.
    static let fusedRows = 32

    /// int8: `x · weightᵀ + bias` a block of `fusedRows` rows at a time into a buffer of the
    /// thread's, each block handed to `consume(block, rows)` (rows `outFeatures` floats apart, the
    /// output's rows `rows`) while it is in L2: a row-wise step after the GEMM reads it there
    /// instead of from memory. The output's rows are computed as `callAsFunction` computes them.
    private func inBlocks(
        _ xq: borrowing QuantizedRows, rows: Int, _ consume: (UnsafeMutablePointer<Float>, Range<Int>) -> Void
    ) {
        guard case .int8(let q) = weights else { preconditionFailure("quantized rows feed int8 layers only") }
        let pool = ComputePool.shared
        let (n, k, block, slots) = (outFeatures, inFeatures, Self.fusedRows, pool.threads)
        // Aligned to cache lines: the GEMM writes 16-float rows of tiles, and a line split in two
        // cost it about a quarter of its speed (a C micro-benchmark, both cores running).
        let raw = UnsafeMutableRawPointer.allocate(byteCount: slots * block * n * 4, alignment: 64)
        defer { raw.deallocate() }
        let buffers = raw.bindMemory(to: Float.self, capacity: slots * block * n)
        let level = Int32(Precision.kernelLevel)
        let (bytes, scales, zeros, stride) = (xq.bytes, xq.scales, xq.zeros, xq.stride)
        pool.run((rows + block - 1) / block, maxSlots: slots) { task, slot in
            let r = task * block..<min(rows, (task + 1) * block)
            let y = buffers + slot * block * n
            cascade_q8_gemm_f32(
                level, Int32(r.count), Int32(n), Int32(k), bytes + r.lowerBound * stride, Int32(stride),
                scales + r.lowerBound, zeros + r.lowerBound, q.columns(from: 0), q.scales, q.sums, bias.pointer, y,
                Int32(n))
            consume(y, r)
        }
    }

    /// A feed-forward block's first layer when it and `next` both run int8: `gelu(x · weightᵀ +
    /// bias)` quantized for `next`, the fp32 intermediate never written out (`inBlocks`). Unfused,
    /// the widest output of the layer (3,200 x 1,536 floats, 20 MB, for a 20-pair rerank) went out
    /// to memory, came back for GELU and again for the quantization; with both cores writing it,
    /// the GEMM ran at about 60% of its speed with the output kept in cache (a C micro-benchmark).
    /// The same bytes as unfused. Nil (run unfused) for other precisions, or for too few rows to
    /// give every thread blocks.
    func geluQuantized(_ x: UnsafePointer<Float>, rows: Int, for next: Linear) -> QuantizedRows? {
        guard case .int8(let q) = weights, case .int8(let nextWeights) = next.weights, Self.fuses(rows: rows)
        else { return nil }
        let n = outFeatures
        let out = QuantizedRows(rows: rows, stride: nextWeights.activationStride)
        let (bytes, scales, zeros, stride) = (out.bytes, out.scales, out.zeros, out.stride)
        let level = Int32(Precision.kernelLevel)
        inBlocks(QuantizedRows(x, rows: rows, depth: inFeatures, stride: q.activationStride), rows: rows) { y, r in
            cascade_gelu(y, Int32(r.count), Int32(n), Int32(n))
            cascade_q8_quantize_rows(
                level, Int32(r.count), Int32(n), y, Int32(n), bytes + r.lowerBound * stride, Int32(stride),
                scales + r.lowerBound, zeros + r.lowerBound)
        }
        return out
    }

    /// Whether `rows` give every thread blocks of `fusedRows` to run fused (a query's do not: one
    /// block would leave the other threads idle).
    private static func fuses(rows: Int) -> Bool { rows >= 2 * fusedRows * ComputePool.shared.threads }

    /// `out = norm(x · weightᵀ + bias + residual)`, `out` not `residual`: for int8 and rows
    /// enough, quantized and then `normalized`, the sum never written out; otherwise the layer into
    /// `out`, then `addLayerNorm` there.
    func addNormalized(
        _ x: UnsafePointer<Float>, rows: Int, residual: UnsafePointer<Float>, norm: LayerNorm,
        into out: UnsafeMutablePointer<Float>
    ) {
        if case .int8(let q) = weights, Self.fuses(rows: rows) {
            let xq = QuantizedRows(x, rows: rows, depth: inFeatures, stride: q.activationStride)
            normalized(xq, rows: rows, residual: residual, norm: norm, into: out)
            return
        }
        self(x, rows: rows, into: out)
        addLayerNorm(out, residual: residual, norm: norm, rows: rows, width: outFeatures, into: out)
    }

    /// int8: `out = norm(xq · weightᵀ + bias + residual)`, the sum never written out (`inBlocks`);
    /// a feed-forward block's second layer (about 3% of an int8 rerank's time) and, through
    /// `addNormalized`, the attention output projection. The same floats as the layer and
    /// `addLayerNorm` one after the other.
    func normalized(
        _ xq: borrowing QuantizedRows, rows: Int, residual: UnsafePointer<Float>, norm: LayerNorm,
        into out: UnsafeMutablePointer<Float>
    ) {
        let n = outFeatures
        inBlocks(xq, rows: rows) { y, r in
            addLayerNorm(
                y, residual: residual + r.lowerBound * n, norm: norm, rows: 0..<r.count, width: n,
                into: out + r.lowerBound * n)
        }
    }

    /// Fills the tile `rows` x `columns` of `y` (rows `outFeatures` apart) with the bias; returns
    /// its first cell.
    private func seedBias(_ y: UnsafeMutablePointer<Float>, rows: Range<Int>, columns: Range<Int>)
        -> UnsafeMutablePointer<Float>
    {
        let n = outFeatures
        let out = y + rows.lowerBound * n + columns.lowerBound
        for i in 0..<rows.count { (out + i * n).update(from: bias.pointer + columns.lowerBound, count: columns.count) }
        return out
    }
}

/// How one GEMM `[rows, columns]` is cut into tasks, and by which kernel.
/// - Up to `skinnyRows` rows (a query) with packed weights: column slices of whole panels, about
///   four per thread; dynamic claiming balances them.
/// - Many rows (a batch): blocks of about 256 rows with every column, so each call is big enough
///   to run at full speed (and OpenBLAS packs the weights once per 256 rows).
/// - In between: one column slice per thread, so each thread reads (OpenBLAS: packs) only its share
///   of the weights, which is what such a GEMM's time goes to.
/// Packed weights (`panel` columns together) are only cut at a panel's start.
struct GemmTiles {
    /// Rows at or below which a query encoder runs the skinny kernel: where it beat OpenBLAS in
    /// encoder-bench. Against the panels, a single-threaded micro-benchmark with the weights
    /// streaming from memory found them even at 12-16 rows (0.93-1.02x) and the panels ahead at
    /// 48 (0.87-0.95x the skinny kernel's time); not retuned in the model.
    static let skinnyRows = 48

    let rows: Int
    let columns: Int
    let rowBlock: Int
    let columnBlock: Int
    let count: Int
    let skinny: Bool

    /// `panel`: the columns the packed weights group together (3 for the skinny fp32 kernel, 16 for
    /// the fp32 panels, fp16 and int8); skinny slices start on a panel.
    init(rows: Int, columns: Int, threads: Int, packed: Bool, panel: Int = 3) {
        self.rows = rows
        self.columns = columns
        skinny = rows <= Self.skinnyRows && packed
        if skinny {
            rowBlock = rows
            // About four tasks per thread, in whole panels: each task starts its weights'
            // stream cold, and 48-column tasks made a query's GEMMs 1.07x slower than this.
            columnBlock = max(48, (columns / (4 * threads) + panel - 1) / panel * panel)
        } else if rows >= 256 * threads || threads == 1 {
            let blocks = max(threads, (rows + 255) / 256)
            rowBlock = (rows + blocks - 1) / blocks
            columnBlock = columns
        } else if packed && panel == 16 {
            rowBlock = rows
            // Our kernels on 16-column panels: about four tasks per thread. The cores are shared
            // with the network threads, and with one task per thread a worker that lost its core
            // left the other spinning until it got it back.
            columnBlock = min(columns, max(16, (columns / (4 * threads)) & ~15))
        } else {
            rowBlock = rows
            // One task per thread: OpenBLAS (fp32 on a CPU without AVX2) packs the rows on every call.
            columnBlock = min(columns, ((columns + threads - 1) / threads + 15) & ~15)
        }
        count = ((rows + rowBlock - 1) / rowBlock) * ((columns + columnBlock - 1) / columnBlock)
    }

    subscript(task: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let perRow = (columns + columnBlock - 1) / columnBlock
        let r0 = (task / perRow) * rowBlock
        let c0 = (task % perRow) * columnBlock
        return (r0..<min(rows, r0 + rowBlock), c0..<min(columns, c0 + columnBlock))
    }
}

/// `nn.LayerNorm` over the last dimension.
struct LayerNorm: Sendable {
    let weight: FloatTensor
    let bias: FloatTensor
    let eps: Float
}

@inline(__always)
private func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// `out[r] = LayerNorm(x[r] + residual[r])` for every row, on the compute pool; `x` is overwritten
/// with the sum and may be `out` itself.
func addLayerNorm(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, norm: LayerNorm, rows: Int, width: Int,
    into out: UnsafeMutablePointer<Float>
) {
    ComputePool.shared.forEachRange(rows) { range in
        addLayerNorm(x, residual: residual, norm: norm, rows: range, width: width, into: out)
    }
}

/// The rows `rows` of `addLayerNorm`. Sums use 16 lanes: LLVM does not vectorise float reductions
/// on its own.
func addLayerNorm(
    _ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, norm: LayerNorm, rows: Range<Int>,
    width: Int, into out: UnsafeMutablePointer<Float>
) {
    let gamma = norm.weight.pointer
    let beta = norm.bias.pointer
    let vectorEnd = width & ~15
    for r in rows {
        let v = x + r * width
        if let residual {
            let res = residual + r * width
            for j in 0..<width { v[j] += res[j] }
        }
        var lanes = SIMD16<Float>()
        var j = 0
        while j < vectorEnd {
            lanes += load16(v + j)
            j += 16
        }
        var sum = lanes.sum()
        while j < width {
            sum += v[j]
            j += 1
        }
        let mean = sum / Float(width)
        lanes = SIMD16<Float>()
        j = 0
        while j < vectorEnd {
            let d = load16(v + j) - mean
            lanes += d * d
            j += 16
        }
        var squares = lanes.sum()
        while j < width {
            let d = v[j] - mean
            squares += d * d
            j += 1
        }
        let scale = 1 / (squares / Float(width) + norm.eps).squareRoot()
        let o = out + r * width
        for k in 0..<width { o[k] = (v[k] - mean) * scale * gamma[k] + beta[k] }
    }
}

/// Whether attention runs `cascade_attention_head` (an AVX2 CPU) rather than two OpenBLAS GEMMs per
/// sequence and head.
let packedAttention = cascade_avx2_available() == 1

/// Scaled dot-product attention for every (sequence, head) on packed tokens: `qkv` holds rows
/// `[q | k | v]` of `3 * hidden` floats, sequences are contiguous runs of rows, so no padding is
/// computed and no mask is needed. Writes `context [tokens, hidden]`, or with `clsOnly` just the
/// `[CLS]` query's row of each sequence as `context [sequences, hidden]`. One task per (sequence,
/// head) on the compute pool; `scratch` holds `perSlot` floats for each of `slots` pool slots
/// (`Scratch.attentionFloats`).
func selfAttention(
    qkv: UnsafePointer<Float>, heads: Int, headSize: Int, sequences: PackedTokens, clsOnly: Bool,
    scratch: UnsafeMutablePointer<Float>, perSlot: Int, slots: Int, context: UnsafeMutablePointer<Float>
) {
    let hidden = heads * headSize
    let stride = Int32(3 * hidden)
    let scale = 1 / Float(headSize).squareRoot()
    let scoresPerSlot = sequences.maxLength * sequences.maxLength
    ComputePool.shared.run(sequences.count * heads, maxSlots: slots) { task, slot in
        let (s, h) = task.quotientAndRemainder(dividingBy: heads)
        let start = sequences.offsets[s]
        let n = sequences.lengths[s]
        let queries = clsOnly ? 1 : n
        let outputRow = clsOnly ? s : start
        let q = qkv + start * 3 * hidden + h * headSize
        let k = q + hidden
        let v = q + 2 * hidden
        let p = scratch + slot * perSlot
        let out = context + outputRow * hidden + h * headSize
        if packedAttention {
            cascade_attention_head(
                Int32(queries), Int32(n), Int32(headSize), scale, q, k, v, stride, p, p + scoresPerSlot, out,
                Int32(hidden))
            return
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(queries), Int32(n), Int32(headSize), scale, q, stride, k,
            stride, 0, p, Int32(n))
        cascade_softmax_rows(p, Int32(queries), Int32(n))
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(queries), Int32(headSize), Int32(n), 1, p, Int32(n), v,
            stride, 0, out, Int32(hidden))
    }
}
