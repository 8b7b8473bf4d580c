import Foundation
import Tokenization
import Transformer
import VectorStore

/// Reads `max_seq_length` from a sentence-transformers folder: the length the model was trained
/// for and that sentence-transformers truncates to (256 for all-MiniLM-L6-v2, not the tokenizer's 512).
/// An absent or unreadable file means no such limit (the tokenizer's applies), as in sentence-transformers.
func sentenceTransformersMaxLength(in directory: URL) -> Int? {
    struct SentenceBertConfig: Decodable {
        var maxSeqLength: Int?

        enum CodingKeys: String, CodingKey { case maxSeqLength = "max_seq_length" }
    }
    let url = directory.appendingPathComponent("sentence_bert_config.json")
    guard let data = try? Data(contentsOf: url) else { return nil }
    return (try? JSONFile.decode(SentenceBertConfig.self, from: data))?.maxSeqLength
}

/// Stage 1: a bi-encoder and its tokenizer.
public struct Retriever: Sendable {
    /// The model folder's name, e.g. "all-MiniLM-L6-v2".
    public var name: String
    public var tokenizer: BertTokenizer
    public var encoder: SentenceEncoder
    /// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    public var maxLength: Int

    public init(name: String, tokenizer: BertTokenizer, encoder: SentenceEncoder, maxLength: Int? = nil) {
        self.name = name
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxLength = min(maxLength ?? tokenizer.maxLength, tokenizer.maxLength)
    }

    /// Loads a Hugging Face / sentence-transformers folder. `pooling` overrides what the folder says;
    /// `precision` is the linear layers' (quantized while loading).
    public static func load(directory: URL, pooling: Pooling? = nil, precision: Precision = .fp32) throws -> Retriever {
        Retriever(
            name: directory.standardizedFileURL.lastPathComponent,
            tokenizer: try BertTokenizer(directory: directory),
            encoder: try SentenceEncoder(directory: directory, pooling: pooling, precision: precision),
            maxLength: sentenceTransformersMaxLength(in: directory))
    }

    public func encode(_ texts: [String]) -> [Encoding] {
        texts.map { tokenizer.encode($0, maxLength: maxLength) }
    }

    /// Embeddings in input order, computed in batches sorted by length (on the calling thread).
    public func embed(_ encodings: [Encoding], batchSize: Int = 32) throws -> [[Float]] {
        try inLengthOrder(encodings, batchSize: batchSize) { try encoder.embed(tokenizer.batch($0)) }
    }

    /// What a store built with this retriever records. Normalised embeddings make inner product
    /// a cosine.
    public var storeModel: StoreModel {
        StoreModel(
            fingerprint: encoder.fingerprint, dimension: encoder.dimension,
            pooling: encoder.pooling.mode.rawValue, similarity: encoder.pooling.normalize ? .cosine : .dot)
    }

    /// Throws unless `store` was built with this model: its vectors and this model's queries
    /// would not share a space.
    public func checkBuilt(_ store: VectorStore) throws {
        let model = store.model
        guard model.fingerprint == encoder.fingerprint, model.dimension == encoder.dimension else {
            throw CascadeError.configuration(
                "the index was built with model \(model.fingerprint) (\(model.dimension) dimensions) but the "
                    + "retriever \(name) is \(encoder.fingerprint) (\(encoder.dimension) dimensions); "
                    + "rebuild the index or load the model it was built with")
        }
    }

    public var info: ModelDescription {
        ModelDescription(
            name: name, architecture: encoder.architecture, fingerprint: encoder.fingerprint,
            dimension: encoder.dimension, pooling: encoder.pooling.mode.rawValue,
            normalize: encoder.pooling.normalize, maxLength: maxLength, precision: encoder.precision.rawValue)
    }
}

/// Stage 2: a cross-encoder and its tokenizer.
public struct Reranker: Sendable {
    public var name: String
    public var tokenizer: BertTokenizer
    public var encoder: CrossEncoder
    /// Tokens per (query, passage) pair, specials included.
    public var maxLength: Int

    public init(name: String, tokenizer: BertTokenizer, encoder: CrossEncoder, maxLength: Int? = nil) {
        self.name = name
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.maxLength = min(maxLength ?? tokenizer.maxLength, tokenizer.maxLength)
    }

    /// A cross-encoder folder, or with `head`, an encoder folder (e.g. a bare `BertModel`) under
    /// the classification head in that safetensors file (`classifier.*`, and `pooler.*` or
    /// `pre_classifier.*` where the folder lacks them).
    public static func load(
        directory: URL, head: URL? = nil, maxLength: Int? = nil, precision: Precision = .fp32
    ) throws -> Reranker {
        let encoder: CrossEncoder
        if let head {
            encoder = try CrossEncoder(
                encoderDirectory: directory, head: try SafetensorsFile(path: head.path), precision: precision)
        } else {
            encoder = try CrossEncoder(directory: directory, precision: precision)
        }
        return Reranker(
            name: directory.standardizedFileURL.lastPathComponent + (head.map { "+" + $0.lastPathComponent } ?? ""),
            tokenizer: try BertTokenizer(directory: directory), encoder: encoder, maxLength: maxLength)
    }

    /// `[CLS] query [SEP] passage [SEP]`, truncated longest-first as sentence-transformers' CrossEncoder does.
    public func encode(query: String, passages: [String]) -> [Encoding] {
        passages.map { tokenizer.encode(query, $0, maxLength: maxLength, truncation: .longestFirst) }
    }

    /// One logit per pair, in input order, in batches sorted by length (on the calling thread).
    public func score(_ encodings: [Encoding], batchSize: Int = 16) throws -> [Float] {
        try inLengthOrder(encodings, batchSize: batchSize) { try encoder.score(tokenizer.batch($0)) }
    }

    public var info: ModelDescription {
        ModelDescription(
            name: name, architecture: encoder.architecture, fingerprint: encoder.fingerprint,
            dimension: 0, pooling: "", normalize: false, maxLength: maxLength,
            precision: encoder.precision.rawValue)
    }
}

/// A model as `Info` reports it.
public struct ModelDescription: Sendable, Equatable {
    public var name: String
    public var architecture: String
    public var fingerprint: String
    /// Embedding size; 0 for a cross-encoder.
    public var dimension: Int
    /// "cls" or "mean"; empty for a cross-encoder.
    public var pooling: String
    public var normalize: Bool
    public var maxLength: Int
    /// "fp32", "fp16" or "int8": the weights the model runs with.
    public var precision: String
}
