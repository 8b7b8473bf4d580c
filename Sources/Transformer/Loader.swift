import Foundation

/// Reads one model's tensors from a `WeightSource`, under the base-model prefix the checkpoint uses
/// (`bert.` / `distilbert.` in *ForSequenceClassification checkpoints, none in bare encoders), and
/// hashes everything it reads into the model's fingerprint.
final class ModelLoader {
    let source: any WeightSource
    /// "bert." or "" for the encoder's own tensors; heads are looked up without it.
    let basePrefix: String
    /// The precision of the base model's linear layers (heads stay fp32).
    let precision: Precision
    /// Where every linear layer keeps its packed weights (fp32 ones on an AVX2 CPU only).
    let arena = PackingArena()
    /// A query encoder: fp32 layers also keep the skinny kernel's layout, for one query's few rows.
    let packForQueries: Bool
    private var hasher = Hasher64()

    init(source: any WeightSource, family: ModelFamily, packForQueries: Bool = false, precision: Precision = .fp32) {
        self.source = source
        self.packForQueries = packForQueries
        self.precision = precision
        let prefixed = "\(family.rawValue).embeddings.word_embeddings.weight"
        basePrefix = source.info(prefixed) != nil ? "\(family.rawValue)." : ""
    }

    var fingerprint: UInt64 { hasher.value }

    func has(_ name: String) -> Bool { source.info(basePrefix + name) != nil }

    /// A tensor of the base model (`name` without prefix), checked against `shape`.
    func tensor(_ name: String, _ shape: [Int]) throws -> FloatTensor {
        try head(basePrefix + name, shape)
    }

    /// A tensor looked up under exactly `name`.
    func head(_ name: String, _ shape: [Int]) throws -> FloatTensor {
        let t = try source.float32(name, shape: shape)
        hasher.combine(name)
        hasher.combine(t.buffer)
        return t
    }

    /// The kernel path the base model's linear layers run, e.g. "int8/avx2".
    var kernelPath: String { precision.kernelPath }

    /// `precision` nil: the loader's; heads pass `.fp32`.
    func linear(
        _ name: String, in inFeatures: Int, out outFeatures: Int, base: Bool = true, precision: Precision? = nil
    ) throws -> Linear {
        let prefix = base ? basePrefix : ""
        return makeLinear(
            weight: try head(prefix + name + ".weight", [outFeatures, inFeatures]),
            bias: try head(prefix + name + ".bias", [outFeatures]), precision: precision ?? self.precision)
    }

    /// A packed layer (every one on an AVX2 CPU) keeps only its packed copies; the checkpoint's pages
    /// of the fp32 weight are handed back to the kernel, so the model does not hold a twin.
    private func makeLinear(weight: FloatTensor, bias: FloatTensor, precision: Precision) -> Linear {
        let linear = Linear(
            weight: weight, bias: bias, precision: precision, arena: arena, forQueries: packForQueries)
        if linear.isPacked { weight.releaseMappedPages() }
        return linear
    }

    func layerNorm(_ name: String, size: Int, eps: Float) throws -> LayerNorm {
        // Checkpoints converted from TensorFlow name the LayerNorm parameters gamma and beta.
        let legacy = !has(name + ".weight") && has(name + ".gamma")
        return LayerNorm(
            weight: try tensor(name + (legacy ? ".gamma" : ".weight"), [size]),
            bias: try tensor(name + (legacy ? ".beta" : ".bias"), [size]), eps: eps)
    }

    /// Q, K and V projections as one `[3H, H]` linear layer, copied once so attention needs one GEMM.
    func fusedLinear(_ names: [String], in inFeatures: Int, out outFeatures: Int) throws -> Linear {
        var weight: [Float] = []
        var bias: [Float] = []
        weight.reserveCapacity(names.count * outFeatures * inFeatures)
        var parts: [FloatTensor] = []
        for name in names {
            // `buffer` points into the tensor's owner: a converted (f16, bf16) tensor's buffer is
            // freed with the tensor, so each one is kept alive until it has been copied.
            let part = try tensor(name + ".weight", [outFeatures, inFeatures])
            withExtendedLifetime(part) { weight.append(contentsOf: part.buffer) }
            parts.append(part)
            let partBias = try tensor(name + ".bias", [outFeatures])
            withExtendedLifetime(partBias) { bias.append(contentsOf: partBias.buffer) }
        }
        // The fused copy is the fp32 weight from here on; the checkpoint's pages can go.
        for part in parts { part.releaseMappedPages() }
        return makeLinear(
            weight: FloatTensor(owning: weight, shape: [names.count * outFeatures, inFeatures]),
            bias: FloatTensor(owning: bias, shape: [names.count * outFeatures]), precision: precision)
    }
}

extension FloatTensor {
    init(owning values: [Float], shape: [Int]) {
        let owned = OwnedFloats(values)
        self.init(shape: shape, pointer: UnsafePointer(owned.storage.baseAddress!), owner: owned)
    }
}

/// Weights from several sources, the first holding a name winning: a classifier head kept apart
/// from the encoder it sits on.
public struct LayeredWeights: WeightSource {
    public let sources: [any WeightSource]
    public init(_ sources: [any WeightSource]) { self.sources = sources }

    public var fileName: String { sources.map(\.fileName).joined(separator: " + ") }
    public var tensorNames: [String] { Array(Set(sources.flatMap(\.tensorNames))).sorted() }
    public func info(_ name: String) -> TensorInfo? {
        for source in sources { if let info = source.info(name) { return info } }
        return nil
    }
    public func float32(_ name: String) throws -> FloatTensor {
        for source in sources where source.info(name) != nil { return try source.float32(name) }
        throw WeightsError.missingTensor(file: fileName, name: name)
    }
}

/// A fast, stable (unseeded, unlike Swift's `Hasher`) 64-bit hash over the bytes a model reads:
/// four independent multiply-xor lanes over 8-byte words, so hashing weights costs little at load.
struct Hasher64 {
    private var lanes: (UInt64, UInt64, UInt64, UInt64) = (
        0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4, 0x9e37_79b9_7f4a_7c15, 0x7f4a_7c15_9e37_79b9
    )
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    mutating func combine(_ string: String) {
        combine(bytes: Array(string.utf8))
    }

    mutating func combine(_ floats: UnsafeBufferPointer<Float>) {
        combine(bytes: UnsafeRawBufferPointer(floats))
    }

    mutating func combine(bytes: [UInt8]) {
        bytes.withUnsafeBytes { combine(bytes: $0) }
    }

    mutating func combine(bytes: UnsafeRawBufferPointer) {
        let words = bytes.count / 8
        var (a, b, c, d) = lanes
        var i = 0
        while i + 4 <= words {
            a = (a ^ bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* Self.prime
            b = (b ^ bytes.loadUnaligned(fromByteOffset: 8 * i + 8, as: UInt64.self)) &* Self.prime
            c = (c ^ bytes.loadUnaligned(fromByteOffset: 8 * i + 16, as: UInt64.self)) &* Self.prime
            d = (d ^ bytes.loadUnaligned(fromByteOffset: 8 * i + 24, as: UInt64.self)) &* Self.prime
            i += 4
        }
        for byte in bytes[(8 * i)...] { a = (a ^ UInt64(byte)) &* Self.prime }
        a = (a ^ UInt64(bytes.count)) &* Self.prime
        lanes = (a, b, c, d)
    }

    var value: UInt64 {
        let (a, b, c, d) = lanes
        var h = a
        for lane in [b, c, d] { h = (h ^ (lane >> 29) ^ lane) &* Self.prime }
        return h
    }
}
