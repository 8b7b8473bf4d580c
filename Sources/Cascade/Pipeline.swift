import Foundation
import Tokenization
import Transformer
import VectorStore

/// How a pipeline bounds and schedules its work.
public struct PipelineConfiguration: Sendable, Equatable {
    public var defaults: SearchDefaults
    public var limits: Limits
    public var scheduler: SchedulerSettings

    public init(
        defaults: SearchDefaults = SearchDefaults(), limits: Limits = Limits(),
        scheduler: SchedulerSettings = SchedulerSettings()
    ) {
        self.defaults = defaults
        self.limits = limits
        self.scheduler = scheduler
    }
}

/// Retrieve-then-rerank search over one vector store.
///
/// search: tokenize → admit → encode + retrieve `retrieveK` → fetch texts → rerank the best
/// `rerankK` (cached scores reused) → merge (reranked hits first, by rerank score; then the rest,
/// by retrieval score) → `topN`.
///
/// Every model run (and the store's scan) goes through one `ModelScheduler`, which admits whole
/// requests and batches the work of many callers. Store writes go through a `WriteQueue`, so an
/// upsert's fsync never holds up searches and LMDB's single writer is never contended.
public final class Pipeline: Sendable {
    public let store: VectorStore
    public let retriever: Retriever
    public let reranker: Reranker?
    public let configuration: PipelineConfiguration
    public let scheduler: ModelScheduler
    /// What requests to this pipeline are checked against (build them with it).
    public let rules: RequestRules
    let writes: WriteQueue
    let rerankCache: RerankCache

    /// Checks that the store's vectors were made by this retriever and that the configuration is
    /// usable (`CascadeError.configuration` otherwise), then starts the scheduler (which times
    /// one pass of each model).
    public init(
        store: VectorStore, retriever: Retriever, reranker: Reranker? = nil,
        configuration: PipelineConfiguration = PipelineConfiguration()
    ) throws {
        try retriever.checkBuilt(store)
        var configuration = configuration
        // Without a reranker the default can only be retrieval alone; a configured rerank_k
        // default then simply does not apply (a request that asks for reranking is still refused).
        if reranker == nil { configuration.defaults.rerankK = 0 }
        try configuration.limits.validate()
        try configuration.defaults.validate(against: configuration.limits, hasReranker: reranker != nil)
        try configuration.scheduler.validate()
        self.store = store
        self.retriever = retriever
        self.reranker = reranker
        self.configuration = configuration
        self.rules = RequestRules(
            limits: configuration.limits, defaults: configuration.defaults, retrieverTokenizer: retriever.tokenizer,
            rerankerTokenizer: reranker?.tokenizer)
        self.scheduler = try ModelScheduler(
            retriever: retriever, reranker: reranker, store: store, settings: configuration.scheduler,
            capacity: configuration.limits.queueCapacity)
        // Writers wait behind the same bound as model work: a flood of upserts is refused too.
        self.writes = WriteQueue(capacity: configuration.limits.queueCapacity, name: "cascade-writes")
        self.rerankCache = RerankCache(capacityBytes: configuration.scheduler.rerankCacheBytes)
    }

    /// Loads the models and opens the index at `index` (created, empty, when absent and
    /// `createIndex` allows it). A `readOnly` index must exist; writes to it are refused.
    public static func open(
        index: URL, retriever retrieverDirectory: URL, reranker rerankerDirectory: URL? = nil,
        rerankerHead: URL? = nil, configuration: PipelineConfiguration = PipelineConfiguration(),
        createIndex: Bool = true, readOnly: Bool = false, retrieverPrecision: Precision = .fp32,
        rerankerPrecision: Precision = .fp32
    ) throws -> Pipeline {
        guard (createIndex && !readOnly) || FileManager.default.fileExists(atPath: index.path) else {
            throw CascadeError.configuration("no index at \(index.path): build one with `cascade index`")
        }
        let retriever = try Retriever.load(directory: retrieverDirectory, precision: retrieverPrecision)
        let reranker = try rerankerDirectory.map {
            try Reranker.load(directory: $0, head: rerankerHead, precision: rerankerPrecision)
        }
        let store: VectorStore
        if FileManager.default.fileExists(atPath: index.path) {
            store = try VectorStore.open(existingAt: index, readOnly: readOnly)
        } else {
            store = try VectorStore.open(at: index, model: retriever.storeModel)
        }
        return try Pipeline(store: store, retriever: retriever, reranker: reranker, configuration: configuration)
    }

