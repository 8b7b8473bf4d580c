import CKernels
import COpenBLAS
import Foundation
import Testing

@testable import Transformer

/// The GEMM paths of `Linear` against OpenBLAS's plain `cblas_sgemm` as the reference.
@Suite struct GemmTests {
    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state >> 11) % 1_000_000) / 1_000_000
        }
    }

    /// `y + x · wᵀ` by OpenBLAS.
    static func reference(_ x: [Float], _ w: [Float], _ y: [Float], rows: Int, columns: Int, depth: Int) -> [Float] {
        var out = y
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(columns), Int32(depth), 1, x, Int32(depth), w,
            Int32(depth), 1, &out, Int32(columns))
        return out
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func skinnyKernelMatchesOpenBLAS() throws {
        try #require(cascade_avx2_available() == 1, "this CPU has no AVX2/FMA; the kernel is never used here")
        for rows in [1, 2, 3, 4, 5, 7, 16, 33] {
            for columns in [1, 2, 3, 4, 5, 47, 48, 50] {
                for depth in [1, 7, 8, 9, 31, 384] {
                    let x = Self.values(rows * depth, seed: UInt64(rows * 1000 + depth))
                    let w = Self.values(columns * depth, seed: UInt64(columns * 7 + depth))
                    let y = Self.values(rows * columns, seed: 99)
                    var got = y
                    cascade_sgemm_nt_skinny(
                        Int32(rows), Int32(columns), Int32(depth), x, Int32(depth), w, Int32(depth), &got,
                        Int32(columns))
                    let expected = Self.reference(x, w, y, rows: rows, columns: columns, depth: depth)
                    let difference = Self.maxDifference(got, expected)
                    #expect(difference < 1e-4, "rows \(rows) columns \(columns) depth \(depth): \(difference)")
                }
            }
        }
    }

    /// Strided operands: a column slice of `y` and `w` inside bigger matrices, as the pool's tasks use them.
    @Test func skinnyKernelOnSlices() throws {
        try #require(cascade_avx2_available() == 1)
        let (rows, columns, depth, ld) = (6, 20, 40, 64)
        let x = Self.values(rows * ld, seed: 1)
        let w = Self.values(30 * ld, seed: 2)
        var y = [Float](repeating: 0.5, count: rows * 32)
        cascade_sgemm_nt_skinny(Int32(rows), Int32(columns), Int32(depth), x, Int32(ld), w, Int32(ld), &y, 32)
        for i in 0..<rows {
            for j in 0..<32 {
                var expected: Float = 0.5
                if j < columns { for p in 0..<depth { expected += x[i * ld + p] * w[j * ld + p] } }
                #expect(abs(y[i * 32 + j] - expected) < 1e-4, "y[\(i)][\(j)]")
            }
        }
    }

    @Test(arguments: [(1, 8), (7, 8), (100, 8), (600, 4), (4096, 2), (300, 1), (17, 3)])
    func tilesCoverEveryCellOnce(rows: Int, threads: Int) {
        for columns in [1, 5, 48, 384, 1152] {
            let tiles = GemmTiles(rows: rows, columns: columns, threads: threads)
            var hits = [Int](repeating: 0, count: rows * columns)
            for task in 0..<tiles.count {
                let (r, c) = tiles[task]
                #expect(!r.isEmpty && !c.isEmpty)
                for i in r { for j in c { hits[i * columns + j] += 1 } }
            }
            #expect(hits.allSatisfy { $0 == 1 }, "rows \(rows) columns \(columns) threads \(threads)")
        }
    }

    /// `Linear` (bias, GELU, every tiling the row count picks) against OpenBLAS plus the bias
    /// and GELU written out.
    @Test(arguments: [1, 16, 48, 49, 200, 700])
    func linearMatchesReference(rows: Int) {
        let (inFeatures, outFeatures) = (96, 200)
        let weight = Self.values(outFeatures * inFeatures, seed: 5)
        let bias = Self.values(outFeatures, seed: 6)
        let linear = Linear(
            weight: FloatTensor(owning: weight, shape: [outFeatures, inFeatures]),
            bias: FloatTensor(owning: bias, shape: [outFeatures]))
        let x = Self.values(rows * inFeatures, seed: UInt64(rows))
        let biasRows = (0..<rows).flatMap { _ in bias }
        let expected = Self.reference(x, weight, biasRows, rows: rows, columns: outFeatures, depth: inFeatures)
        for activation in [Linear.Activation.none, .gelu] {
            var y = [Float](repeating: .nan, count: rows * outFeatures)
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    linear(x.baseAddress!, rows: rows, into: y.baseAddress!, activation: activation)
                }
            }
            let want =
                activation == .none
                ? expected : expected.map { 0.5 * $0 * (1 + Float(erf(Double($0) / 2.0.squareRoot()))) }
            #expect(Self.maxDifference(y, want) < 1e-4, "rows \(rows), \(activation)")
        }
    }
}
