import CKernels
import Compute
import Foundation

/// A weight matrix rounded to IEEE half, in the fp32 panel kernel's layout (see gemm_f16.c). The
/// only copy of the weights the model keeps.
final class HalfWeights: @unchecked Sendable {
    /// Owns the memory `storage` points into.
    private let arena: PackingArena
    private let storage: UnsafeMutablePointer<UInt16>
    private let depth: Int

    init(_ weight: FloatTensor, in arena: PackingArena) {
        let (n, k) = (Int32(weight.shape[0]), Int32(weight.shape[1]))
        self.arena = arena
        depth = weight.shape[1]
        storage = arena.allocate(cascade_f16_packed_count(n, k), of: UInt16.self)
        cascade_f16_pack(n, k, weight.pointer, k, storage)
    }

    /// `y[rows, columns] = bias + x · wᵀ` for the columns `c` of the weights (from a panel's start,
    /// a multiple of 16), widening the halves in registers at any row count.
    func multiply(
        _ x: UnsafePointer<Float>, rows: Int, columns c: Range<Int>, bias: UnsafePointer<Float>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        precondition(c.lowerBound % 16 == 0, "fp16 slices start on a panel")
        cascade_f16_gemm(
            Int32(Precision.kernelLevel), Int32(rows), Int32(c.count), Int32(depth), x, Int32(depth),
            storage + cascade_f16_packed_count(Int32(c.lowerBound), Int32(depth)), bias + c.lowerBound, y, Int32(ldy))
    }
}

/// A weight matrix quantized to int8 per output channel (7 bits, see gemm_int8.c), in the int8
/// kernels' panels of 16 columns, with each channel's scale and sum. The only copy the model keeps.
final class Int8Weights: @unchecked Sendable {
    private let arena: PackingArena
    private let packed: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Int32>
    let depth: Int

    init(_ weight: FloatTensor, in arena: PackingArena) {
        let (n, k) = (weight.shape[0], weight.shape[1])
        self.arena = arena
        depth = k
        scales = arena.allocate(n, of: Float.self)
        sums = arena.allocate(n, of: Int32.self)
        packed = arena.allocate(cascade_q8_packed_bytes(Int32(n), Int32(k)), of: Int8.self)
        // Row-major int8 first (a quarter of the fp32 matrix, freed at once), then the panels.
        let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: max(1, n * k))
        defer { quantized.deallocate() }
        cascade_q8_quantize_weights(Int32(n), Int32(k), weight.pointer, Int32(k), quantized, scales)
        cascade_q8_pack(Int32(n), Int32(k), quantized, packed, sums)
    }

    /// Bytes per quantized activation row: the depth padded to the kernels' groups of 4.
    var activationStride: Int { Int(cascade_q8_padded_depth(Int32(depth))) }

    /// The packed weights from column `column` on, a multiple of 16.
    func columns(from column: Int) -> UnsafePointer<Int8> {
        precondition(column % 16 == 0, "int8 slices start on a panel")
        return UnsafePointer(packed + cascade_q8_packed_bytes(Int32(column), Int32(depth)))
    }
}

/// One call's activations quantized to u8 per row: the bytes, and each row's scale and zero point.
struct QuantizedRows: ~Copyable {
    let bytes: UnsafeMutablePointer<UInt8>
    let scales: UnsafeMutablePointer<Float>
    let zeros: UnsafeMutablePointer<Int32>
    let stride: Int

    /// Room for `rows` rows, which the caller fills (`Linear.geluQuantized`).
    init(rows: Int, stride: Int) {
        self.stride = stride
        bytes = .allocate(capacity: rows * stride)
        scales = .allocate(capacity: rows)
        zeros = .allocate(capacity: rows)
    }

    /// Quantizes `rows` rows of `depth` floats, on the compute pool when there are many.
    init(_ x: UnsafePointer<Float>, rows: Int, depth: Int, stride: Int) {
        self.init(rows: rows, stride: stride)
        let (bytes, scales, zeros) = (self.bytes, self.scales, self.zeros)
        let level = Int32(Precision.kernelLevel)
        ComputePool.shared.forEachRange(rows, grain: 32) { r in
            cascade_q8_quantize_rows(
                level, Int32(r.count), Int32(depth), x + r.lowerBound * depth, Int32(depth),
                bytes + r.lowerBound * stride, Int32(stride), scales + r.lowerBound, zeros + r.lowerBound)
        }
    }

    deinit {
        bytes.deallocate()
        scales.deallocate()
        zeros.deallocate()
    }
}
