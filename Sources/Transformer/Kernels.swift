import COpenBLAS
import Foundation

/// Sets how many threads OpenBLAS uses for one model run (default: all cores). The engine adds no
/// threads of its own, so callers running models concurrently should divide the cores between them.
public func setComputeThreads(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
}

/// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell"), for benchmark reports.
public var computeKernelName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
}

/// `nn.Linear`: `weight [out, in]` used in place (transposed by the GEMM, never copied), `bias [out]`.
struct Linear: Sendable {
    let weight: FloatTensor
    let bias: FloatTensor
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    /// `y[rows, out] = x[rows, in] · weightᵀ`, without the bias: callers fuse it into the next loop.
    func matmul(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        guard rows > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outFeatures), Int32(inFeatures),
            1, x, Int32(inFeatures), weight.pointer, Int32(inFeatures), 0, y, Int32(outFeatures))
    }

    /// `y = x · weightᵀ + bias`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        matmul(x, rows: rows, into: y)
        addBias(y, rows: rows, bias: bias.pointer, width: outFeatures)
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

func addBias(_ y: UnsafeMutablePointer<Float>, rows: Int, bias: UnsafePointer<Float>, width: Int) {
    for r in 0..<rows {
        let row = y + r * width
        for j in 0..<width { row[j] += bias[j] }
    }
}

/// `out[r] = LayerNorm(x[r] + bias + residual[r])` row by row; `x` is overwritten with the sum and
/// may be `out` itself. Sums use 16 lanes: LLVM does not vectorise float reductions on its own.
func addLayerNorm(
    _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?,
    norm: LayerNorm, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>
) {
    let gamma = norm.weight.pointer
    let beta = norm.bias.pointer
    let vectorEnd = width & ~15
    for r in 0..<rows {
        let v = x + r * width
        if let bias {
            for j in 0..<width { v[j] += bias[j] }
        }
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

/// erf for Float to within a few ulp: the rational approximation of Eigen / XLA on [-4, 4]
/// (|erf| rounds to 1 beyond). Branch-free so the GELU loop vectorises, unlike libm's erff.
@inline(__always)
func fastErf(_ a: Float) -> Float {
    let x = Swift.min(Swift.max(a, -4), 4)
    let x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    p *= x
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return p / q
}

/// exp for Float: Cody-Waite reduction to r in [-ln2/2, ln2/2], a degree-6 polynomial, and 2^n built
/// in the exponent bits; relative error about 2e-7. Branch-free so softmax vectorises.
@inline(__always)
func fastExp(_ a: Float) -> Float {
    let x = Swift.min(Swift.max(a, -87), 88)
    let magic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    let r = x - n * 0.693_145_751_953_125 - n * 1.428_606_820_309_417_232_1e-6
    var p: Float = 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let twoToN = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    return p * twoToN
}

/// `y = gelu(y + bias)` with the exact (erf) GELU of `nn.functional.gelu`.
func addBiasGelu(_ y: UnsafeMutablePointer<Float>, rows: Int, bias: UnsafePointer<Float>, width: Int) {
    for r in 0..<rows {
        let row = y + r * width
        for j in 0..<width {
            let v = row[j] + bias[j]
            row[j] = 0.5 * v * (1 + fastErf(v * 0.707_106_781_186_547_6))
        }
    }
}

/// Softmax of each of `rows` rows of `width` values, in place.
func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    let vectorEnd = width & ~15
    for r in 0..<rows {
        let row = s + r * width
        // Eight running maxima: a single one would serialise on compare latency.
        var m = SIMD8<Float>(repeating: -.greatestFiniteMagnitude)
        var j = 0
        while j + 8 <= width {
            let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            m.replace(with: v, where: v .> m)
            j += 8
        }
        var top = m.max()
        while j < width {
            top = Swift.max(top, row[j])
            j += 1
        }
        for k in 0..<width { row[k] = fastExp(row[k] - top) }
        var sums = SIMD16<Float>()
        j = 0
        while j < vectorEnd {
            sums += load16(row + j)
            j += 16
        }
        var total = sums.sum()
        while j < width {
            total += row[j]
            j += 1
        }
        let inverse = 1 / total
        for k in 0..<width { row[k] *= inverse }
    }
}

/// Scaled dot-product attention for every (sequence, head) on packed tokens: `qkv` holds rows
/// `[q | k | v]` of `3 * hidden` floats, sequences are contiguous runs of rows, so no padding is
/// computed and no mask is needed. Writes `context [tokens, hidden]`, or with `clsOnly` just the
/// `[CLS]` query's row of each sequence as `context [sequences, hidden]`; `scores` holds `maxLen²` floats.
func selfAttention(
    qkv: UnsafePointer<Float>, heads: Int, headSize: Int, sequences: PackedTokens, clsOnly: Bool,
    scores: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>
) {
    let hidden = heads * headSize
    let stride = Int32(3 * hidden)
    let scale = 1 / Float(headSize).squareRoot()
    for s in 0..<sequences.count {
        let start = sequences.offsets[s]
        let n = sequences.lengths[s]
        let n32 = Int32(n)
        let queries = clsOnly ? 1 : n
        let outputRow = clsOnly ? s : start
        // OpenBLAS threads a GEMM once M·N·K exceeds 65536 · 4; attention products are so small that
        // waking a second thread costs more than it saves, so query rows go in blocks below that.
        let block = max(1, 262_144 / (n * headSize))
        for h in 0..<heads {
            let q = qkv + start * 3 * hidden + h * headSize
            let k = q + hidden
            let v = q + 2 * hidden
            var r0 = 0
            while r0 < queries {
                let m = min(block, queries - r0)
                let rows = Int32(m)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, rows, n32, Int32(headSize), scale,
                    q + r0 * 3 * hidden, stride, k, stride, 0, scores, n32)
                softmaxRows(scores, rows: m, width: n)
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Int32(headSize), n32, 1, scores, n32, v, stride,
                    0, context + (outputRow + r0) * hidden + h * headSize, Int32(hidden))
                r0 += m
            }
        }
    }
}
