import CKernels
import Foundation
import Testing

@testable import Transformer

/// The int8 and fp16 GEMM kernels, every path this CPU runs, against plain scalar references:
/// int32 sums exactly (same quantized inputs), fp16 within fp32 rounding of a double-precision sum.
@Suite struct QuantizedKernelTests {
    /// The int8 paths by the level that selects them, and whether this CPU runs each.
    static let int8Paths: [(name: String, level: Int32)] = [
        ("portable", Int32(CASCADE_ISA_PORTABLE)), ("avx2", Int32(CASCADE_ISA_AVX2)),
        ("avx512_vnni", Int32(CASCADE_ISA_AVX512_VNNI)),
    ]
    static let fp16Paths: [(name: String, level: Int32)] = [
        ("portable", Int32(CASCADE_ISA_PORTABLE)), ("avx2", Int32(CASCADE_ISA_AVX2)),
    ]

    /// The levels of `paths` this CPU runs; prints which ran and which were skipped, and why.
    static func runnable(_ paths: [(name: String, level: Int32)], family: String) -> [(name: String, level: Int32)] {
        let supported = cascade_isa_supported()
        let run = paths.filter { $0.level <= supported }
        let skipped = paths.filter { $0.level > supported }.map { "\($0.name) (CPU lacks it)" }
        print(
            "\(family) paths run: \(run.map(\.name).joined(separator: ", "));"
                + " skipped: \(skipped.isEmpty ? "none" : skipped.joined(separator: ", "))")
        return run
    }

