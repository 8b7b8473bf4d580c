import CKernels
import Compute
import Foundation
import Synchronization
import Tokenization

/// The real tokens of a padded batch laid end to end: dense layers run on these rows only, and
/// attention sees each sequence as a contiguous run of `lengths[s]` rows starting at `offsets[s]`.
struct PackedTokens: Sendable {
    var ids: [Int32] = []
    var typeIds: [Int32] = []
    var positions: [Int32] = []
    var offsets: [Int] = []
    var lengths: [Int] = []

    var count: Int { lengths.count }
    var tokenCount: Int { ids.count }
    var maxLength: Int { lengths.max() ?? 0 }

    /// Checks the batch against the model's limits; every problem is an `invalidInput` naming the row.
    init(_ batch: TokenBatch, config: EncoderConfig) throws {
        let cells = batch.batchSize * batch.sequenceLength
        guard batch.batchSize >= 0, batch.sequenceLength >= 0, batch.inputIds.count == cells,
            batch.tokenTypeIds.count == cells, batch.attentionMask.count == cells
        else {
            throw ModelError.invalidInput(
                "token batch arrays do not match its shape \(batch.batchSize) x \(batch.sequenceLength)")
        }
        ids.reserveCapacity(cells)
        typeIds.reserveCapacity(cells)
        positions.reserveCapacity(cells)
        for row in 0..<batch.batchSize {
            let base = row * batch.sequenceLength
            // The attention mask is the truth: real tokens are its leading ones (right padding).
            var n = 0
            while n < batch.sequenceLength, batch.attentionMask[base + n] != 0 { n += 1 }
            for i in n..<batch.sequenceLength where batch.attentionMask[base + i] != 0 {
                throw ModelError.invalidInput("row \(row): attention mask has a real token after padding")
            }
            guard n > 0 else { throw ModelError.invalidInput("row \(row) has no tokens") }
            guard n <= config.maxPositions else {
                throw ModelError.invalidInput(
                    "row \(row) has \(n) tokens; the model takes at most \(config.maxPositions)")
            }
            offsets.append(ids.count)
            lengths.append(n)
            for i in 0..<n {
                let id = batch.inputIds[base + i]
                guard id >= 0, Int(id) < config.vocabSize else {
                    throw ModelError.invalidInput(
                        "row \(row), token \(i): id \(id) is outside the vocabulary (size \(config.vocabSize))")
                }
                let type = batch.tokenTypeIds[base + i]
                guard type >= 0, config.typeVocabSize == 0 || Int(type) < config.typeVocabSize else {
                    throw ModelError.invalidInput(
                        "row \(row), token \(i): token type \(type) is outside 0..<\(config.typeVocabSize)")
                }
                ids.append(id)
                typeIds.append(type)
                positions.append(Int32(i))
            }
        }
    }
}

/// Per-call buffers sized for one batch, shared by every layer of one forward pass; the last
/// hidden states are left in `hidden` as `[tokenCount, hiddenSize]` rows. Their memory comes from
/// `ScratchMemory`.
final class Scratch {
    let tokens: PackedTokens
    let width: Int
    let hidden: UnsafeMutablePointer<Float>
    let qkv: UnsafeMutablePointer<Float>
    let context: UnsafeMutablePointer<Float>
    let attention: UnsafeMutablePointer<Float>
    let intermediate: UnsafeMutablePointer<Float>
    /// Attention's scratch for each of `slots` compute-pool slots: `maxLength²` scores, then (with
    /// AVX2) one head's keys packed for `cascade_attention_head`.
    let attentionScratch: UnsafeMutablePointer<Float>
    let attentionFloats: Int
    let slots: Int
    private let storage: UnsafeMutableBufferPointer<Float>

    init(tokens: PackedTokens, config: EncoderConfig) {
        self.tokens = tokens
        let t = tokens.tokenCount
        let h = config.hiddenSize
        width = h
        slots = ComputePool.shared.threads
        let keys = cascade_panels_packed_count(Int32(tokens.maxLength), Int32(h / config.numHeads))
        attentionFloats = tokens.maxLength * tokens.maxLength + (packedAttention ? keys : 0)
        let sizes = [
            t * h, t * 3 * h, t * h, t * h, t * max(config.intermediateSize, h), slots * attentionFloats,
        ]
        // One allocation, each buffer starting on a 64-byte boundary.
        let padded = sizes.map { ($0 + 15) & ~15 }
        storage = ScratchMemory.take(atLeast: padded.reduce(0, +) + 16)
        let aligned = storage.baseAddress! + (16 - (Int(bitPattern: storage.baseAddress!) / 4) % 16) % 16
        var starts: [UnsafeMutablePointer<Float>] = []
        var offset = 0
        for size in padded {
            starts.append(aligned + offset)
            offset += size
        }
        (hidden, qkv, context, attention, intermediate, attentionScratch) = (
            starts[0], starts[1], starts[2], starts[3], starts[4], starts[5]
        )
    }

    deinit { ScratchMemory.giveBack(storage) }

    /// Whether only each sequence's `[CLS]` row is still computed (the last layer of a model whose
    /// output reads nothing else): rows are then one per sequence.
    private(set) var clsOnly = false

    /// Rows the dense layers run on.
    var rows: Int { clsOnly ? tokens.count : tokens.tokenCount }

    /// Moves each sequence's first hidden row to row `sequence`; later layers see one row per sequence.
    func keepOnlyCLS() {
        // offsets[s] >= s, so no source row is overwritten before it is read.
        for s in 0..<tokens.count where tokens.offsets[s] != s {
            (hidden + s * width).update(from: hidden + tokens.offsets[s] * width, count: width)
        }
        clsOnly = true
    }

    /// The hidden state of token `index` of sequence `sequence`.
    func row(_ sequence: Int, _ index: Int) -> UnsafeMutablePointer<Float> {
        precondition(!clsOnly || index == 0, "only [CLS] rows were computed")
        return clsOnly ? hidden + sequence * width : hidden + (tokens.offsets[sequence] + index) * width
    }
}

/// Keeps the memory of the last forward pass's `Scratch` for the next one. Freshly allocated, a
/// big pass's buffers (49 MB for 20 pairs of 160 tokens, past malloc's 32 MB mmap threshold) came
/// from the kernel as new pages on every call: page faults on the first write of each layer's
/// output were 5% of `encoder-bench --precisions int8` (`perf`), 0.5% with the spare. One spare is
/// kept, the largest returned, up to `maxSpare` floats; a pass that finds it taken (two at once)
/// or too small allocates its own.
enum ScratchMemory {
    static let maxSpare = 64 << 20

    private struct Spare: @unchecked Sendable {
        var buffer: UnsafeMutableBufferPointer<Float>?
    }
    private static let spare = Mutex(Spare())

    static func take(atLeast count: Int) -> UnsafeMutableBufferPointer<Float> {
        let kept = spare.withLock { spare -> Spare in
            guard let buffer = spare.buffer, buffer.count >= count else { return Spare() }
            defer { spare.buffer = nil }
            return spare
        }
        return kept.buffer ?? .allocate(capacity: count)
    }

    static func giveBack(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard buffer.count <= maxSpare else { return buffer.deallocate() }
        let dropped = spare.withLock { spare -> Spare in
            if let kept = spare.buffer, kept.count >= buffer.count { return Spare(buffer: buffer) }
            defer { spare.buffer = buffer }
            return spare
        }
        dropped.buffer?.deallocate()
    }
}
