import CKernels
import Foundation
import Testing

@testable import VectorStore

/// Every path of the code-scan kernels (scan.h) this CPU runs, against plain Swift references.
@Suite struct ScanKernelTests {
    static let levels: [Int32] = [
        Int32(CASCADE_ISA_PORTABLE), Int32(CASCADE_ISA_AVX2), Int32(CASCADE_ISA_AVX512), Int32(CASCADE_ISA_AVX512_VNNI),
    ]

    /// The levels this CPU supports; prints which ran and which were skipped.
    static func runnableLevels(_ family: String) -> [Int32] {
        let supported = cascade_isa_supported()
        let ran = levels.filter { $0 <= supported }
        let skipped = levels.filter { $0 > supported }
        let names = { (l: [Int32]) in l.map { String(cString: cascade_isa_name($0)) }.joined(separator: ", ") }
        print(
            "scan kernels \(family): ran \(names(ran)); skipped (CPU lacks them) \(skipped.isEmpty ? "none" : names(skipped))"
        )
        return ran
    }

    /// 1,027 rows: the AVX2 loop's four quarters of 256 rows and three rows left over.
    @Test(arguments: [(384, 9), (37, 5), (64, 4), (768, 3), (5, 1), (96, 1027)])
    func int8PathsMatchTheIntegerReferenceBitForBit(dim: Int, rows: Int) throws {
        var rng = SplitMix64(seed: UInt64(dim * 31 + rows))
        var codes = (0..<rows * dim).map { _ in Int8.random(in: -127...127, using: &rng) }
        let scales = (0..<rows).map { _ in Float.random(in: 0.0001...0.01, using: &rng) }
        var query = (0..<dim).map { _ in Int8.random(in: -64...64, using: &rng) }
        // The extremes, where vpmaddubsw would saturate if the ranges were wider.
        for j in 0..<min(dim, 8) {
            codes[j] = 127
            query[j] = j % 2 == 0 ? 64 : -64
        }
        let sum = query.reduce(Int32(0)) { $0 + Int32($1) }
        let queryScale: Float = 3.1e-3
        let expected = (0..<rows).map { r -> Float in
            var dot: Int32 = 0
            for j in 0..<dim { dot += Int32(codes[r * dim + j]) * Int32(query[j]) }
            return Float(dot) * (scales[r] * queryScale)
        }
        let biased = codes.map(Int8Code.biased)
        for level in Self.runnableLevels("int8") {
            var out = [Float](repeating: .nan, count: rows)
            cascade_scan_int8(level, biased, scales, Int32(rows), Int32(dim), query, sum, queryScale, &out)
            #expect(out == expected, "level \(String(cString: cascade_isa_name(level))), dim \(dim), rows \(rows)")
        }
    }

    @Test(arguments: [(384, 9), (37, 5), (16, 4), (768, 3), (5, 1)])
    func fp16PathsMatchTheDoubleReference(dim: Int, rows: Int) throws {
        var rng = SplitMix64(seed: UInt64(dim * 17 + rows))
        let halves = (0..<rows * dim).map { _ in Float16(Float.random(in: -1...1, using: &rng)) }
        let query = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
        let expected = (0..<rows).map { r in
            (0..<dim).reduce(0.0) { $0 + Double(halves[r * dim + $1]) * Double(query[$1]) }
        }
        let bits = halves.map(\.bitPattern)
        for level in Self.runnableLevels("fp16") {
            var out = [Float](repeating: .nan, count: rows)
            cascade_scan_fp16(level, bits, Int32(rows), Int32(dim), query, &out)
            for r in 0..<rows {
                // Float sums in another order: within a few ulps of the sum of magnitudes.
                #expect(abs(Double(out[r]) - expected[r]) <= 1e-5 * Double(dim), "level \(level) row \(r)")
            }
        }
    }

    @Test func halfToFloatMatchesSwiftForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let got = cascade_half_to_float(bits)
            if expected.isNaN {
                #expect(got.isNaN)
            } else if got != expected || got.sign != expected.sign {
                Issue.record("bits \(bits): \(got) != \(expected)")
                return
            }
        }
    }

    @Test func int8QueriesStayInTheKernelsRange() {
        let values: [Float] = [0.5, -0.25, 0.125, -0.5, 0]
        let query = values.withUnsafeBufferPointer { Int8Query($0) }
        #expect(query.values == [64, -32, 16, -64, 0])
        #expect(query.sum == -16 && query.scale == 0.5 / 64)
    }

    @Test func int8CodesRoundTripWithinHalfAStep() {
        var rng = SplitMix64(seed: 5)
        let vector = (0..<384).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
        let (codes, scale) = Int8Code.encode(vector)
        #expect(codes.map { abs(Int($0)) }.max() == 127)
        for (x, c) in zip(vector, codes) { #expect(abs(Float(c) * scale - x) <= scale / 2 * 1.0001) }
        #expect(Int8Code.encode([Float](repeating: 0, count: 4)).scale == 0)
    }
}
