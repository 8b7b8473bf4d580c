import Foundation
import Tokenization

/// A re-ranker: `BertForSequenceClassification` or `DistilBertForSequenceClassification` with one
/// label, scoring `[CLS] query [SEP] passage [SEP]` by its logit.
public final class CrossEncoder: Sendable {
    /// The sequence classification heads on the `[CLS]` hidden state.
    enum Head: Sendable {
        /// `classifier(tanh(pooler.dense(cls)))`.
        case bert(pooler: BertPooler, classifier: Linear)
        /// `classifier(relu(pre_classifier(cls)))`.
        case distilbert(preClassifier: Linear, classifier: Linear)
    }

    let backbone: any TransformerBackbone
    let head: Head
    public let fingerprint: String
    /// The precision of the encoder's linear layers (the head stays fp32), the kernel path they run
    /// (e.g. "int8/avx2") and the seconds reading and converting the weights took.
    public let precision: Precision
    public let kernelPath: String
    public let loadSeconds: Double

    public convenience init(directory: URL, precision: Precision = .fp32) throws {
        let started = ContinuousClock.now
        let config = try EncoderConfig.read(from: directory)
        if !config.architectures.isEmpty,
            !config.architectures.contains(where: { $0.hasSuffix("ForSequenceClassification") })
        {
            throw ModelError.badConfig(
                file: directory.appendingPathComponent("config.json").path,
                reason: "architecture \(config.architectures) has no classification head "
                    + "(expected BertForSequenceClassification or DistilBertForSequenceClassification)")
        }
        try self.init(
            config: config, weights: try openWeights(in: directory), precision: precision, started: started)
    }

    /// An encoder folder (e.g. a bare `BertModel`) under a classification head from another file:
    /// `classifier.*` (and `pre_classifier.*` for DistilBERT) from `head`, everything else from the folder.
    public convenience init(encoderDirectory: URL, head: any WeightSource, precision: Precision = .fp32) throws {
        let started = ContinuousClock.now
        let config = try EncoderConfig.read(from: encoderDirectory)
        try self.init(
            config: config, weights: LayeredWeights([head, try openWeights(in: encoderDirectory)]),
            precision: precision, started: started)
    }

    init(
        config: EncoderConfig, weights: any WeightSource, precision: Precision = .fp32,
        started: ContinuousClock.Instant = .now
    ) throws {
        let loader = ModelLoader(source: weights, family: config.family, precision: precision)
        backbone = try loadBackbone(config: config, loader: loader)
        let h = config.hiddenSize
        switch config.family {
        case .bert:
            head = .bert(
                pooler: try BertPooler(loader, config),
                classifier: try loader.linear("classifier", in: h, out: 1, base: false, precision: .fp32))
        case .distilbert:
            head = .distilbert(
                preClassifier: try loader.linear("pre_classifier", in: h, out: h, base: false, precision: .fp32),
                classifier: try loader.linear("classifier", in: h, out: 1, base: false, precision: .fp32))
        }
        var hasher = Hasher64()
        hasher.combine(bytes: [UInt8](config.fileBytes))
        hasher.combine("\(loader.fingerprint) cross-encoder")
        fingerprint = "\(config.family.rawValue)-cross-" + String(hasher.value, radix: 16)
        self.precision = precision
        kernelPath = loader.kernelPath
        loadSeconds = (ContinuousClock.now - started).loadSeconds
    }

    public var architecture: String {
        backbone.config.family == .bert ? "BertForSequenceClassification" : "DistilBertForSequenceClassification"
    }

    /// Transformer layers: a forward pass can pause between any two (`betweenLayers`).
    public var layers: Int { backbone.config.numLayers }

    /// One logit per row. `betweenLayers` runs on this thread between two layers (see
    /// `TransformerBackbone.forward`).
    public func score(_ batch: TokenBatch, betweenLayers: () -> Void = {}) throws -> [Float] {
        let tokens = try PackedTokens(batch, config: backbone.config)
        guard tokens.count > 0 else { return [] }
        let s = backbone.forward(tokens, clsOnly: true, betweenLayers: betweenLayers)
        return (0..<tokens.count).map { logit(Array(UnsafeBufferPointer(start: s.row($0, 0), count: s.width))) }
    }

    private func logit(_ cls: [Float]) -> Float {
        switch head {
        case .bert(let pooler, let classifier):
            return apply(classifier, pooler.forward(cls))
        case .distilbert(let preClassifier, let classifier):
            return apply(classifier, apply(preClassifier, cls).map { Swift.max($0, 0) })
        }
    }
}

/// `linear(x)` for one vector; returns the single value when there is one output.
private func apply(_ linear: Linear, _ x: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: linear.outFeatures)
    x.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { yp in linear(xp.baseAddress!, rows: 1, into: yp.baseAddress!) }
    }
    return out
}

private func apply(_ linear: Linear, _ x: [Float]) -> Float {
    let out: [Float] = apply(linear, x)
    return out[0]
}