    /// Stops taking model work; waiting work fails with `CascadeError.shutDown`.
    public func shutdown() {
        scheduler.shutdown()
        writes.shutdown()
    }

    /// Model jobs waiting for the scheduler's thread.
    public var queueDepth: Int { scheduler.waiting }

    public var limits: Limits { configuration.limits }
    public var defaults: SearchDefaults { configuration.defaults }

    /// Runs one search. `deadline` (the caller's, e.g. gRPC's) decides admission: a search that
    /// would not finish before it is refused before any model work.
    public func search(_ request: SearchRequest, deadline: ContinuousClock.Instant? = nil) async throws -> SearchResult
    {
        let start = ContinuousClock.now
        var trace = Trace()
        let (query, plan) = (request.query, request.plan)

        let encoding = trace.measure(.tokenize, attributes: ["texts": 1]) {
            retriever.tokenizer.encode(query, maxLength: retriever.maxLength)
        }
        var price = WorkCost(encodeTokens: encoding.count, scans: 1)
        if plan.rerankK > 0 {
            // A repeated (or shallower) search finds its pairs scored: only the rest is model work.
            let scored = reranker.map { rerankCache.pairs(model: $0.encoder.fingerprint, query: query) } ?? 0
            let pairTokens = scheduler.expectedTokensPerPair
            var tokens = Double(max(0, plan.rerankK - scored)) * pairTokens
            if let budget = plan.rerankBudget {
                tokens = min(tokens, ModelScheduler.seconds(budget) / scheduler.rerankSecondsPerToken)
            }
            price.rerankTokens = Int(tokens.rounded(.up))
        }
        return try await scheduler.withAdmission(price, deadline: deadline) { admission in
            let retrieved = try await scheduler.encodeQuery(
                encoding, k: plan.retrieveK, options: plan.scan, for: admission)
            trace.queue = admission.admitted.duration(to: retrieved.started)
            trace.encode = retrieved.encode
            trace.retrieve = retrieved.retrieve
            let hits = retrieved.hits
            let encoded = retrieved.started + retrieved.encode
            trace.mark(.queue, from: admission.admitted, to: retrieved.started)
            trace.mark(.encode, from: retrieved.started, to: encoded, attributes: ["tokens": encoding.count])
            trace.mark(
                .retrieve, from: encoded, to: encoded + retrieved.retrieve,
                attributes: ["retrieve_k": plan.retrieveK, "hits": hits.count])

            // The final top_n lies within the first max(rerank_k, top_n) retrieved (reranking only
            // reorders the first rerank_k), so one read fetches every text the request needs.
            let needed = min(hits.count, max(plan.rerankK, plan.includeText ? plan.topN : 0))
            let fetched = try trace.measure(.fetch, attributes: ["passages": needed]) {
                try store.passages(ids: hits.prefix(needed).map(\.id))
            }

            // A passage deleted between the scan and the read has no text: drop its hit.
            var candidates: [(rank: Int, hit: Hit, text: String?)] = []
            for (index, hit) in hits.enumerated() {
                if index < needed {
                    guard let passage = fetched[index] else { continue }
                    candidates.append((index + 1, hit, passage.text))
                } else {
                    candidates.append((index + 1, hit, nil))
                }
            }

            let wanted = min(plan.rerankK, candidates.prefix(needed).count(where: { $0.text != nil }))
            var scores: [Float] = []
            var cacheHits = 0
            if wanted > 0 {
                let passages = candidates.prefix(wanted).map { Passage(id: $0.hit.id, text: $0.text ?? "") }
                let rerankStart = ContinuousClock.now
                let tokenizing = trace.tokenize
                let pairs = try preparePairs(query: query, passages: passages, trace: &trace)
                let scored = try await score(pairs, budget: plan.rerankBudget, ofSearch: true, admission: admission)
                trace.rerank = rerankStart.duration(to: .now) - (trace.tokenize - tokenizing)
                scores = scored.scores
                cacheHits = scored.cacheHits
                trace.mark(
                    .rerank, from: rerankStart, to: .now,
                    attributes: [
                        "rerank_k": plan.rerankK, "pairs": wanted, "scored": scores.count,
                        "cache_hits": scored.cacheHits, "tokens": pairs.tokens,
                    ], batches: scored.batches)
                if scores.count < wanted {
                    scheduler.observer?.rerankBudgetCut(requested: wanted, reranked: scores.count)
                }
                if trace.queue == .zero, let started = scored.started {
                    trace.queue = admission.admitted.duration(to: started)
                }
            }
            let rerankCount = scores.count

            let reranked = (0..<rerankCount).sorted { a, b in
                scores[a] != scores[b] ? scores[a] > scores[b] : a < b
            }
            let order = reranked + Array(rerankCount..<candidates.count)
            var results: [SearchHit] = []
            results.reserveCapacity(min(plan.topN, order.count))
            for index in order.prefix(plan.topN) {
                let candidate = candidates[index]
                let rerankScore = index < rerankCount ? scores[index] : nil
                results.append(
                    SearchHit(
                        id: candidate.hit.id, score: rerankScore ?? candidate.hit.score,
                        retrievalScore: candidate.hit.score, rerankScore: rerankScore, rank: results.count + 1,
                        retrievalRank: candidate.rank, text: plan.includeText ? candidate.text : nil))
            }
            trace.total = start.duration(to: .now)
            trace.attributes = [
                "retrieve_k": plan.retrieveK, "rerank_k": plan.rerankK, "top_n": plan.topN, "hits": results.count,
                "reranked": rerankCount, "rerank_cache_hits": cacheHits,
            ]
            return SearchResult(
                hits: results, plan: plan, trace: trace, reranked: rerankCount, rerankCacheHits: cacheHits)
        }
    }

