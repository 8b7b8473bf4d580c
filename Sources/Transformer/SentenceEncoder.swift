import Foundation
import Tokenization

/// A bi-encoder: `BertModel` or `DistilBertModel` plus pooling, one vector per text.
public final class SentenceEncoder: Sendable {
    let backbone: any TransformerBackbone
    public let pooling: Pooling
    public let fingerprint: String

    /// The precision of the linear layers, the kernel path they run (e.g. "int8/avx2") and the
    /// seconds reading and converting the weights took.
    public let precision: Precision
    public let kernelPath: String
    public let loadSeconds: Double

    /// pooling: explicit, else from sentence-transformers files, else CLS without normalisation.
    /// precision: the linear layers' weights, quantized from the checkpoint as it is while loading.
    public convenience init(directory: URL, pooling: Pooling? = nil, precision: Precision = .fp32) throws {
        let started = ContinuousClock.now
        let config = try EncoderConfig.read(from: directory)
        try self.init(
            config: config, weights: try openWeights(in: directory),
            pooling: try pooling ?? Pooling.read(from: directory) ?? Pooling(mode: .cls, normalize: false),
            precision: precision, started: started)
    }

    init(
        config: EncoderConfig, weights: any WeightSource, pooling: Pooling, precision: Precision = .fp32,
        started: ContinuousClock.Instant = .now
    ) throws {
        // Queries are short: every fp32 linear layer keeps a copy packed for the skinny kernel.
        let loader = ModelLoader(source: weights, family: config.family, packForQueries: true, precision: precision)
        backbone = try loadBackbone(config: config, loader: loader)
        self.pooling = pooling
        self.precision = precision
        kernelPath = loader.kernelPath
        var hasher = Hasher64()
        hasher.combine(bytes: [UInt8](config.fileBytes))
        hasher.combine("\(loader.fingerprint) \(self.pooling.mode.rawValue) \(self.pooling.normalize)")
        fingerprint = "\(config.family.rawValue)-\(config.hiddenSize)-" + String(hasher.value, radix: 16)
        loadSeconds = (ContinuousClock.now - started).loadSeconds
    }

    public var dimension: Int { backbone.config.hiddenSize }
    public var architecture: String { backbone.config.family == .bert ? "BertModel" : "DistilBertModel" }
    var config: EncoderConfig { backbone.config }

    /// Transformer layers: a forward pass can pause between any two (`betweenLayers`).
    public var layers: Int { backbone.config.numLayers }

    /// One pooled vector per row of the batch. `betweenLayers` runs on this thread between two
    /// layers (see `TransformerBackbone.forward`).
    public func embed(_ batch: TokenBatch, betweenLayers: () -> Void = {}) throws -> [[Float]] {
        let tokens = try PackedTokens(batch, config: backbone.config)
        guard tokens.count > 0 else { return [] }
        let s = backbone.forward(tokens, clsOnly: pooling.mode == .cls, betweenLayers: betweenLayers)
        return (0..<tokens.count).map { pooling.pool(s, sequence: $0) }
    }

    /// The last hidden states, per row only its real tokens (`[length][hidden]`).
    func hiddenStates(_ batch: TokenBatch) throws -> [[[Float]]] {
        let tokens = try PackedTokens(batch, config: backbone.config)
        guard tokens.count > 0 else { return [] }
        let s = backbone.forward(tokens, clsOnly: false)
        return (0..<tokens.count).map { seq in
            (0..<tokens.lengths[seq]).map { Array(UnsafeBufferPointer(start: s.row(seq, $0), count: s.width)) }
        }
    }
}
