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
    /// Padded tokens in one rerank or bulk-encode (Embed, Upsert) forward pass. Query encodes
    /// that arrive meanwhile run between two of its layers, so a retrieval-only search waits for
    /// one layer of one such pass: 256 tokens (one or two pairs of a search) is about 40 ms of a
    /// MiniLM-L6 cross-encoder on 2 cores, 7 ms a layer. Larger passes ran no faster per token
    /// (the encoder packs rows without padding): 1 caller at 100:20 took 402 ms at 256 tokens,
    /// 395 ms at 2,048.
    public var rerankBatchTokens = 256
    /// How fast waiting work gains priority: a class that has waited this long without a batch
    /// counts as much as a fresh query encode, bulk work twice this long; and the longest a
    /// rerank or bulk pass pauses between two layers for query encodes. Nothing starves.
    public var agingMs = 200
    /// Bytes of cached rerank scores; 0 turns the cache off.
    public var rerankCacheBytes = 64 << 20
    /// The nice value (0-19) of the threads running model work. Under a flood, refusals and
    /// short requests are answered on the network threads while a forward pass holds every core:
    /// below them, model work yields those few milliseconds instead of making each refusal wait
    /// for a time slice.
    public var modelNice = 10

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case maxQueueMs, maxBatchTokens, rerankBatchTokens, agingMs, rerankCacheBytes, modelNice
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
        modelNice = try c.decodeIfPresent(Int.self, forKey: .modelNice) ?? modelNice
    }

    public func validate(prefix: String = "scheduler") throws {
        let positive: [(String, Int)] = [
            ("max_queue_ms", maxQueueMs), ("max_batch_tokens", maxBatchTokens),
            ("rerank_batch_tokens", rerankBatchTokens), ("aging_ms", agingMs),
        ]
        for (name, value) in positive where value < 1 {
            throw CascadeError.configuration("\(prefix).\(name) must be at least 1 (got \(value))")
        }
        if !(0...19).contains(modelNice) {
            throw CascadeError.configuration("\(prefix).model_nice must be in 0...19 (got \(modelNice))")
        }
        if rerankCacheBytes < 0 {
            throw CascadeError.configuration(
                "\(prefix).rerank_cache_bytes must not be negative (got \(rerankCacheBytes))")
        }
    }
}
