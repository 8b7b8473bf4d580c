import CKernels
import Foundation
import Testing

@testable import Transformer

/// The branch-free erf, exp, GELU and softmax of CKernels against libm in double precision, on
/// both the AVX2 path (where the CPU has it) and the portable one.
@Suite struct KernelTests {
    @Test func erfMatchesLibm() {
        var worst: Double = 0
        for i in -100_000...100_000 {
            let x = Float(i) * 6e-5  // [-6, 6]
            worst = max(worst, abs(Double(cascade_erf(x)) - erf(Double(x))))
        }
        #expect(worst < 5e-7, "max abs error \(worst)")
    }

    @Test func expMatchesLibm() {
        var worst: Double = 0
        for i in -100_000...20_000 {
            let x = Float(i) * 8.7e-4  // [-87, 17.4]
            let exact = exp(Double(x))
            worst = max(worst, abs(Double(cascade_exp(x)) - exact) / exact)
        }
        #expect(worst < 5e-7, "max relative error \(worst)")
        #expect(cascade_exp(-200) < 1e-37)
    }

    /// A 3 x 37 tile inside rows of 40 (odd widths reach every tail loop); cells outside stay put.
    @Test(arguments: ["dispatching", "portable"])
    func geluMatchesLibm(name: String) {
        let gelu = name == "portable" ? cascade_gelu_portable : cascade_gelu
        let (rows, columns, stride) = (3, 37, 40)
        let input = (0..<rows * stride).map { Float($0 % 97) * 0.13 - 6 }
        var y = input
        gelu(&y, Int32(rows), Int32(columns), Int32(stride))
        for r in 0..<rows {
            for j in 0..<stride {
                let x = Double(input[r * stride + j])
                let expected = j < columns ? 0.5 * x * (1 + erf(x / 2.0.squareRoot())) : x
                #expect(abs(Double(y[r * stride + j]) - expected) < 5e-6, "\(name) [\(r)][\(j)] of \(x)")
            }
        }
    }

    @Test(arguments: ["dispatching", "portable"])
    func softmaxMatchesReference(name: String) {
        let softmax = name == "portable" ? cascade_softmax_rows_portable : cascade_softmax_rows
        for width in [1, 7, 8, 9, 16, 128, 300] {
            let rows = 3
            let input = (0..<rows * width).map { Float(($0 * 7919) % 1000) * 0.02 - 10 }
            var s = input
            softmax(&s, Int32(rows), Int32(width))
            for r in 0..<rows {
                let row = input[r * width..<(r + 1) * width].map(Double.init)
                let top = row.max()!
                let total = row.map { exp($0 - top) }.reduce(0, +)
                for j in 0..<width {
                    let expected = exp(row[j] - top) / total
                    #expect(abs(Double(s[r * width + j]) - expected) < 1e-6, "\(name) width \(width) [\(r)][\(j)]")
                }
            }
        }
    }
}

/// The attention kernel against attention written out in double precision: query-length and
/// rerank-length sequences, all rows and the `[CLS]` row alone, a head size with a partial panel.
@Suite struct AttentionKernelTests {
    @Test(arguments: [8, 32, 64])
    func attentionHeadMatchesReference(headSize: Int) throws {
        try #require(cascade_avx2_available() == 1, "this CPU has no AVX2/FMA; attention runs on OpenBLAS here")
        // A row holds q, k and v of every head, as the fused projection writes them.
        let heads = 3
        let stride = 3 * headSize * heads
        for n in [1, 2, 7, 12, 17, 160] {
            for queries in Set([1, n]) {
                let qkv = (0..<n * stride).map { Float(($0 * 7919) % 1000) * 0.004 - 2 }
                let h = 1
                let (q, k, v) = (h * headSize, heads * headSize + h * headSize, 2 * heads * headSize + h * headSize)
                let scale = 1 / Float(headSize).squareRoot()
                var scores = [Float](repeating: 0, count: queries * n)
                var keys = [Float](repeating: 0, count: cascade_panels_packed_count(Int32(n), Int32(headSize)))
                // Output rows headSize + 5 floats apart; cells past each row's head stay put.
                let ldo = headSize + 5
                var out = [Float](repeating: 9, count: queries * ldo)
                qkv.withUnsafeBufferPointer { qkv in
                    let base = qkv.baseAddress!
                    cascade_attention_head(
                        Int32(queries), Int32(n), Int32(headSize), scale, base + q, base + k, base + v,
                        Int32(stride), &scores, &keys, &out, Int32(ldo))
                }
                for i in 0..<queries {
                    let logits = (0..<n).map { j in
                        (0..<headSize).reduce(0.0) {
                            $0 + Double(qkv[i * stride + q + $1]) * Double(qkv[j * stride + k + $1])
                        } * Double(scale)
                    }
                    let top = logits.max()!
                    let weights = logits.map { exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for p in 0..<ldo {
                        let expected =
                            p < headSize
                            ? (0..<n).reduce(0.0) { $0 + weights[$1] / total * Double(qkv[$1 * stride + v + p]) } : 9
                        #expect(
                            abs(Double(out[i * ldo + p]) - expected) < 1e-5,
                            "head size \(headSize) n \(n) queries \(queries) [\(i)][\(p)]")
                    }
                }
            }
        }
    }
}