    /// A query's pairs before scoring: cached scores where the cache has them, the rest tokenized.
    struct PreparedPairs {
        var keys: [RerankCache.Key]
        var cached: [RerankCache.Entry?]
        /// Indices of the passages without a cached score, and their tokenized pairs.
        var missing: [Int]
        var encodings: [Encoding]
        /// Tokens the model will run: those of the pairs without a cached score.
        var tokens: Int { encodings.reduce(0) { $0 + $1.count } }
        /// Tokens of every pair, cached or not: what `max_rerank_tokens` counts, so that a request
        /// is valid or not whatever the cache holds.
        var allTokens: Int { tokens + cached.reduce(0) { $0 + ($1?.tokens ?? 0) } }
    }

    struct CrossScores {
        /// Scores of the first `scores.count` passages (all of them, unless a budget cut the list).
        var scores: [Float]
        var cacheHits: Int
        /// The model batches that scored the pairs the cache did not have.
        var batches: [StageSpan]
        /// When the first batch for these pairs started; nil when no model work ran.
        var started: ContinuousClock.Instant? { batches.first?.start }
    }

    /// Looks the pairs up in the rerank cache and tokenizes the rest; refuses more cross-encoder
    /// tokens than `max_rerank_tokens` before any of them runs.
    func preparePairs(query: String, passages: [Passage], trace: inout Trace) throws -> PreparedPairs {
        guard let reranker else {
            throw CascadeError.failedPrecondition("this server has no reranker; start it with one to rerank")
        }
        let keys = passages.map {
            RerankCache.Key(model: reranker.encoder.fingerprint, query: query, passageID: $0.id, text: $0.text)
        }
        let cached = rerankCache.entries(for: keys)
        let missing = passages.indices.filter { cached[$0] == nil }
        let encodings = trace.measure(.tokenize, attributes: ["texts": missing.count]) {
            reranker.encode(query: query, passages: missing.map { passages[$0].text })
        }
        let pairs = PreparedPairs(keys: keys, cached: cached, missing: missing, encodings: encodings)
        if pairs.allTokens > limits.maxRerankTokens {
            throw CascadeError.invalidArgument(
                field: "passages",
                message: "reranking these passages takes \(pairs.allTokens) cross-encoder tokens; the limit is "
                    + "\(limits.maxRerankTokens) (max_rerank_tokens): send fewer or shorter passages, or a smaller "
                    + "rerank_k")
        }
        return pairs
    }

