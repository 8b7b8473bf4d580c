import Foundation
import Tokenization

/// Reads `max_seq_length` from a sentence-transformers folder: the length the model was trained
/// for, which sentence-transformers truncates to (256 for all-MiniLM-L6-v2, not the tokenizer's 512).
func sentenceTransformersMaxLength(in directory: URL) -> Int? {
    let url = directory.appendingPathComponent("sentence_bert_config.json")
    guard let data = try? Data(contentsOf: url),
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["max_seq_length"] as? Int
}

/// Runs `body` over `items` in batches of rows with similar token counts, so a batch pads little,
/// and returns the results in the original order.
func inLengthOrder<T>(
    _ encodings: [Encoding], batchSize: Int, _ body: ([Encoding]) throws -> [T]
) rethrows -> [T] {
    let order = encodings.indices.sorted { encodings[$0].count < encodings[$1].count }
    var results = [T?](repeating: nil, count: encodings.count)
    var start = 0
    while start < order.count {
        let slice = order[start..<min(start + batchSize, order.count)]
        let outputs = try body(slice.map { encodings[$0] })
        for (index, output) in zip(slice, outputs) { results[index] = output }
        start += batchSize
    }
    return results.map { $0! }
}

/// A bi-encoder with its tokenizer: texts in, one vector per text out.
public final class TextEmbedder: Sendable {
    public let tokenizer: BertTokenizer
    public let encoder: SentenceEncoder
    /// Tokens per text, `[CLS]` and `[SEP]` included; longer texts are truncated.
    public let maxLength: Int
    public let batchSize: Int
    public let directory: URL

    public init(directory: URL, pooling: Pooling? = nil, maxLength: Int? = nil, batchSize: Int = 32) throws {
        self.directory = directory
        tokenizer = try BertTokenizer(directory: directory)
        encoder = try SentenceEncoder(directory: directory, pooling: pooling)
        self.maxLength = min(maxLength ?? sentenceTransformersMaxLength(in: directory) ?? 512, tokenizer.maxLength)
        self.batchSize = max(1, batchSize)
    }

    public var dimension: Int { encoder.dimension }

    public func encode(_ texts: [String]) -> [Encoding] {
        texts.map { tokenizer.encode($0, maxLength: maxLength) }
    }

    public func embed(_ encodings: [Encoding]) throws -> [[Float]] {
        try inLengthOrder(encodings, batchSize: batchSize) { try encoder.embed(tokenizer.batch($0)) }
    }

    public func embed(_ texts: [String]) throws -> [[Float]] {
        try embed(encode(texts))
    }
}

/// A cross-encoder with its tokenizer: one relevance logit per (query, passage) pair.
public final class PairScorer: Sendable {
    public let tokenizer: BertTokenizer
    public let model: CrossEncoder
    public let maxLength: Int
    public let batchSize: Int
    public let directory: URL

    public init(directory: URL, maxLength: Int? = nil, batchSize: Int = 16) throws {
        self.directory = directory
        tokenizer = try BertTokenizer(directory: directory)
        model = try CrossEncoder(directory: directory)
        self.maxLength = min(maxLength ?? 512, tokenizer.maxLength)
        self.batchSize = max(1, batchSize)
    }

    /// `[CLS] query [SEP] passage [SEP]`, truncated longest-first as sentence-transformers' CrossEncoder does.
    public func encode(query: String, passages: [String]) -> [Encoding] {
        passages.map { tokenizer.encode(query, $0, maxLength: maxLength, truncation: .longestFirst) }
    }

    public func score(_ encodings: [Encoding]) throws -> [Float] {
        try inLengthOrder(encodings, batchSize: batchSize) { try model.score(tokenizer.batch($0)) }
    }

    public func score(query: String, passages: [String]) throws -> [Float] {
        try score(encode(query: query, passages: passages))
    }
}
