import Foundation
import Testing
import Tokenization

@testable import Transformer

/// Seeded random checkpoints of every architecture against Hugging Face `transformers`
/// (scripts/fixtures/make_model_fixtures.py), on a padded batch of mixed lengths and token types.
@Suite struct TinyModelTests {
    static let tolerance = 1e-4
    static let encoders = ["bert", "distilbert", "bert-cls", "distilbert-cls"]

    func checkEncoder(_ name: String, format: String) throws {
        let reference = Fixtures.tinyReference
        let expected = try #require(reference.models[name])
        let directory = Fixtures.tiny(name, format)
        let encoder = try SentenceEncoder(directory: directory)
        #expect(encoder.architecture == (name.hasPrefix("distil") ? "DistilBertModel" : "BertModel"))
        #expect(encoder.dimension == 32)
        #expect(encoder.pooling == Pooling(mode: .cls, normalize: false))

        let hidden = try encoder.hiddenStates(reference.batch)
        for (row, states) in hidden.enumerated() {
            #expect(states.count == reference.batch.lengths[row])
            for (i, state) in states.enumerated() {
                let diff = maxAbsDiff(state, expected.last_hidden_state[row][i])
                #expect(diff <= Self.tolerance, "\(name) row \(row) token \(i): max abs diff \(diff)")
            }
        }
        let variants: [(Pooling, [[Double]])] = [
            (Pooling(mode: .cls, normalize: false), expected.cls),
            (Pooling(mode: .mean, normalize: false), expected.mean),
            (Pooling(mode: .cls, normalize: true), expected.cls_normalized),
            (Pooling(mode: .mean, normalize: true), expected.mean_normalized),
        ]
        for (pooling, vectors) in variants {
            let pooled = try SentenceEncoder(directory: directory, pooling: pooling).embed(reference.batch)
            #expect(pooled.count == vectors.count)
            for (row, vector) in pooled.enumerated() {
                let diff = maxAbsDiff(vector, vectors[row])
                #expect(diff <= Self.tolerance, "\(name) \(pooling) row \(row): max abs diff \(diff)")
            }
        }
    }

    func checkCrossEncoder(_ name: String, format: String) throws {
        let reference = Fixtures.tinyReference
        let expected = try #require(reference.models[name]?.logits)
        let crossEncoder = try CrossEncoder(directory: Fixtures.tiny(name, format))
        let architecture =
            name.hasPrefix("distil") ? "DistilBertForSequenceClassification" : "BertForSequenceClassification"
        #expect(crossEncoder.architecture == architecture)
        let logits = try crossEncoder.score(reference.batch)
        let diff = maxAbsDiff(logits, expected)
        #expect(diff <= Self.tolerance, "\(name) logits \(logits) vs \(expected): max abs diff \(diff)")
    }

    @Test(arguments: encoders)
    func safetensorsEncoder(_ name: String) throws {
        try checkEncoder(name, format: "safetensors")
    }

    @Test(arguments: ["bert-cls", "distilbert-cls"])
    func safetensorsCrossEncoder(_ name: String) throws {
        try checkCrossEncoder(name, format: "safetensors")
    }

    @Test(arguments: encoders)
    func pytorchBinEncoder(_ name: String) throws {
        try checkEncoder(name, format: "bin")
    }

    @Test(arguments: ["bert-cls", "distilbert-cls"])
    func pytorchBinCrossEncoder(_ name: String) throws {
        try checkCrossEncoder(name, format: "bin")
    }

    @Test func fingerprintIsStableAndTracksPooling() throws {
        let directory = Fixtures.tiny("bert")
        let a = try SentenceEncoder(directory: directory)
        let b = try SentenceEncoder(directory: directory)
        let mean = try SentenceEncoder(directory: directory, pooling: Pooling(mode: .mean, normalize: false))
        let other = try SentenceEncoder(directory: Fixtures.tiny("bert-cls"))
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint != mean.fingerprint)
        #expect(a.fingerprint != other.fingerprint)
    }

    /// Forward passes reuse the memory of earlier ones (`ScratchMemory`): a pass after a bigger
    /// one, over the memory that one left, gives the same bits as the pass before it, and a
    /// cross-encoder after a sentence encoder (another shape in the same memory) too.
    @Test func aPassDoesNotDependOnTheMemoryEarlierPassesLeft() throws {
        let encoder = try SentenceEncoder(directory: Fixtures.tiny("bert"))
        let cross = try CrossEncoder(directory: Fixtures.tiny("bert-cls"))
        let small = Fixtures.tinyReference.batch
        let big = TokenBatch(
            (0..<24).map { row in
                Encoding(
                    ids: (0..<40).map { Int32(100 + (7 * $0 + row) % 400) }, typeIds: .init(repeating: 0, count: 40))
            })
        let first = try encoder.embed(small)
        let firstScores = try cross.score(small)
        _ = try encoder.embed(big)
        _ = try cross.score(big)
        #expect(try encoder.embed(small) == first)
        _ = try encoder.embed(big)
        #expect(try cross.score(small) == firstScores)
    }

    @Test func emptyBatchGivesNoVectors() throws {
        let encoder = try SentenceEncoder(directory: Fixtures.tiny("bert"))
        #expect(try encoder.embed(.init([])).isEmpty)
        #expect(try CrossEncoder(directory: Fixtures.tiny("bert-cls")).score(.init([])).isEmpty)
    }
}

/// A real checkpoint with its LayerNorm parameters under the TensorFlow-era names `gamma` / `beta`.
struct LegacyLayerNormNames: WeightSource {
    let inner: any WeightSource
    var fileName: String { inner.fileName }
    var tensorNames: [String] { inner.tensorNames.map(rename) }
    func rename(_ name: String) -> String {
        guard name.contains("LayerNorm.") else { return name }
        return name.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
            .replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
    }
    func original(_ name: String) -> String? {
        if name.hasSuffix("LayerNorm.gamma") { return name.replacingOccurrences(of: ".gamma", with: ".weight") }
        if name.hasSuffix("LayerNorm.beta") { return name.replacingOccurrences(of: ".beta", with: ".bias") }
        return name.contains("LayerNorm.") ? nil : name
    }
    func info(_ name: String) -> TensorInfo? { original(name).flatMap { inner.info($0) } }
    func float32(_ name: String) throws -> FloatTensor {
        guard let source = original(name) else { throw WeightsError.missingTensor(file: fileName, name: name) }
        return try inner.float32(source)
    }
}

@Test func legacyLayerNormNamesLoad() throws {
    let directory = Fixtures.tiny("bert")
    let config = try EncoderConfig.read(from: directory)
    let weights = LegacyLayerNormNames(inner: try openWeights(in: directory))
    #expect(weights.info("embeddings.LayerNorm.weight") == nil)
    let pooling = Pooling(mode: .mean, normalize: false)
    let encoder = try SentenceEncoder(config: config, weights: weights, pooling: pooling)
    let reference = Fixtures.tinyReference
    let vectors = try encoder.embed(reference.batch)
    for (row, vector) in vectors.enumerated() {
        #expect(maxAbsDiff(vector, reference.models["bert"]!.mean[row]) <= 1e-4)
    }
}
