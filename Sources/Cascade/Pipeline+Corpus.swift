import Foundation
import VectorStore

extension Pipeline {
    /// Retriever embeddings of `texts` (the vectors the store holds), in input order.
    public func embed(_ request: EmbedRequest, deadline: ContinuousClock.Instant? = nil) async throws -> Embeddings {
        let start = ContinuousClock.now
        var trace = Trace()
        let vectors = try await encode(request.texts, deadline: deadline, trace: &trace)
        trace.total = start.duration(to: .now)
        return Embeddings(vectors: vectors, dimension: retriever.encoder.dimension, trace: trace)
    }

    /// Cross-encoder scores of the caller's passages against `query`, best first; `topN` 0: all.
    public func rerank(_ request: RerankRequest, deadline: ContinuousClock.Instant? = nil) async throws -> RerankResult
    {
        let start = ContinuousClock.now
        let (query, passages, topN) = (request.query, request.passages, request.topN)
        var trace = Trace()
        let pairs = try preparePairs(query: query, passages: passages, trace: &trace)
        let scored = try await scheduler.withAdmission(WorkCost(rerankTokens: pairs.tokens), deadline: deadline) {
            admission in
            let rerankStart = ContinuousClock.now
            let scored = try await score(pairs, budget: nil, ofSearch: false, admission: admission)
            if let started = scored.started {
                trace.queue = admission.admitted.duration(to: started)
                trace.mark(.queue, from: admission.admitted, to: started)
            }
            let end = ContinuousClock.now
            trace.rerank = rerankStart.duration(to: end) - trace.queue
            trace.mark(
                .rerank, from: end - trace.rerank, to: end,
                attributes: ["pairs": passages.count, "cache_hits": scored.cacheHits, "tokens": pairs.tokens])
            return scored
        }
        let scores = scored.scores
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        let kept = topN == 0 ? order : Array(order.prefix(topN))
        let hits = kept.enumerated().map { rank, index in
            RerankHit(id: passages[index].id, score: scores[index], index: index, rank: rank + 1)
        }
        trace.total = start.duration(to: .now)
        return RerankResult(hits: hits, trace: trace, cacheHits: scored.cacheHits)
    }

    /// Encodes the passages and writes them in one transaction: all or nothing. Existing ids get
    /// their text and vector replaced.
    public func upsert(_ request: UpsertRequest, deadline: ContinuousClock.Instant? = nil) async throws -> WriteResult {
        let start = ContinuousClock.now
        try checkWritable("Upsert")
        let passages = request.passages
        var trace = Trace()
        let vectors = try await encode(passages.map(\.text), deadline: deadline, trace: &trace)
        let store = self.store
        let items = Array(zip(passages, vectors))
        let precision = retriever.encoder.precision.rawValue
        let done = try await writes.run {
            try store.upsert(items.map { (passage: $0.0, vector: $0.1) }, encoderPrecision: precision)
            return store.count
        }
        trace.write += done.ran
        let end = ContinuousClock.now
        trace.mark(.write, from: end - done.ran, to: end, attributes: ["passages": passages.count])
        trace.total = start.duration(to: end)
        return WriteResult(count: passages.count, corpusSize: done.value, trace: trace)
    }

    /// Deletes passages in one transaction; an unknown id (`CascadeError.unknownIds`) deletes nothing.
    public func delete(_ request: DeleteRequest) async throws -> WriteResult {
        let start = ContinuousClock.now
        try checkWritable("Delete")
        let ids = request.ids
        var trace = Trace()
        let store = self.store
        let done: WriteQueue.Completed<Int>
        do {
            done = try await writes.run {
                try store.delete(ids: ids)
                return store.count
            }
        } catch let error as StoreError {
            if case .unknownIds(let unknown) = error { throw CascadeError.unknownIds(unknown) }
            throw error
        }
        trace.queue += done.waited
        trace.write += done.ran
        let end = ContinuousClock.now
        trace.mark(.queue, from: end - done.ran - done.waited, to: end - done.ran)
        trace.mark(.write, from: end - done.ran, to: end, attributes: ["ids": ids.count])
        trace.total = start.duration(to: end)
        return WriteResult(count: ids.count, corpusSize: done.value, trace: trace)
    }

    public func info() -> PipelineInfo {
        PipelineInfo(
            retriever: retriever.info, reranker: reranker?.info, corpusSize: store.count,
            similarity: store.model.similarity, readOnly: store.readOnly, defaults: defaults, limits: limits,
            scheduler: configuration.scheduler)
    }

    /// Refused before any encoding, so a read-only replica spends nothing on a write.
    private func checkWritable(_ operation: String) throws {
        if store.readOnly {
            throw CascadeError.failedPrecondition(
                "\(operation) refused: this server opened its index read-only (--read-only); "
                    + "send writes to the server that owns the index")
        }
    }
}