    /// A deterministic generator of small integers.
    struct Numbers {
        var state: UInt64
        mutating func next(_ range: ClosedRange<Int>) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return range.lowerBound + Int((state >> 33) % UInt64(range.count))
        }
    }

    /// Weights `[columns, depth]` in [-63, 63], packed, with their row sums.
    static func packInt8(_ q: [Int8], columns: Int, depth: Int) -> (UnsafeMutableRawBufferPointer, [Int32]) {
        let bytes = cascade_q8_packed_bytes(Int32(columns), Int32(depth))
        let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        var sums = [Int32](repeating: 0, count: columns)
        cascade_q8_pack(
            Int32(columns), Int32(depth), q, packed.baseAddress!.assumingMemoryBound(to: Int8.self), &sums)
        return (packed, sums)
    }

    @Test func int8SumsMatchScalarReferenceOnEveryPath() {
        let paths = Self.runnable(Self.int8Paths, family: "int8 GEMM")
        var numbers = Numbers(state: 7)
        for rows in 1...33 {
            for columns in [1, 15, 16, 17, 50] {
                for depth in [1, 3, 4, 5, 32, 67] {
                    let ldq = Int(cascade_q8_padded_depth(Int32(depth))) + 4 * (rows % 2)
                    var x = [UInt8](repeating: 0, count: rows * ldq)
                    for i in 0..<rows { for p in 0..<depth { x[i * ldq + p] = UInt8(numbers.next(0...255)) } }
                    let q = (0..<columns * depth).map { _ in Int8(numbers.next(-63...63)) }
                    let (packed, sums) = Self.packInt8(q, columns: columns, depth: depth)
                    defer { packed.deallocate() }
                    var expected = [Int32](repeating: 0, count: rows * columns)
                    for i in 0..<rows {
                        for j in 0..<columns {
                            var s: Int32 = 0
                            for p in 0..<depth { s += Int32(x[i * ldq + p]) * Int32(q[j * depth + p]) }
                            expected[i * columns + j] = s
                        }
                    }
                    for j in 0..<columns {
                        #expect(sums[j] == q[(j * depth)..<((j + 1) * depth)].reduce(0) { $0 + Int32($1) })
                    }
                    for path in paths {
                        var acc = [Int32](repeating: -1, count: rows * columns)
                        cascade_q8_gemm_s32(
                            path.level, Int32(rows), Int32(columns), Int32(depth), x, Int32(ldq),
                            packed.baseAddress!.assumingMemoryBound(to: Int8.self), &acc, Int32(columns))
                        #expect(acc == expected, "\(path.name): rows \(rows) columns \(columns) depth \(depth)")
                    }
                }
            }
        }
    }

    /// The extremes: every product 255 x ±63, where AVX2's int16 pair sums come closest to saturating.
    @Test func int8ExtremesDoNotSaturate() {
        let (rows, columns, depth) = (5, 18, 1536)
        let x = [UInt8](repeating: 255, count: rows * depth)
        let q = (0..<columns * depth).map { Int8($0 / depth % 2 == 0 ? 63 : -63) }
        let (packed, _) = Self.packInt8(q, columns: columns, depth: depth)
        defer { packed.deallocate() }
        for path in Self.runnable(Self.int8Paths, family: "int8 GEMM") {
            var acc = [Int32](repeating: 0, count: rows * columns)
            cascade_q8_gemm_s32(
                path.level, Int32(rows), Int32(columns), Int32(depth), x, Int32(depth),
                packed.baseAddress!.assumingMemoryBound(to: Int8.self), &acc, Int32(columns))
            for j in 0..<columns {
                let want = Int32(255 * 63 * depth) * (j % 2 == 0 ? 1 : -1)
                #expect((0..<rows).allSatisfy { acc[$0 * columns + j] == want }, "\(path.name) column \(j)")
            }
        }
    }

    /// A column slice from column 16 into a wider output: the cells outside stay untouched.
    @Test func int8SliceWritesOnlyItsCells() {
        let (rows, columns, depth) = (6, 40, 29)
        var numbers = Numbers(state: 3)
        let x = (0..<rows * 32).map { _ in UInt8(numbers.next(0...255)) }
        let q = (0..<columns * depth).map { _ in Int8(numbers.next(-63...63)) }
        let (packed, _) = Self.packInt8(q, columns: columns, depth: depth)
        defer { packed.deallocate() }
        let slice = 16..<37
        let offset = cascade_q8_packed_bytes(16, Int32(depth))
        for path in Self.runnable(Self.int8Paths, family: "int8 GEMM") {
            var acc = [Int32](repeating: -7, count: rows * 48)
            acc.withUnsafeMutableBufferPointer { acc in
                cascade_q8_gemm_s32(
                    path.level, Int32(rows), Int32(slice.count), Int32(depth), x, 32,
                    packed.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Int8.self),
                    acc.baseAddress! + 3, 48)
            }
            for i in 0..<rows {
                for c in 0..<48 {
                    let j = c - 3 + slice.lowerBound
                    let inside = c >= 3 && c < 3 + slice.count
                    var want: Int32 = -7
                    if inside {
                        want = 0
                        for p in 0..<depth { want += Int32(x[i * 32 + p]) * Int32(q[j * depth + p]) }
                    }
                    #expect(acc[i * 48 + c] == want, "\(path.name) [\(i)][\(c)]")
                }
            }
        }
    }

    /// Rows quantized to u8: the same bytes on every path, and each value within half a step of
    /// its row's grid, zero exact.
    @Test func activationQuantizationMatchesReference() {
        let paths = Self.runnable(Self.fp16Paths, family: "u8 activation quantization")
        for depth in [1, 7, 31, 32, 33, 100, 384] {
            let rows = 5
            let ldq = Int(cascade_q8_padded_depth(Int32(depth)))
            var x = GemmTests.values(rows * depth, seed: UInt64(depth)).enumerated().map { i, v in
                i / depth == 1 ? abs(v) * 3 : (i / depth == 2 ? v * 40 : v)
            }
            for p in 0..<depth { x[3 * depth + p] = 0 }  // an all-zero row
            x[4 * depth] = 0
            var results: [[UInt8]] = []
            for path in paths {
                var xq = [UInt8](repeating: 9, count: rows * ldq)
                var scales = [Float](repeating: 0, count: rows)
                var zeros = [Int32](repeating: 0, count: rows)
                cascade_q8_quantize_rows(
                    path.level, Int32(rows), Int32(depth), x, Int32(depth), &xq, Int32(ldq), &scales, &zeros)
                results.append(xq)
                for i in 0..<rows {
                    let row = x[(i * depth)..<((i + 1) * depth)]
                    let (lo, hi) = (min(row.min()!, 0), max(row.max()!, 0))
                    if hi > lo {
                        #expect(abs(scales[i] - (hi - lo) / 255) <= 1e-6 * (hi - lo))
                    }
                    for p in 0..<depth {
                        let back = Float(Int32(xq[i * ldq + p]) - zeros[i]) * scales[i]
                        #expect(
                            abs(back - x[i * depth + p]) <= scales[i] * 0.5001,
                            "\(path.name) depth \(depth) [\(i)][\(p)]")
                        if x[i * depth + p] == 0 { #expect(Int32(xq[i * ldq + p]) == zeros[i]) }
                    }
                    for p in depth..<ldq { #expect(xq[i * ldq + p] == 0, "padding of row \(i)") }
                }
            }
            #expect(results.allSatisfy { $0 == results[0] }, "paths quantize depth \(depth) alike")
        }
    }

    /// The fp32 GEMM: sums rescaled and the bias added, against the formula on the s32 sums in
    /// double; and the same floats on every path.
    @Test func int8RescaleMatchesFormula() {
        let (rows, columns, depth) = (9, 35, 70)
        let w = GemmTests.values(columns * depth, seed: 11)
        let x = GemmTests.values(rows * depth, seed: 12)
        let bias = GemmTests.values(columns, seed: 13)
        var q = [Int8](repeating: 0, count: columns * depth)
        var wscales = [Float](repeating: 0, count: columns)
        cascade_q8_quantize_weights(Int32(columns), Int32(depth), w, Int32(depth), &q, &wscales)
        for j in 0..<columns {
            let row = w[(j * depth)..<((j + 1) * depth)]
            #expect(abs(wscales[j] - row.map(abs).max()! / 63) <= 1e-7)
            for p in 0..<depth {
                #expect(abs(q[j * depth + p]) <= 63)
                #expect(abs(Float(q[j * depth + p]) * wscales[j] - w[j * depth + p]) <= wscales[j] * 0.5001)
            }
        }
        let (packed, sums) = Self.packInt8(q, columns: columns, depth: depth)
        defer { packed.deallocate() }
        let ldq = Int(cascade_q8_padded_depth(Int32(depth)))
        var xq = [UInt8](repeating: 0, count: rows * ldq)
        var xscales = [Float](repeating: 0, count: rows)
        var zeros = [Int32](repeating: 0, count: rows)
        cascade_q8_quantize_rows(0, Int32(rows), Int32(depth), x, Int32(depth), &xq, Int32(ldq), &xscales, &zeros)
        var outputs: [[Float]] = []
        for path in Self.runnable(Self.int8Paths, family: "int8 GEMM + rescale") {
            var acc = [Int32](repeating: 0, count: rows * columns)
            let weights = packed.baseAddress!.assumingMemoryBound(to: Int8.self)
            cascade_q8_gemm_s32(
                path.level, Int32(rows), Int32(columns), Int32(depth), xq, Int32(ldq), weights, &acc, Int32(columns))
            var y = [Float](repeating: .nan, count: rows * columns)
            cascade_q8_gemm_f32(
                path.level, Int32(rows), Int32(columns), Int32(depth), xq, Int32(ldq), xscales, zeros, weights, wscales,
                sums, bias, &y, Int32(columns))
            for i in 0..<rows {
                for j in 0..<columns {
                    let exact =
                        Double(bias[j]) + Double(acc[i * columns + j] - zeros[i] * sums[j]) * Double(xscales[i])
                        * Double(wscales[j])
                    #expect(
                        abs(Double(y[i * columns + j]) - exact) <= 1e-5 * max(1, abs(exact)),
                        "\(path.name) [\(i)][\(j)]")
                }
            }
            outputs.append(y)
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    /// Software half conversion against Swift's `Float16` (the CPU's, round to nearest even).
    @Test func halfConversionMatchesFloat16() {
        for bits in 0...UInt16.max {
            let value = cascade_f16_to_f32(bits)
            let want = Float(Float16(bitPattern: bits))
            #expect(value.isNaN ? want.isNaN : value.bitPattern == want.bitPattern, "bits \(bits)")
        }
        var numbers = Numbers(state: 5)
        var probes: [Float] = [0, -0, 65504, 65519.99, 65520, 1e-8, 5.96e-8, 2.98e-8, 6.1e-5, .infinity, -.infinity]
        for _ in 0..<20_000 {
            let exponent = Float(numbers.next(-30...17))
            probes.append(Float(numbers.next(-1_000_000...1_000_000)) / 1_000_000 * pow(2, exponent))
        }
        for value in probes {
            #expect(cascade_f32_to_f16(value) == Float16(value).bitPattern, "\(value)")
        }
    }

    @Test func fp16GemmMatchesReferenceOnEveryPath() {
        let paths = Self.runnable(Self.fp16Paths, family: "fp16 GEMM")
        for rows in [1, 2, 3, 4, 5, 6, 7, 8, 13, 33] {
            for columns in [1, 2, 3, 7, 16, 17, 50] {
                for depth in [1, 7, 8, 9, 31, 33, 100] {
                    let x = GemmTests.values(rows * depth, seed: UInt64(rows * 31 + depth))
                    let w = GemmTests.values(columns * depth, seed: UInt64(columns * 17 + depth))
                    let bias = GemmTests.values(columns, seed: UInt64(columns))
                    let count = cascade_f16_packed_count(Int32(columns), Int32(depth))
                    let packed = UnsafeMutableRawBufferPointer.allocate(byteCount: count * 2, alignment: 64)
                        .bindMemory(to: UInt16.self)
                    defer { UnsafeMutableRawBufferPointer(packed).deallocate() }
                    cascade_f16_pack(Int32(columns), Int32(depth), w, Int32(depth), packed.baseAddress!)
                    let half = w.map { Double(Float(Float16($0))) }
                    for path in paths {
                        for withBias in [false, true] {
                            // Output rows 3 floats wider than the product: the cells past it stay put.
                            let ldy = columns + 3
                            var y = [Float](repeating: 0.25, count: rows * ldy)
                            bias.withUnsafeBufferPointer { b in
                                cascade_f16_gemm(
                                    path.level, Int32(rows), Int32(columns), Int32(depth), x, Int32(depth),
                                    packed.baseAddress!, withBias ? b.baseAddress : nil, &y, Int32(ldy))
                            }
                            var worst = 0.0
                            for i in 0..<rows {
                                for j in 0..<ldy {
                                    guard j < columns else {
                                        worst = max(worst, abs(0.25 - Double(y[i * ldy + j])))
                                        continue
                                    }
                                    var s = withBias ? Double(bias[j]) : 0
                                    for p in 0..<depth { s += Double(x[i * depth + p]) * half[j * depth + p] }
                                    worst = max(worst, abs(s - Double(y[i * ldy + j])))
                                }
                            }
                            #expect(
                                worst <= 2e-6 * Double(depth),
                                "\(path.name) rows \(rows) columns \(columns) depth \(depth) bias \(withBias): \(worst)"
                            )
                        }
                    }
                }
            }
        }
    }

    /// `Linear` at fp16 and int8 (every tiling the row count picks, bias, GELU) against fp32 OpenBLAS:
    /// the error the reduced weights (and activations) make, bounded relative to the outputs' scale.
    @Test(arguments: [1, 16, 48, 49, 200, 700])
    func reducedLinearStaysCloseToFP32(rows: Int) {
        let (inFeatures, outFeatures) = (96, 200)
        let weight = GemmTests.values(outFeatures * inFeatures, seed: 5)
        let bias = GemmTests.values(outFeatures, seed: 6)
        let x = GemmTests.values(rows * inFeatures, seed: UInt64(rows))
        let expected = GemmTests.reference(
            x, weight, (0..<rows).flatMap { _ in bias }, rows: rows, columns: outFeatures, depth: inFeatures)
        let scale = expected.map(abs).max()!
        for (precision, tolerance) in [(Precision.fp16, Float(1e-3)), (.int8, 0.03)] {
            let linear = Linear(
                weight: FloatTensor(owning: weight, shape: [outFeatures, inFeatures]),
                bias: FloatTensor(owning: bias, shape: [outFeatures]), precision: precision, arena: PackingArena(),
                forQueries: false)
            #expect(linear.precision == precision)
            var y = [Float](repeating: .nan, count: rows * outFeatures)
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in linear(x.baseAddress!, rows: rows, into: y.baseAddress!) }
            }
            let error = GemmTests.maxDifference(y, expected) / scale
            print("Linear \(precision) rows \(rows): max error / max |y| = \(error)")
            #expect(error <= tolerance, "\(precision) rows \(rows): \(error)")
        }
    }

    /// The int8 feed-forward's fused first layer (`geluQuantized`: GEMM, GELU and quantization per
    /// block of rows) gives the very bytes, scales and zero points of the layer run whole with GELU
    /// and its output quantized after, and the fused second layer (`normalized`, and `addNormalized`
    /// from fp32 rows) the very floats of the layer and the norm after it. Too few rows, or a layer
    /// not int8, run unfused.
    @Test(arguments: [333, 700])
    func fusedFeedForwardEqualsUnfused(rows: Int) {
        let (hidden, intermediate) = (96, 200)
        func linear(_ outFeatures: Int, _ inFeatures: Int, seed: UInt64, _ precision: Precision) -> Linear {
            let weight = GemmTests.values(outFeatures * inFeatures, seed: seed)
            let bias = GemmTests.values(outFeatures, seed: seed + 1)
            return Linear(
                weight: FloatTensor(owning: weight, shape: [outFeatures, inFeatures]),
                bias: FloatTensor(owning: bias, shape: [outFeatures]), precision: precision, arena: PackingArena(),
                forQueries: false)
        }
        let up = linear(intermediate, hidden, seed: 7, .int8)
        let down = linear(hidden, intermediate, seed: 9, .int8)
        let x = GemmTests.values(rows * hidden, seed: UInt64(rows))
        var y = [Float](repeating: .nan, count: rows * intermediate)
        x.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                up(x.baseAddress!, rows: rows, into: y.baseAddress!, activation: .gelu)
            }
            guard let fused = up.geluQuantized(x.baseAddress!, rows: rows, for: down) else {
                Issue.record("\(rows) rows were not fused")
                return
            }
            let unfused = QuantizedRows(y, rows: rows, depth: intermediate, stride: fused.stride)
            let bytes = rows * fused.stride
            #expect(
                Array(UnsafeBufferPointer(start: fused.bytes, count: bytes))
                    == Array(UnsafeBufferPointer(start: unfused.bytes, count: bytes)))
            #expect(
                Array(UnsafeBufferPointer(start: fused.scales, count: rows))
                    == Array(UnsafeBufferPointer(start: unfused.scales, count: rows)))
            #expect(
                Array(UnsafeBufferPointer(start: fused.zeros, count: rows))
                    == Array(UnsafeBufferPointer(start: unfused.zeros, count: rows)))
            // The second layer with the residual and the norm fused, against the layer and
            // `addLayerNorm` one after the other.
            let norm = LayerNorm(
                weight: FloatTensor(owning: GemmTests.values(hidden, seed: 11), shape: [hidden]),
                bias: FloatTensor(owning: GemmTests.values(hidden, seed: 12), shape: [hidden]), eps: 1e-12)
            let residual = GemmTests.values(rows * hidden, seed: 13)
            var expected = [Float](repeating: .nan, count: rows * hidden)
            var normalized = expected
            expected.withUnsafeMutableBufferPointer { out in
                down(fused, rows: rows, into: out.baseAddress!)
                addLayerNorm(
                    out.baseAddress!, residual: residual, norm: norm, rows: rows, width: hidden, into: out.baseAddress!)
            }
            normalized.withUnsafeMutableBufferPointer { out in
                down.normalized(fused, rows: rows, residual: residual, norm: norm, into: out.baseAddress!)
            }
            #expect(normalized == expected)
            // From fp32 rows, as an attention output projection runs it: the same floats again.
            var fromFloats = expected.map { _ in Float.nan }
            fromFloats.withUnsafeMutableBufferPointer { out in
                down.addNormalized(y, rows: rows, residual: residual, norm: norm, into: out.baseAddress!)
            }
            #expect(fromFloats == expected)
            var unfusedCases = 0
            if up.geluQuantized(x.baseAddress!, rows: 1, for: down) == nil { unfusedCases += 1 }
            let half = linear(intermediate, hidden, seed: 7, .fp16)
            if half.geluQuantized(x.baseAddress!, rows: rows, for: down) == nil { unfusedCases += 1 }
            #expect(unfusedCases == 2)
        }
    }
}
