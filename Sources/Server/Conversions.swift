import Cascade
import CascadeAPI
import VectorStore

extension Cascade_V1_Timing {
    init(_ trace: Trace) {
        self.init()
        for stage in Stage.allCases { self[stage] = trace.microseconds(stage) }
    }
}

// Requests from their messages; every check is the request type's.

extension SearchRequest {
    /// retrieve_k and top_n are plain proto3 fields, whose 0 means "unset" (0 is never valid for
    /// them); rerank_k (0 is retrieval only), rerank_budget_ms, rescore_k and nprobe have presence.
    init(_ message: Cascade_V1_SearchRequest, rules: RequestRules) throws(CascadeError) {
        try self.init(
            query: message.query, retrieveK: message.retrieveK == 0 ? nil : Int(message.retrieveK),
            rerankK: message.hasRerankK ? Int(message.rerankK) : nil,
            topN: message.topN == 0 ? nil : Int(message.topN), includeText: message.includeText,
            rerankBudget: message.hasRerankBudgetMs ? .milliseconds(Int64(message.rerankBudgetMs)) : nil,
            rescoreK: message.hasRescoreK ? Int(message.rescoreK) : nil,
            nprobe: message.hasNprobe ? Int(message.nprobe) : nil, rules: rules)
    }
}

extension RerankRequest {
    init(_ message: Cascade_V1_RerankRequest, rules: RequestRules) throws(CascadeError) {
        try self.init(
            query: message.query, passages: message.passages.map(Passage.init), topN: Int(message.topN), rules: rules)
    }
}

extension UpsertRequest {
    init(_ message: Cascade_V1_UpsertRequest, rules: RequestRules) throws(CascadeError) {
        try self.init(passages: message.passages.map(Passage.init), rules: rules)
    }
}

extension DeleteRequest {
    init(_ message: Cascade_V1_DeleteRequest, rules: RequestRules) throws(CascadeError) {
        try self.init(ids: message.ids, rules: rules)
    }
}

extension EmbedRequest {
    init(_ message: Cascade_V1_EmbedRequest, rules: RequestRules) throws(CascadeError) {
        try self.init(texts: message.texts, rules: rules)
    }
}

extension Cascade_V1_SearchResponse {
    init(_ result: SearchResult) {
        self.init()
        hits = result.hits.map { hit in
            .with {
                $0.id = hit.id
                $0.score = hit.score
                $0.retrievalScore = hit.retrievalScore
                if let rerankScore = hit.rerankScore { $0.rerankScore = rerankScore }
                $0.rank = UInt32(hit.rank)
                $0.retrievalRank = UInt32(hit.retrievalRank)
                if let text = hit.text { $0.text = text }
            }
        }
        timing = Cascade_V1_Timing(result.trace)
        retrieveK = UInt32(result.plan.retrieveK)
        rerankK = UInt32(result.plan.rerankK)
        topN = UInt32(result.plan.topN)
        reranked = UInt32(result.reranked)
        rerankCacheHits = UInt32(result.rerankCacheHits)
    }
}

extension Cascade_V1_ModelInfo {
    init(_ model: ModelDescription) {
        self.init()
        name = model.name
        architecture = model.architecture
        fingerprint = model.fingerprint
        dimension = UInt32(model.dimension)
        pooling = model.pooling
        normalize = model.normalize
        maxLength = UInt32(model.maxLength)
        precision = model.precision
    }
}

extension Cascade_V1_InfoResponse {
    init(_ info: PipelineInfo, version: String) {
        self.init()
        retriever = Cascade_V1_ModelInfo(info.retriever)
        if let reranker = info.reranker { self.reranker = Cascade_V1_ModelInfo(reranker) }
        corpus = .with {
            $0.size = UInt64(info.corpusSize)
            $0.similarity = info.similarity.rawValue
            $0.readOnly = info.readOnly
        }
        defaults = .with {
            $0.retrieveK = UInt32(info.defaults.retrieveK)
            $0.rerankK = UInt32(info.defaults.rerankK)
            $0.topN = UInt32(info.defaults.topN)
            $0.rescoreK = UInt32(info.defaults.rescoreK ?? 0)
            $0.nprobe = UInt32(info.defaults.nprobe ?? 0)
        }
        let limits = info.limits
        self.limits = .with {
            $0.maxRetrieveK = UInt32(limits.maxRetrieveK)
            $0.maxRerankK = UInt32(limits.maxRerankK)
            $0.maxTopN = UInt32(limits.maxTopN)
            $0.maxQueryBytes = UInt32(limits.maxQueryBytes)
            $0.maxTextBytes = UInt32(limits.maxTextBytes)
            $0.maxIDBytes = UInt32(limits.maxIdBytes)
            $0.maxRerankPassages = UInt32(limits.maxRerankPassages)
            $0.maxEmbedTexts = UInt32(limits.maxEmbedTexts)
            $0.maxUpsertPassages = UInt32(limits.maxUpsertPassages)
            $0.maxDeleteIds = UInt32(limits.maxDeleteIds)
            $0.queueCapacity = UInt32(limits.queueCapacity)
            $0.maxRerankTokens = UInt32(limits.maxRerankTokens)
            $0.maxEncodeTokens = UInt32(limits.maxEncodeTokens)
        }
        let scheduler = info.scheduler
        self.scheduler = .with {
            $0.maxQueueMs = UInt32(scheduler.maxQueueMs)
            $0.maxBatchTokens = UInt32(scheduler.maxBatchTokens)
            $0.rerankBatchTokens = UInt32(scheduler.rerankBatchTokens)
            $0.agingMs = UInt32(scheduler.agingMs)
            $0.modelNice = UInt32(scheduler.modelNice)
            $0.rerankCacheBytes = UInt64(scheduler.rerankCacheBytes)
        }
        self.version = version
    }
}

extension Passage {
    init(_ message: Cascade_V1_Passage) {
        self.init(id: message.id, text: message.text)
    }
}
