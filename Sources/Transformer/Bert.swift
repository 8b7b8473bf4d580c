import Compute
import Foundation

// BERT as Hugging Face `transformers` (models/bert/modeling_bert.py) lays it out: each type reads the
// tensors its namesake module owns. Dropout is the identity at inference and is left out.

/// Word + position + token type embeddings, then LayerNorm.
struct BertEmbeddings: Sendable {
    let wordEmbeddings: FloatTensor
    let positionEmbeddings: FloatTensor
    let tokenTypeEmbeddings: FloatTensor
    let layerNorm: LayerNorm

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        let h = c.hiddenSize
        wordEmbeddings = try w.tensor("embeddings.word_embeddings.weight", [c.vocabSize, h])
        positionEmbeddings = try w.tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        tokenTypeEmbeddings = try w.tensor("embeddings.token_type_embeddings.weight", [c.typeVocabSize, h])
        layerNorm = try w.layerNorm("embeddings.LayerNorm", size: h, eps: c.layerNormEps)
    }

    func forward(_ s: Scratch) {
        embed(
            s, word: wordEmbeddings, position: positionEmbeddings, tokenType: tokenTypeEmbeddings, norm: layerNorm)
    }
}

/// Sums the embedding rows of every packed token into `s.hidden` and normalises them.
func embed(_ s: Scratch, word: FloatTensor, position: FloatTensor, tokenType: FloatTensor?, norm: LayerNorm) {
    let h = s.width
    let tokens = s.tokens
    ComputePool.shared.forEachRange(tokens.tokenCount) { range in
        for i in range {
            let out = s.hidden + i * h
            let w = word.pointer + Int(tokens.ids[i]) * h
            let p = position.pointer + Int(tokens.positions[i]) * h
            if let tokenType {
                let t = tokenType.pointer + Int(tokens.typeIds[i]) * h
                for j in 0..<h { out[j] = w[j] + p[j] + t[j] }
            } else {
                for j in 0..<h { out[j] = w[j] + p[j] }
            }
        }
        addLayerNorm(s.hidden, residual: nil, norm: norm, rows: range, width: h, into: s.hidden)
    }
}

/// `query`, `key`, `value` fused into one `[3H, H]` projection, then attention per (sequence, head).
struct BertSelfAttention: Sendable {
    let qkv: Linear
    let heads: Int
    let headSize: Int

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        let h = c.hiddenSize
        qkv = try w.fusedLinear(["\(prefix).query", "\(prefix).key", "\(prefix).value"], in: h, out: h)
        heads = c.numHeads
        headSize = c.headSize
    }

    /// `s.hidden` → `s.context`.
    func forward(_ s: Scratch, clsOnly: Bool) {
        attend(qkv: qkv, heads: heads, headSize: headSize, s, clsOnly: clsOnly)
    }
}

/// Keys and values need every token; with `clsOnly` the rest of the layer runs on `[CLS]` rows only.
func attend(qkv: Linear, heads: Int, headSize: Int, _ s: Scratch, clsOnly: Bool) {
    qkv(s.hidden, rows: s.rows, into: s.qkv)
    selfAttention(
        qkv: s.qkv, heads: heads, headSize: headSize, sequences: s.tokens, clsOnly: clsOnly,
        scratch: s.attentionScratch, perSlot: s.attentionFloats, slots: s.slots, context: s.context)
    if clsOnly { s.keepOnlyCLS() }
}

/// `LayerNorm(dense(context) + input)`.
struct BertSelfOutput: Sendable {
    let dense: Linear
    let layerNorm: LayerNorm

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        dense = try w.linear("\(prefix).dense", in: c.hiddenSize, out: c.hiddenSize)
        layerNorm = try w.layerNorm("\(prefix).LayerNorm", size: c.hiddenSize, eps: c.layerNormEps)
    }

    /// `s.context`, `s.hidden` → `s.attention`.
    func forward(_ s: Scratch) {
        dense.addNormalized(s.context, rows: s.rows, residual: s.hidden, norm: layerNorm, into: s.attention)
    }
}

struct BertAttention: Sendable {
    let selfAttention: BertSelfAttention
    let output: BertSelfOutput

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        selfAttention = try BertSelfAttention(w, "\(prefix).self", c)
        output = try BertSelfOutput(w, "\(prefix).output", c)
    }

    func forward(_ s: Scratch, clsOnly: Bool) {
        selfAttention.forward(s, clsOnly: clsOnly)
        output.forward(s)
    }
}

