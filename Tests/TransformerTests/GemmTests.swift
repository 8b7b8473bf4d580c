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

    /// Two fp32 sums in different orders (OpenBLAS's AVX-512 kernel blocks depth otherwise than
    /// AVX2's, our kernels otherwise than either) part by about eps * sqrt(depth) * the terms'
    /// size: 1.2e-4 was seen at depth 384. A wrong index is off by order one.
    static func tolerance(depth: Int) -> Float { Float(1e-4) * max(1, Float(depth).squareRoot() / 8) }

    /// `w` packed for the skinny kernel, in a buffer aligned as the kernel needs.
    static func packed(_ w: [Float], columns: Int, depth: Int, ldw: Int) -> UnsafeMutableBufferPointer<Float> {
        aligned(cascade_skinny_packed_count(Int32(columns), Int32(depth))) {
            cascade_skinny_pack(Int32(columns), Int32(depth), w, Int32(ldw), $0)
        }
    }

    /// `count` floats in a buffer aligned as the kernels need, filled by `pack`.
    static func aligned(
        _ count: Int, _ pack: (UnsafeMutablePointer<Float>) -> Void
    ) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 4, alignment: 64)
            .bindMemory(to: Float.self)
        pack(buffer.baseAddress!)
        return buffer
    }

    @Test func skinnyKernelMatchesOpenBLAS() throws {
        try #require(cascade_avx2_available() == 1, "this CPU has no AVX2/FMA; the kernel is never used here")
        for rows in [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 33] {
            for columns in [1, 2, 3, 4, 5, 47, 48, 50] {
                for depth in [1, 7, 8, 9, 15, 16, 17, 31, 384] {
                    let x = Self.values(rows * depth, seed: UInt64(rows * 1000 + depth))
                    let w = Self.values(columns * depth, seed: UInt64(columns * 7 + depth))
                    let y = Self.values(rows * columns, seed: 99)
                    let packed = Self.packed(w, columns: columns, depth: depth, ldw: depth)
                    defer { UnsafeMutableRawBufferPointer(packed).deallocate() }
                    var got = y
                    cascade_sgemm_nt_skinny(
                        Int32(rows), Int32(columns), Int32(depth), x, Int32(depth), packed.baseAddress!, &got,
                        Int32(columns))
                    let expected = Self.reference(x, w, y, rows: rows, columns: columns, depth: depth)
                    let difference = Self.maxDifference(got, expected)
                    #expect(
                        difference < Self.tolerance(depth: depth),
                        "rows \(rows) columns \(columns) depth \(depth): \(difference)")
                }
            }
        }
    }

    /// Strided operands and a column slice starting mid-matrix, as the pool's tasks use them: `x`
    /// and `w` rows inside wider buffers, `y` a block of columns in a wider output whose other
    /// cells must stay untouched, and the last row of `x` ending where its buffer ends.
    @Test func skinnyKernelOnSlices() throws {
        try #require(cascade_avx2_available() == 1)
        let (rows, columns, depth, ld) = (6, 30, 41, 64)
        let (first, count) = (9, 20)
        let x = Self.values((rows - 1) * ld + depth, seed: 1)
        let w = Self.values(columns * ld, seed: 2)
        let packed = Self.packed(w, columns: columns, depth: depth, ldw: ld)
        defer { UnsafeMutableRawBufferPointer(packed).deallocate() }
        let panel = cascade_skinny_packed_count(3, Int32(depth))
        var y = [Float](repeating: 0.5, count: rows * 32)
        y.withUnsafeMutableBufferPointer { y in
            cascade_sgemm_nt_skinny(
                Int32(rows), Int32(count), Int32(depth), x, Int32(ld), packed.baseAddress! + first / 3 * panel,
                y.baseAddress! + 2, 32)
        }
        for i in 0..<rows {
            for j in 0..<32 {
                var expected: Float = 0.5
                if (2..<(2 + count)).contains(j) {
                    for p in 0..<depth { expected += x[i * ld + p] * w[(first + j - 2) * ld + p] }
                }
                #expect(abs(y[i * 32 + j] - expected) < 1e-4, "y[\(i)][\(j)]")
            }
        }
    }

    /// `w` packed in panels of 16 columns, in a buffer aligned as the kernel needs.
    static func panels(_ w: [Float], columns: Int, depth: Int, ldw: Int) -> UnsafeMutableBufferPointer<Float> {
        aligned(cascade_panels_packed_count(Int32(columns), Int32(depth))) {
            cascade_panels_pack(Int32(columns), Int32(depth), w, Int32(ldw), $0)
        }
    }

    /// Every row-tile height (1-6 and a remainder), full and partial panels, depths around the
    /// vector width, with a bias and without.
    @Test func panelKernelMatchesOpenBLAS() throws {
        try #require(cascade_avx2_available() == 1, "this CPU has no AVX2/FMA; the kernel is never used here")
        for rows in [1, 2, 3, 4, 5, 6, 7, 13, 100] {
            for columns in [1, 5, 15, 16, 17, 40, 48] {
                for depth in [1, 7, 8, 9, 31, 384] {
                    let x = Self.values(rows * depth, seed: UInt64(rows * 1000 + depth))
                    let w = Self.values(columns * depth, seed: UInt64(columns * 7 + depth))
                    let bias = Self.values(columns, seed: 17)
                    let packed = Self.panels(w, columns: columns, depth: depth, ldw: depth)
                    defer { UnsafeMutableRawBufferPointer(packed).deallocate() }
                    for withBias in [true, false] {
                        var got = [Float](repeating: .nan, count: rows * columns)
                        cascade_sgemm_nt_panels(
                            Int32(rows), Int32(columns), Int32(depth), x, Int32(depth), packed.baseAddress!,
                            withBias ? bias : nil, &got, Int32(columns))
                        let start = (0..<rows).flatMap { _ in withBias ? bias : [Float](repeating: 0, count: columns) }
                        let expected = Self.reference(x, w, start, rows: rows, columns: columns, depth: depth)
                        #expect(
                            Self.maxDifference(got, expected) < Self.tolerance(depth: depth),
                            "rows \(rows) columns \(columns) depth \(depth) bias \(withBias)")
                    }
                }
            }
        }
    }

    /// A column slice from the second panel on, strided `x`, written into a wider output whose
    /// other cells must stay untouched.
    @Test func panelKernelOnSlices() throws {
        try #require(cascade_avx2_available() == 1)
        let (rows, columns, depth, ld) = (8, 50, 41, 64)
        let (first, count) = (16, 21)
        let x = Self.values((rows - 1) * ld + depth, seed: 1)
        let w = Self.values(columns * ld, seed: 2)
        let bias = Self.values(columns, seed: 3)
        let packed = Self.panels(w, columns: columns, depth: depth, ldw: ld)
        defer { UnsafeMutableRawBufferPointer(packed).deallocate() }
        var y = [Float](repeating: 0.5, count: rows * 32)
        bias.withUnsafeBufferPointer { bias in
            y.withUnsafeMutableBufferPointer { y in
                cascade_sgemm_nt_panels(
                    Int32(rows), Int32(count), Int32(depth), x, Int32(ld), packed.baseAddress! + first * depth,
                    bias.baseAddress! + first, y.baseAddress! + 3, 32)
            }
        }
        for i in 0..<rows {
            for j in 0..<32 {
                var expected: Float = 0.5
                if (3..<(3 + count)).contains(j) {
                    expected = bias[first + j - 3]
                    for p in 0..<depth { expected += x[i * ld + p] * w[(first + j - 3) * ld + p] }
                }
                #expect(abs(y[i * 32 + j] - expected) < 1e-4, "y[\(i)][\(j)]")
            }
        }
    }

    /// Pieces of the packing arena are aligned as the kernel's loads need and never overlap,
    /// across chunks and for a piece bigger than a chunk.
    @Test func packingArenaHandsOutDisjointAlignedPieces() {
        let arena = PackingArena()
        let sizes = [1, 17, 1 << 20, 3 << 20, (PackingArena.chunkBytes / 4) + 5, 1 << 20, 1 << 20, 100]
        let pieces = sizes.map { arena.allocate(floats: $0) }
        for (index, (piece, size)) in zip(pieces, sizes).enumerated() {
            #expect(Int(bitPattern: piece) % 64 == 0, "piece \(index) at \(piece)")
            piece.update(repeating: Float(index), count: size)
        }
        for (index, (piece, size)) in zip(pieces, sizes).enumerated() {
            let values = UnsafeBufferPointer(start: piece, count: size)
            #expect(values.allSatisfy { $0 == Float(index) }, "piece \(index) was overwritten")
        }
    }

    @Test(arguments: [(1, 8), (7, 8), (100, 8), (600, 4), (4096, 2), (300, 1), (17, 3)])
    func tilesCoverEveryCellOnce(rows: Int, threads: Int) {
        for columns in [1, 5, 48, 384, 1152] {
            for packed in [false, true] {
                let tiles = GemmTiles(rows: rows, columns: columns, threads: threads, packed: packed)
                var hits = [Int](repeating: 0, count: rows * columns)
                for task in 0..<tiles.count {
                    let (r, c) = tiles[task]
                    #expect(!r.isEmpty && !c.isEmpty)
                    // The skinny kernel's slices must start on a panel of 3 packed columns.
                    #expect(!tiles.skinny || c.lowerBound % 3 == 0)
                    for i in r { for j in c { hits[i * columns + j] += 1 } }
                }
                #expect(hits.allSatisfy { $0 == 1 }, "rows \(rows) columns \(columns) threads \(threads)")
            }
        }
    }

    /// How an fp32 `Linear` keeps its weights.
    enum Packing: CaseIterable { case unpacked, panels, panelsAndSkinny }

    /// `Linear` (bias, GELU, every tiling the row count picks, each packing) against OpenBLAS plus
    /// the bias and GELU written out.
    @Test(arguments: [1, 16, 48, 49, 200, 700], Packing.allCases)
    func linearMatchesReference(rows: Int, packing: Packing) {
        let (inFeatures, outFeatures) = (96, 200)
        let weight = Self.values(outFeatures * inFeatures, seed: 5)
        let bias = Self.values(outFeatures, seed: 6)
        let linear = Linear(
            weight: FloatTensor(owning: weight, shape: [outFeatures, inFeatures]),
            bias: FloatTensor(owning: bias, shape: [outFeatures]),
            packInto: packing == .unpacked ? nil : PackingArena(), forQueries: packing == .panelsAndSkinny)
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
            #expect(Self.maxDifference(y, want) < 1e-4, "rows \(rows), \(packing), \(activation)")
        }
    }
}
