import VectorStore

/// Hard bounds on one request. They keep one caller from taking the server (a rerank of 10,000
/// passages is minutes of CPU) and keep messages well under gRPC's default 4 MiB.
public struct Limits: Sendable, Equatable, Codable {
    public var maxRetrieveK = 1000
    public var maxRerankK = 200
    public var maxTopN = 1000
    /// UTF-8 bytes of a query.
    public var maxQueryBytes = 4096
    /// UTF-8 bytes of one passage or text.
    public var maxTextBytes = 65536
    /// UTF-8 bytes of one passage id in NFC, the form ids are stored in (LMDB keys are at most 511 bytes).
    public var maxIdBytes = 256
    public var maxRerankPassages = 256
    public var maxEmbedTexts = 256
    public var maxUpsertPassages = 1024
    public var maxDeleteIds = 10000
    /// Requests admitted to the model scheduler at once; one more is refused as overload.
    public var queueCapacity = 64
    /// Cross-encoder tokens one request may send (a Rerank's pairs, a search's rerank_k pairs):
    /// about 200 pairs of 160 tokens, some 6 s of a MiniLM-L6 cross-encoder on 2 cores.
    public var maxRerankTokens = 32768
    /// Bi-encoder tokens one Embed or Upsert may send: 512 texts at all-MiniLM-L6-v2's 256.
    public var maxEncodeTokens = 131072

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxRetrieveK, maxRerankK, maxTopN, maxQueryBytes, maxTextBytes, maxIdBytes
        case maxRerankPassages, maxEmbedTexts, maxUpsertPassages, maxDeleteIds, queueCapacity
        case maxRerankTokens, maxEncodeTokens
    }

    /// Missing keys keep their defaults, so a config file names only what it changes.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        func take(_ key: CodingKeys, _ value: inout Int) throws {
            value = try c.decodeIfPresent(Int.self, forKey: key) ?? value
        }
        try take(.maxRetrieveK, &maxRetrieveK)
        try take(.maxRerankK, &maxRerankK)
        try take(.maxTopN, &maxTopN)
        try take(.maxQueryBytes, &maxQueryBytes)
        try take(.maxTextBytes, &maxTextBytes)
        try take(.maxIdBytes, &maxIdBytes)
        try take(.maxRerankPassages, &maxRerankPassages)
        try take(.maxEmbedTexts, &maxEmbedTexts)
        try take(.maxUpsertPassages, &maxUpsertPassages)
        try take(.maxDeleteIds, &maxDeleteIds)
        try take(.queueCapacity, &queueCapacity)
        try take(.maxRerankTokens, &maxRerankTokens)
        try take(.maxEncodeTokens, &maxEncodeTokens)
    }

    /// Refuses limits no request could meet. `prefix` names the config section in messages.
    public func validate(prefix: String = "limits") throws {
        let all: [(String, Int)] = [
            ("max_retrieve_k", maxRetrieveK), ("max_rerank_k", maxRerankK), ("max_top_n", maxTopN),
            ("max_query_bytes", maxQueryBytes), ("max_text_bytes", maxTextBytes), ("max_id_bytes", maxIdBytes),
            ("max_rerank_passages", maxRerankPassages), ("max_embed_texts", maxEmbedTexts),
            ("max_upsert_passages", maxUpsertPassages), ("max_delete_ids", maxDeleteIds),
            ("queue_capacity", queueCapacity), ("max_rerank_tokens", maxRerankTokens),
            ("max_encode_tokens", maxEncodeTokens),
        ]
        for (name, value) in all where value < 1 {
            throw CascadeError.configuration("\(prefix).\(name) must be at least 1 (got \(value))")
        }
        if maxIdBytes > 511 {
            throw CascadeError.configuration("\(prefix).max_id_bytes must be at most 511 (got \(maxIdBytes))")
        }
    }
}

/// Cutoffs used when a request leaves them unset.
public struct SearchDefaults: Sendable, Equatable, Codable {
    public var retrieveK = 100
    public var rerankK = 20
    public var topN = 10
    /// Candidates rescored exactly on a coded store (raised to retrieve_k when below it); nil:
    /// 4 x retrieve_k.
    public var rescoreK: Int?
    /// Partitions probed on a partitioned store; nil: an eighth of them, at least 8.
    public var nprobe: Int?

    public init(retrieveK: Int = 100, rerankK: Int = 20, topN: Int = 10, rescoreK: Int? = nil, nprobe: Int? = nil) {
        self.retrieveK = retrieveK
        self.rerankK = rerankK
        self.topN = topN
        self.rescoreK = rescoreK
        self.nprobe = nprobe
    }

    private enum CodingKeys: String, CodingKey { case retrieveK, rerankK, topN, rescoreK, nprobe }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        retrieveK = try c.decodeIfPresent(Int.self, forKey: .retrieveK) ?? retrieveK
        rerankK = try c.decodeIfPresent(Int.self, forKey: .rerankK) ?? rerankK
        topN = try c.decodeIfPresent(Int.self, forKey: .topN) ?? topN
        rescoreK = try c.decodeIfPresent(Int.self, forKey: .rescoreK)
        nprobe = try c.decodeIfPresent(Int.self, forKey: .nprobe)
    }

    /// The defaults must themselves be a valid plan (without a reranker, rerank_k must be 0).
    public func validate(against limits: Limits, hasReranker: Bool) throws {
        let plan = SearchPlan(
            retrieveK: retrieveK, rerankK: rerankK, topN: topN,
            scan: SearchOptions(rescoreK: rescoreK.map { max($0, retrieveK) }, nprobe: nprobe))
        do {
            try plan.check(against: limits, hasReranker: hasReranker)
        } catch {
            throw CascadeError.configuration("defaults: \(error)")
        }
    }
}
