import VectorStore

/// One hit of a search.
public struct SearchHit: Sendable, Equatable {
    public var id: String
    /// What the ranking used: `rerankScore` when reranked, else `retrievalScore`.
    public var score: Float
    public var retrievalScore: Float
    /// Cross-encoder logit, for hits that were reranked.
    public var rerankScore: Float?
    /// 1-based position in the result.
    public var rank: Int
    /// 1-based position in the retrieval ranking.
    public var retrievalRank: Int
    /// The passage text, when the plan asked for it.
    public var text: String?
}

public struct SearchResult: Sendable, Equatable {
    public var hits: [SearchHit]
    public var plan: SearchPlan
    public var trace: Trace
    /// Candidates the cross-encoder scored (or whose scores came from the cache): `plan.rerankK`
    /// unless a rerank budget cut it, or fewer candidates were retrieved.
    public var reranked: Int
    /// Of those, how many scores came from the rerank cache.
    public var rerankCacheHits: Int
}

public struct Embeddings: Sendable, Equatable {
    /// One per text, in input order.
    public var vectors: [[Float]]
    public var dimension: Int
    public var trace: Trace
}

public struct RerankHit: Sendable, Equatable {
    public var id: String
    public var score: Float
    /// 0-based position of the passage in the input.
    public var index: Int
    /// 1-based position in the result.
    public var rank: Int
}

public struct RerankResult: Sendable, Equatable {
    /// Best first; ties keep input order.
    public var hits: [RerankHit]
    public var trace: Trace
    public var cacheHits: Int
}

public struct WriteResult: Sendable, Equatable {
    /// Passages written or deleted.
    public var count: Int
    /// Passages in the store afterwards.
    public var corpusSize: Int
    public var trace: Trace
}

public struct PipelineInfo: Sendable, Equatable {
    public var retriever: ModelDescription
    public var reranker: ModelDescription?
    public var corpusSize: Int
    public var similarity: Similarity
    /// Writes are refused: the index was opened read-only.
    public var readOnly: Bool
    public var defaults: SearchDefaults
    public var limits: Limits
    public var scheduler: SchedulerSettings
}