/// `gelu(dense(x))`.
struct BertIntermediate: Sendable {
    let dense: Linear

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        dense = try w.linear("\(prefix).dense", in: c.hiddenSize, out: c.intermediateSize)
    }

    /// `s.attention` → `s.intermediate`.
    func forward(_ s: Scratch) {
        let t = s.rows
        dense(s.attention, rows: t, into: s.intermediate, activation: .gelu)
    }
}

/// `LayerNorm(dense(intermediate) + attention_output)`.
struct BertOutput: Sendable {
    let dense: Linear
    let layerNorm: LayerNorm

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        dense = try w.linear("\(prefix).dense", in: c.intermediateSize, out: c.hiddenSize)
        layerNorm = try w.layerNorm("\(prefix).LayerNorm", size: c.hiddenSize, eps: c.layerNormEps)
    }

    /// `s.intermediate`, `s.attention` → `s.hidden`.
    func forward(_ s: Scratch) {
        dense.addNormalized(s.intermediate, rows: s.rows, residual: s.attention, norm: layerNorm, into: s.hidden)
    }

    /// The same from the intermediate already quantized for `dense` (`Linear.geluQuantized`).
    func forward(_ s: Scratch, intermediate: borrowing QuantizedRows) {
        dense.normalized(intermediate, rows: s.rows, residual: s.attention, norm: layerNorm, into: s.hidden)
    }
}

struct BertLayer: Sendable {
    let attention: BertAttention
    let intermediate: BertIntermediate
    let output: BertOutput

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        attention = try BertAttention(w, "\(prefix).attention", c)
        intermediate = try BertIntermediate(w, "\(prefix).intermediate", c)
        output = try BertOutput(w, "\(prefix).output", c)
    }

    func forward(_ s: Scratch, clsOnly: Bool) {
        attention.forward(s, clsOnly: clsOnly)
        if let quantized = intermediate.dense.geluQuantized(s.attention, rows: s.rows, for: output.dense) {
            output.forward(s, intermediate: quantized)
            return
        }
        intermediate.forward(s)
        output.forward(s)
    }
}

struct BertEncoder: Sendable {
    let layers: [BertLayer]

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        layers = try (0..<c.numLayers).map { try BertLayer(w, "encoder.layer.\($0)", c) }
    }

    func forward(_ s: Scratch, clsOnly: Bool, betweenLayers: () -> Void) {
        for (i, layer) in layers.enumerated() {
            if i > 0 { betweenLayers() }
            layer.forward(s, clsOnly: clsOnly && i == layers.count - 1)
        }
    }
}

/// `tanh(dense(hidden[CLS]))`, used by `BertForSequenceClassification`.
struct BertPooler: Sendable {
    let dense: Linear

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        // Part of the classification head: fp32 at every precision.
        dense = try w.linear("pooler.dense", in: c.hiddenSize, out: c.hiddenSize, precision: .fp32)
    }

    func forward(_ cls: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: dense.outFeatures)
        cls.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in dense(x.baseAddress!, rows: 1, into: y.baseAddress!) }
        }
        return out.map { tanh($0) }
    }
}

/// The bare BERT encoder: last hidden states of every real token.
struct BertModel: TransformerBackbone {
    let config: EncoderConfig
    let embeddings: BertEmbeddings
    let encoder: BertEncoder

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        config = c
        embeddings = try BertEmbeddings(w, c)
        encoder = try BertEncoder(w, c)
    }

    func forward(_ tokens: PackedTokens, clsOnly: Bool, betweenLayers: () -> Void) -> Scratch {
        let s = Scratch(tokens: tokens, config: config)
        embeddings.forward(s)
        encoder.forward(s, clsOnly: clsOnly, betweenLayers: betweenLayers)
        return s
    }
}

/// What the heads and pooling need from BERT or DistilBERT.
protocol TransformerBackbone: Sendable {
    var config: EncoderConfig { get }
    /// The last hidden states; with `clsOnly` only the `[CLS]` rows, which saves most of the last layer.
    /// `betweenLayers` runs on the calling thread between two layers: a scheduler runs short work
    /// of other callers there, so they need not wait for the whole of a long pass.
    func forward(_ tokens: PackedTokens, clsOnly: Bool, betweenLayers: () -> Void) -> Scratch
}

extension TransformerBackbone {
    func forward(_ tokens: PackedTokens, clsOnly: Bool) -> Scratch {
        forward(tokens, clsOnly: clsOnly, betweenLayers: {})
    }
}

/// Reads `config.json` and the weights in `directory` and builds the backbone its family names.
func loadBackbone(config: EncoderConfig, loader: ModelLoader) throws -> any TransformerBackbone {
    switch config.family {
    case .bert: return try BertModel(loader, config)
    case .distilbert: return try DistilBertModel(loader, config)
    }
}
