/// How the model scheduler admits, batches and orders work (`scheduler` in the server's config).
public struct SchedulerSettings: Sendable, Equatable, Codable {
    /// The most admitted work a new request may find ahead of it, in milliseconds of the cost
    /// model's estimate; beyond it the request is refused at once. Callers with a deadline are
    /// admitted by it; this bounds the others. Five seconds: two deep reranks (rerank_k 50-100,
    /// 1-3 s each on 2 cores) may wait behind each other, while a caller without a deadline hears
    /// "busy" at once instead of waiting tens of seconds (64 such callers once waited 30 s at the
    /// median).
    public var maxQueueMs = 5000
    /// Padded tokens in one query-encode forward pass (queries of many callers share one pass
    /// up to this).
    public var maxBatchTokens = 4096
    /// Padded tokens in one rerank or bulk-encode (Embed, Upsert) forward pass. A query encode
    /// that arrives meanwhile waits for at most one such batch: 256 tokens (one or two pairs of
    /// a search) is about 30-40 ms of a MiniLM-L6 cross-encoder on 2 cores, which keeps a
    /// retrieval-only search's p99 within 10x its unloaded p50 beside reranking callers; and a
    /// GEMM of 256 rows already runs near the speed of a large batch.
    public var rerankBatchTokens = 256
    /// How fast waiting work gains priority: a rerank batch that has waited this long counts as
    /// much as a fresh query encode, bulk work twice this long. Nothing starves.
    public var agingMs = 200
    /// Bytes of cached rerank scores; 0 turns the cache off.
    public var rerankCacheBytes = 64 << 20

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxQueueMs, maxBatchTokens, rerankBatchTokens, agingMs, rerankCacheBytes
    }

    /// Missing keys keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        maxQueueMs = try c.decodeIfPresent(Int.self, forKey: .maxQueueMs) ?? maxQueueMs
        maxBatchTokens = try c.decodeIfPresent(Int.self, forKey: .maxBatchTokens) ?? maxBatchTokens
        rerankBatchTokens = try c.decodeIfPresent(Int.self, forKey: .rerankBatchTokens) ?? rerankBatchTokens
        agingMs = try c.decodeIfPresent(Int.self, forKey: .agingMs) ?? agingMs
        rerankCacheBytes = try c.decodeIfPresent(Int.self, forKey: .rerankCacheBytes) ?? rerankCacheBytes
    }

    public func validate(prefix: String = "scheduler") throws {
        let positive: [(String, Int)] = [
            ("max_queue_ms", maxQueueMs), ("max_batch_tokens", maxBatchTokens),
            ("rerank_batch_tokens", rerankBatchTokens), ("aging_ms", agingMs),
        ]
        for (name, value) in positive where value < 1 {
            throw CascadeError.configuration("\(prefix).\(name) must be at least 1 (got \(value))")
        }
        if rerankCacheBytes < 0 {
            throw CascadeError.configuration(
                "\(prefix).rerank_cache_bytes must not be negative (got \(rerankCacheBytes))")
        }
    }
}