    /// Cross-encoder logits in input order, scored in the scheduler's batches where not cached.
    /// With a `budget`, only the longest prefix that the cost model says fits in it (waiting for
    /// work admitted earlier included; cached pairs cost nothing). `ofSearch`: the passages were
    /// retrieved, not the caller's (see `ModelScheduler.score`).
    func score(
        _ pairs: PreparedPairs, budget: Duration?, ofSearch: Bool, admission: Admission
    ) async throws -> CrossScores {
        var count = pairs.keys.count
        if let budget {
            let quote = scheduler.rerankQuote(for: admission)
            let tokens = Dictionary(uniqueKeysWithValues: zip(pairs.missing, pairs.encodings.map(\.count)))
            var spent = quote.wait
            count = 0
            for index in pairs.keys.indices {
                if let pairTokens = tokens[index] {
                    spent += Double(pairTokens) * quote.secondsPerToken
                    if spent > ModelScheduler.seconds(budget) { break }
                }
                count += 1
            }
        }
        let scoring = pairs.missing.enumerated().filter { $0.element < count }
        let scored = try await scheduler.score(
            scoring.map { pairs.encodings[$0.offset] }, ofSearch: ofSearch, for: admission)
        var scores = pairs.cached.prefix(count).map { $0?.score ?? 0 }
        for ((_, index), score) in zip(scoring, scored.scores) { scores[index] = score }
        rerankCache.insert(
            zip(scoring, scored.scores).map { pair, score in
                (key: pairs.keys[pair.element], entry: .init(score: score, tokens: pairs.encodings[pair.offset].count))
            })
        let hits = count - scoring.count
        scheduler.observer?.rerankCache(hits: hits, misses: scoring.count)
        return CrossScores(scores: scores, cacheHits: hits, batches: scored.batches)
    }

    /// Bi-encoder embeddings of `texts`, in input order, as bulk work (after interactive work).
    func encode(_ texts: [String], deadline: ContinuousClock.Instant?, trace: inout Trace) async throws -> [[Float]] {
        let encodings = trace.measure(.tokenize, attributes: ["texts": texts.count]) { retriever.encode(texts) }
        let tokens = encodings.reduce(0) { $0 + $1.count }
        if tokens > limits.maxEncodeTokens {
            throw CascadeError.invalidArgument(
                field: "texts",
                message: "the texts are \(tokens) tokens for the retriever; the limit is \(limits.maxEncodeTokens) "
                    + "(max_encode_tokens): send fewer or shorter texts per call")
        }
        let start = ContinuousClock.now
        let vectors = try await scheduler.withAdmission(WorkCost(bulkTokens: tokens), deadline: deadline, bulk: true) {
            admission in
            let embedded = try await scheduler.embed(encodings, for: admission)
            if let started = embedded.started {
                trace.queue = admission.admitted.duration(to: started)
                trace.mark(.queue, from: admission.admitted, to: started)
            }
            return embedded.vectors
        }
        let end = ContinuousClock.now
        trace.encode = start.duration(to: end) - trace.queue
        trace.mark(
            .encode, from: end - trace.encode, to: end, attributes: ["texts": texts.count, "tokens": tokens])
        return vectors
    }
}
