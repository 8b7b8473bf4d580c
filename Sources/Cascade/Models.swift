import Foundation
import Tokenization
import Transformer
import VectorStore

/// Stage 1: a bi-encoder and its tokenizer.
public struct Retriever: Sendable {
    /// The model folder's name, e.g. "all-MiniLM-L6-v2".
    public var name: String
    public var tokenizer: BertTokenizer
    public var encoder: SentenceEncoder

    public init(name: String, tokenizer: BertTokenizer, encoder: SentenceEncoder) {
        self.name = name
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    /// Loads a Hugging Face / sentence-transformers folder. `pooling` overrides what the folder says.
    public static func load(directory: URL, pooling: Pooling? = nil) throws -> Retriever {
        Retriever(
            name: directory.standardizedFileURL.lastPathComponent,
            tokenizer: try BertTokenizer(directory: directory),
            encoder: try SentenceEncoder(directory: directory, pooling: pooling))
    }

    /// What a store built with this retriever records. Normalised embeddings make inner product
    /// a cosine.
    public var storeModel: StoreModel {
        StoreModel(
            fingerprint: encoder.fingerprint, dimension: encoder.dimension,
            pooling: encoder.pooling.mode.rawValue, similarity: encoder.pooling.normalize ? .cosine : .dot)
    }

    public var info: ModelDescription {
        ModelDescription(
            name: name, architecture: encoder.architecture, fingerprint: encoder.fingerprint,
            dimension: encoder.dimension, pooling: encoder.pooling.mode.rawValue,
            normalize: encoder.pooling.normalize, maxLength: tokenizer.maxLength)
    }
}

/// Stage 2: a cross-encoder and its tokenizer.
public struct Reranker: Sendable {
    public var name: String
    public var tokenizer: BertTokenizer
    public var encoder: CrossEncoder

    public init(name: String, tokenizer: BertTokenizer, encoder: CrossEncoder) {
        self.name = name
        self.tokenizer = tokenizer
        self.encoder = encoder
    }

    public static func load(directory: URL) throws -> Reranker {
        Reranker(
            name: directory.standardizedFileURL.lastPathComponent,
            tokenizer: try BertTokenizer(directory: directory),
            encoder: try CrossEncoder(directory: directory))
    }

    public var info: ModelDescription {
        ModelDescription(
            name: name, architecture: encoder.architecture, fingerprint: encoder.fingerprint,
            dimension: 0, pooling: "", normalize: false, maxLength: tokenizer.maxLength)
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
}
