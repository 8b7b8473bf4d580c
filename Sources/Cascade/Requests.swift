import VectorStore

// The requests the pipeline runs. Each is built by one throwing initialiser that applies every
// rule of `RequestRules` (`CascadeError.invalidArgument` naming the field, or
// `.failedPrecondition`); the pipeline takes only these, so it checks nothing again. What needs
// the tokenized text (the `max_rerank_tokens` and `max_encode_tokens` caps) or the server's
// state (a read-only index, the queue) is left to the pipeline.

/// A query and the cutoffs of its search.
public struct SearchRequest: Sendable, Equatable {
    public let query: String
    public let plan: SearchPlan

    /// Cutoffs left nil take the server's defaults, which bend to fit the ones set: `retrieveK =
    /// 5` alone gives `rerankK = min(default, 5)` and `topN = min(default, 5)` instead of an error
    /// about a value the caller never sent, and `topN = 300` alone raises the default `retrieveK`
    /// to 300. Without a reranker the default `rerankK` is 0.
    public init(
        query: String, retrieveK: Int? = nil, rerankK: Int? = nil, topN: Int? = nil, includeText: Bool = false,
        rerankBudget: Duration? = nil, rescoreK: Int? = nil, nprobe: Int? = nil, rules: RequestRules
    ) throws(CascadeError) {
        let (limits, defaults) = (rules.limits, rules.defaults)
        let retrieve = retrieveK ?? min(max(defaults.retrieveK, rerankK ?? 0, topN ?? 0), limits.maxRetrieveK)
        let rerank = rerankK ?? min(defaults.rerankK, retrieve, limits.maxRerankK)
        let top = topN ?? min(defaults.topN, max(retrieve, 1), limits.maxTopN)
        let plan = SearchPlan(
            retrieveK: retrieve, rerankK: rerank, topN: top, includeText: includeText, rerankBudget: rerankBudget,
            scan: SearchOptions(
                rescoreK: rescoreK ?? defaults.rescoreK.map { max($0, retrieve) }, nprobe: nprobe ?? defaults.nprobe))
        try self.init(query: query, plan: plan, rules: rules)
    }

    /// A search with every cutoff given.
    public init(query: String, plan: SearchPlan, rules: RequestRules) throws(CascadeError) {
        try rules.checkQuery(query, tokenizer: rules.retrieverTokenizer)
        try plan.check(against: rules.limits, hasReranker: rules.hasReranker)
        self.query = query
        self.plan = plan
    }
}

/// The caller's passages to score against a query with the cross-encoder.
public struct RerankRequest: Sendable, Equatable {
    public let query: String
    /// Ids in NFC, none repeated.
    public let passages: [Passage]
    /// Hits returned, best first; 0: all.
    public let topN: Int

    public init(query: String, passages: [Passage], topN: Int = 0, rules: RequestRules) throws(CascadeError) {
        guard let tokenizer = rules.rerankerTokenizer else {
            throw .failedPrecondition("this server has no reranker; start it with one to use Rerank")
        }
        let limits = rules.limits
        try rules.checkQuery(query, tokenizer: tokenizer)
        try rules.checkCount(
            "passages", passages.count, limit: limits.maxRerankPassages, limitName: "max_rerank_passages")
        let ids = try rules.checkIDs(passages.map(\.id)) { "passages[\($0)].id" }
        for (index, passage) in passages.enumerated() {
            try rules.checkPassageText(passage.text, field: "passages[\(index)].text", tokenizer: tokenizer)
        }
        guard topN >= 0 else {
            throw .invalidArgument(field: "top_n", message: "top_n must not be negative (got \(topN))")
        }
        self.query = query
        self.passages = zip(ids, passages).map { Passage(id: $0, text: $1.text) }
        self.topN = topN
    }
}

/// Passages to encode and write, all or nothing.
public struct UpsertRequest: Sendable, Equatable {
    /// Ids in NFC, none repeated.
    public let passages: [Passage]

    public init(passages: [Passage], rules: RequestRules) throws(CascadeError) {
        let limits = rules.limits
        try rules.checkCount(
            "passages", passages.count, limit: limits.maxUpsertPassages, limitName: "max_upsert_passages")
        let ids = try rules.checkIDs(passages.map(\.id)) { "passages[\($0)].id" }
        for (index, passage) in passages.enumerated() {
            try rules.checkPassageText(
                passage.text, field: "passages[\(index)].text", tokenizer: rules.retrieverTokenizer)
        }
        self.passages = zip(ids, passages).map { Passage(id: $0, text: $1.text) }
    }
}

/// Ids to delete, all or nothing.
public struct DeleteRequest: Sendable, Equatable {
    /// In NFC, none repeated.
    public let ids: [String]

    public init(ids: [String], rules: RequestRules) throws(CascadeError) {
        try rules.checkCount("ids", ids.count, limit: rules.limits.maxDeleteIds, limitName: "max_delete_ids")
        self.ids = try rules.checkIDs(ids) { "ids[\($0)]" }
    }
}

/// Texts to embed with the retriever.
public struct EmbedRequest: Sendable, Equatable {
    public let texts: [String]

    public init(texts: [String], rules: RequestRules) throws(CascadeError) {
        try rules.checkCount("texts", texts.count, limit: rules.limits.maxEmbedTexts, limitName: "max_embed_texts")
        for (index, text) in texts.enumerated() {
            try rules.checkPassageText(text, field: "texts[\(index)]", tokenizer: rules.retrieverTokenizer)
        }
        self.texts = texts
    }
}
