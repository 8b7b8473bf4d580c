import Tokenization
import VectorStore

/// What every request is checked against: the server's limits and defaults, and the tokenizers
/// that will read its texts. The rules for a text, an id and a list live here and only here;
/// the request types (`SearchRequest`, ...) apply them once, when they are built.
public struct RequestRules: Sendable {
    public let limits: Limits
    /// `rerankK` is 0 when there is no reranker (the pipeline sees to it).
    public let defaults: SearchDefaults
    /// Reads queries for retrieval, and Embed and Upsert texts.
    public let retrieverTokenizer: BertTokenizer
    /// Reads Rerank queries and passages; nil: no reranker.
    public let rerankerTokenizer: BertTokenizer?

    public init(
        limits: Limits, defaults: SearchDefaults, retrieverTokenizer: BertTokenizer, rerankerTokenizer: BertTokenizer?
    ) {
        self.limits = limits
        self.defaults = defaults
        self.retrieverTokenizer = retrieverTokenizer
        self.rerankerTokenizer = rerankerTokenizer
    }

    public var hasReranker: Bool { rerankerTokenizer != nil }

    /// The text rule: a text must hold something `tokenizer` turns into at least one token (not
    /// only whitespace, NUL, U+200B, U+FEFF or a lone accent), and at most `maxBytes` of UTF-8.
    /// Without a tokenizer (vectors made elsewhere, imported) only emptiness can be checked.
    public static func checkText(
        _ text: String, field: String, tokenizer: BertTokenizer?, maxBytes: Int? = nil, limitName: String = ""
    ) throws(CascadeError) {
        let bytes = text.utf8.count
        if let maxBytes, bytes > maxBytes {
            throw .invalidArgument(
                field: field, message: "\(field) is \(bytes) bytes; the limit is \(maxBytes) (\(limitName))")
        }
        if text.unicodeScalars.allSatisfy(\.properties.isWhitespace) {
            throw .invalidArgument(field: field, message: "\(field) must not be empty")
        }
        if let tokenizer, !tokenizer.producesTokens(text) {
            throw .invalidArgument(
                field: field,
                message: "\(field) must not be empty: it holds no token, only whitespace, control or format "
                    + "characters (NUL, U+200B, U+FEFF) or marks with no letter to go on")
        }
    }

    /// The id rule (`PassageID`), with the field named: returns the id in NFC.
    public static func checkID(
        _ id: String, field: String, maxBytes: Int, limitName: String = "max_id_bytes"
    ) throws(CascadeError) -> String {
        do {
            return try PassageID.checked(id, maxBytes: maxBytes)
        } catch .tooLong(let bytes, let limit) {
            throw .invalidArgument(
                field: field, message: "\(field) is \(bytes) bytes; the limit is \(limit) (\(limitName))")
        } catch {
            throw .invalidArgument(field: field, message: "\(field) \(error)")
        }
    }

    /// Ids under this server's `max_id_bytes`, in NFC; a repeat (compared in NFC) is refused,
    /// naming both places. `field(i)` names the i-th id.
    func checkIDs(_ ids: [String], field: (Int) -> String) throws(CascadeError) -> [String] {
        var seen: [String: Int] = [:]
        var checked: [String] = []
        checked.reserveCapacity(ids.count)
        for (index, id) in ids.enumerated() {
            let normal = try Self.checkID(id, field: field(index), maxBytes: limits.maxIdBytes)
            if let first = seen.updateValue(index, forKey: normal) {
                throw .invalidArgument(
                    field: field(index), message: "\(field(index)) \"\(normal)\" repeats \(field(first))")
            }
            checked.append(normal)
        }
        return checked
    }

    func checkQuery(_ query: String, tokenizer: BertTokenizer) throws(CascadeError) {
        try Self.checkText(
            query, field: "query", tokenizer: tokenizer, maxBytes: limits.maxQueryBytes, limitName: "max_query_bytes")
    }

    func checkPassageText(_ text: String, field: String, tokenizer: BertTokenizer) throws(CascadeError) {
        try Self.checkText(
            text, field: field, tokenizer: tokenizer, maxBytes: limits.maxTextBytes, limitName: "max_text_bytes")
    }

    /// A list must hold 1 to `limit` entries.
    func checkCount(_ field: String, _ count: Int, limit: Int, limitName: String) throws(CascadeError) {
        if count == 0 {
            throw .invalidArgument(field: field, message: "\(field) must not be empty")
        }
        if count > limit {
            throw .invalidArgument(
                field: field, message: "\(field) has \(count) entries; the limit is \(limit) (\(limitName))")
        }
    }
}
