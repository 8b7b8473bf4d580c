import Foundation

// DistilBERT as Hugging Face `transformers` (models/distilbert/modeling_distilbert.py) lays it out.
// No token type embeddings; the block is post-LN like BERT's, under other names.

/// Word + position embeddings, then LayerNorm (`embeddings.LayerNorm`).
struct DistilBertEmbeddings: Sendable {
    let wordEmbeddings: FloatTensor
    let positionEmbeddings: FloatTensor
    let layerNorm: LayerNorm

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        let h = c.hiddenSize
        wordEmbeddings = try w.tensor("embeddings.word_embeddings.weight", [c.vocabSize, h])
        positionEmbeddings = try w.tensor("embeddings.position_embeddings.weight", [c.maxPositions, h])
        layerNorm = try w.layerNorm("embeddings.LayerNorm", size: h, eps: c.layerNormEps)
    }

    func forward(_ s: Scratch) {
        embed(s, word: wordEmbeddings, position: positionEmbeddings, tokenType: nil, norm: layerNorm)
    }
}

/// `q_lin`, `k_lin`, `v_lin` fused into one projection, attention, then `out_lin`.
struct MultiHeadSelfAttention: Sendable {
    let qkv: Linear
    let outLin: Linear
    let heads: Int
    let headSize: Int

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        let h = c.hiddenSize
        qkv = try w.fusedLinear(["\(prefix).q_lin", "\(prefix).k_lin", "\(prefix).v_lin"], in: h, out: h)
        outLin = try w.linear("\(prefix).out_lin", in: h, out: h)
        heads = c.numHeads
        headSize = c.headSize
    }

    /// `s.hidden` → `s.context`, then `norm(out_lin(·) + s.hidden)` into `s.attention` (the block's
    /// `sa_layer_norm`, here so that int8 can fuse it).
    func forward(_ s: Scratch, clsOnly: Bool, norm: LayerNorm) {
        attend(qkv: qkv, heads: heads, headSize: headSize, s, clsOnly: clsOnly)
        outLin.addNormalized(s.context, rows: s.rows, residual: s.hidden, norm: norm, into: s.attention)
    }
}

/// `lin2(gelu(lin1(x)))`, with the block's `output_layer_norm` after it (so that int8 can fuse it).
struct FFN: Sendable {
    let lin1: Linear
    let lin2: Linear

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        lin1 = try w.linear("\(prefix).lin1", in: c.hiddenSize, out: c.intermediateSize)
        lin2 = try w.linear("\(prefix).lin2", in: c.intermediateSize, out: c.hiddenSize)
    }

    /// `outputNorm(ffn(s.attention) + s.attention)` → `s.hidden`.
    func forward(_ s: Scratch, outputNorm: LayerNorm) {
        let t = s.rows
        if let intermediate = lin1.geluQuantized(s.attention, rows: t, for: lin2) {
            lin2.normalized(intermediate, rows: t, residual: s.attention, norm: outputNorm, into: s.hidden)
            return
        }
        lin1(s.attention, rows: t, into: s.intermediate, activation: .gelu)
        lin2.addNormalized(s.intermediate, rows: t, residual: s.attention, norm: outputNorm, into: s.hidden)
    }
}

/// `sa_layer_norm(attention(x) + x)`, then `output_layer_norm(ffn(·) + ·)`.
struct TransformerBlock: Sendable {
    let attention: MultiHeadSelfAttention
    let saLayerNorm: LayerNorm
    let ffn: FFN
    let outputLayerNorm: LayerNorm

    init(_ w: ModelLoader, _ prefix: String, _ c: EncoderConfig) throws {
        attention = try MultiHeadSelfAttention(w, "\(prefix).attention", c)
        saLayerNorm = try w.layerNorm("\(prefix).sa_layer_norm", size: c.hiddenSize, eps: c.layerNormEps)
        ffn = try FFN(w, "\(prefix).ffn", c)
        outputLayerNorm = try w.layerNorm("\(prefix).output_layer_norm", size: c.hiddenSize, eps: c.layerNormEps)
    }

    func forward(_ s: Scratch, clsOnly: Bool) {
        attention.forward(s, clsOnly: clsOnly, norm: saLayerNorm)
        ffn.forward(s, outputNorm: outputLayerNorm)
    }
}

/// The stack of blocks (`transformer.layer.N`), named `Transformer` in `transformers`.
struct DistilBertTransformer: Sendable {
    let layers: [TransformerBlock]

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        layers = try (0..<c.numLayers).map { try TransformerBlock(w, "transformer.layer.\($0)", c) }
    }

    func forward(_ s: Scratch, clsOnly: Bool, betweenLayers: () -> Void) {
        for (i, layer) in layers.enumerated() {
            if i > 0 { betweenLayers() }
            layer.forward(s, clsOnly: clsOnly && i == layers.count - 1)
        }
    }
}

struct DistilBertModel: TransformerBackbone {
    let config: EncoderConfig
    let embeddings: DistilBertEmbeddings
    let transformer: DistilBertTransformer

    init(_ w: ModelLoader, _ c: EncoderConfig) throws {
        config = c
        embeddings = try DistilBertEmbeddings(w, c)
        transformer = try DistilBertTransformer(w, c)
    }

    func forward(_ tokens: PackedTokens, clsOnly: Bool, betweenLayers: () -> Void) -> Scratch {
        let s = Scratch(tokens: tokens, config: config)
        embeddings.forward(s)
        transformer.forward(s, clsOnly: clsOnly, betweenLayers: betweenLayers)
        return s
    }
}
