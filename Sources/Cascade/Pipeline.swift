import Foundation
import Tokenization
import Transformer
import VectorStore

/// How a pipeline batches and bounds its work.
public struct PipelineConfiguration: Sendable, Equatable {
    public var defaults: SearchDefaults
    public var limits: Limits
    /// Texts per bi-encoder run (Embed, Upsert).
    public var encodeBatchSize: Int
    /// Pairs per cross-encoder run. Smaller batches let other requests in between and let a
    /// cancelled search stop sooner; larger ones pad less per call.
    public var rerankBatchSize: Int

    public init(
        defaults: SearchDefaults = SearchDefaults(), limits: Limits = Limits(), encodeBatchSize: Int = 32,
        rerankBatchSize: Int = 16
    ) {
        self.defaults = defaults
        self.limits = limits
        self.encodeBatchSize = encodeBatchSize
        self.rerankBatchSize = rerankBatchSize
    }
}

/// Retrieve-then-rerank search over one vector store.
///
/// search: tokenize → encode → retrieve `retrieveK` → fetch texts → rerank the best `rerankK` →
/// merge (reranked hits first, by rerank score; then the rest, by retrieval score) → `topN`.
///
/// Model runs (and the store's BLAS scan) go through one `ModelQueue`: one at a time, off the
/// cooperative pool, overload refused. Store writes go through a second one-at-a-time queue, so
/// an upsert's fsync never holds up searches and LMDB's single writer is never contended.
public final class Pipeline: Sendable {
    public let store: VectorStore
    public let retriever: Retriever
    public let reranker: Reranker?
    public let configuration: PipelineConfiguration
    let models: ModelQueue
    let writes: ModelQueue

    /// Checks that the store's vectors were made by this retriever and that the configuration is
    /// usable (`CascadeError.configuration` otherwise).
    public init(
        store: VectorStore, retriever: Retriever, reranker: Reranker? = nil,
        configuration: PipelineConfiguration = PipelineConfiguration()
    ) throws {
        let model = store.model
        guard model.fingerprint == retriever.encoder.fingerprint, model.dimension == retriever.encoder.dimension
        else {
            throw CascadeError.configuration(
                "the index was built with model \(model.fingerprint) (\(model.dimension) dimensions) but the "
                    + "retriever \(retriever.name) is \(retriever.encoder.fingerprint) "
                    + "(\(retriever.encoder.dimension) dimensions); rebuild the index or load the model it was built with"
            )
        }
        var configuration = configuration
        // Without a reranker the default can only be retrieval alone; a configured rerank_k
        // default then simply does not apply (a request that asks for reranking is still refused).
        if reranker == nil { configuration.defaults.rerankK = 0 }
        try configuration.limits.validate()
        try configuration.defaults.validate(against: configuration.limits, hasReranker: reranker != nil)
        guard configuration.encodeBatchSize >= 1, configuration.rerankBatchSize >= 1 else {
            throw CascadeError.configuration("batch sizes must be at least 1")
        }
        self.store = store
        self.retriever = retriever
        self.reranker = reranker
        self.configuration = configuration
        self.models = ModelQueue(capacity: configuration.limits.queueCapacity, name: "cascade.models")
        // Writers wait behind the same bound as model runs: a flood of upserts is refused too.
        self.writes = ModelQueue(capacity: configuration.limits.queueCapacity, name: "cascade.writes")
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

    /// Stops taking model work; waiting runs fail with `CascadeError.shutDown`.
    public func shutdown() {
        models.shutdown()
        writes.shutdown()
    }

    /// Model runs waiting for the model thread.
    public var queueDepth: Int { models.waiting }

    public var limits: Limits { configuration.limits }
    public var defaults: SearchDefaults { configuration.defaults }

    public func search(_ query: String, plan: SearchPlan) async throws -> SearchResult {
        let start = ContinuousClock.now
        var trace = Trace()
        try validateQuery(query)
        try plan.validate(against: limits, hasReranker: reranker != nil)

        let tokenizer = retriever.tokenizer
        let encoding = trace.measure(.tokenize) { tokenizer.encode(query, maxLength: retriever.maxLength) }
        let batch = tokenizer.batch([encoding])
        let (encoder, store) = (retriever.encoder, self.store)
        let retrieved = try await models.run {
            var inner = Trace()
            let vectors = try inner.measure(.encode) { try encoder.embed(batch) }
            guard let vector = vectors.first else {
                throw CascadeError.configuration("the retriever returned no embedding for the query")
            }
            let hits = try inner.measure(.retrieve) { try store.search(vector, k: plan.retrieveK) }
            return (hits: hits, trace: inner)
        }
        trace.queue += retrieved.waited
        trace.add(retrieved.value.trace)
        let hits = retrieved.value.hits

        // The final top_n lies within the first max(rerank_k, top_n) retrieved (reranking only
        // reorders the first rerank_k), so one read fetches every text the request needs.
        let needed = min(hits.count, max(plan.rerankK, plan.includeText ? plan.topN : 0))
        let fetched = try trace.measure(.fetch) { try store.passages(ids: hits.prefix(needed).map(\.id)) }

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

        let rerankCount = min(plan.rerankK, candidates.prefix(needed).count(where: { $0.text != nil }))
        var scores: [Float] = []
        if rerankCount > 0 {
            let texts = candidates.prefix(rerankCount).map { $0.text ?? "" }
            scores = try await crossScore(query: query, texts: texts, trace: &trace)
        }

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
        return SearchResult(hits: results, plan: plan, trace: trace)
    }

    /// Cross-encoder logits for (query, text) pairs, in input order. Pairs are sorted by length
    /// and scored in batches, each batch one model run, so padding stays small and other requests
    /// get the model thread between batches.
    func crossScore(query: String, texts: [String], trace: inout Trace) async throws -> [Float] {
        guard let reranker else {
            throw CascadeError.failedPrecondition("this server has no reranker")
        }
        let encodings = trace.measure(.tokenize) { reranker.encode(query: query, passages: texts) }
        let order = encodings.indices.sorted { encodings[$0].count < encodings[$1].count }
        var scores = [Float](repeating: 0, count: texts.count)
        let size = configuration.rerankBatchSize
        for start in stride(from: 0, to: order.count, by: size) {
            try Task.checkCancellation()
            let rows = Array(order[start..<min(start + size, order.count)])
            let batch = reranker.tokenizer.batch(rows.map { encodings[$0] })
            let done = try await models.run { try reranker.encoder.score(batch) }
            trace.queue += done.waited
            trace.rerank += done.ran
            for (row, score) in zip(rows, done.value) { scores[row] = score }
        }
        return scores
    }

    /// Bi-encoder embeddings of `texts`, in input order, batched by length like `crossScore`.
    func encode(_ texts: [String], trace: inout Trace) async throws -> [[Float]] {
        let tokenizer = retriever.tokenizer
        let encoder = retriever.encoder
        let encodings = trace.measure(.tokenize) { retriever.encode(texts) }
        let order = encodings.indices.sorted { encodings[$0].count < encodings[$1].count }
        var vectors = [[Float]](repeating: [], count: texts.count)
        let size = configuration.encodeBatchSize
        for start in stride(from: 0, to: order.count, by: size) {
            try Task.checkCancellation()
            let rows = Array(order[start..<min(start + size, order.count)])
            let batch = tokenizer.batch(rows.map { encodings[$0] })
            let done = try await models.run { try encoder.embed(batch) }
            trace.queue += done.waited
            trace.encode += done.ran
            for (row, vector) in zip(rows, done.value) { vectors[row] = vector }
        }
        return vectors
    }

    func validateQuery(_ query: String, field: String = "query") throws {
        try checkText(query, field: field, maxBytes: limits.maxQueryBytes, limitName: "max_query_bytes")
    }

    /// Refuses an empty (all-whitespace) or oversized text, naming the field and the limit.
    func checkText(_ text: String, field: String, maxBytes: Int, limitName: String) throws {
        if text.allSatisfy(\.isWhitespace) {
            throw CascadeError.invalidArgument(field: field, message: "\(field) must not be empty")
        }
        let bytes = text.utf8.count
        if bytes > maxBytes {
            throw CascadeError.invalidArgument(
                field: field, message: "\(field) is \(bytes) bytes; the limit is \(maxBytes) (\(limitName))")
        }
    }
}
