import ArgumentParser
import Cascade
import Evaluation
import Foundation
import Transformer
import VectorStore

/// Where the models and the index come from, for the commands that search in process.
struct PipelineOptions: ParsableArguments {
    @Option(help: "The store directory (built with `cascade index`).")
    var store: String?

    @Option(help: "The retriever the store was built with.")
    var model: String?

    @Option(help: "A cross-encoder folder (or a bare encoder folder with --reranker-head).")
    var reranker: String?

    @Option(help: "A safetensors classification head to put on --reranker when that is a bare encoder.")
    var rerankerHead: String?

    @Option(help: "The retriever's linear layers: fp32, fp16 or int8 (quantized while loading).")
    var retrieverPrecision: Precision = .fp32

    @Option(help: "The reranker's linear layers: fp32, fp16 or int8 (quantized while loading).")
    var rerankerPrecision: Precision = .fp32

    func validate() throws {
        if rerankerHead != nil && reranker == nil { throw ValidationError("--reranker-head needs --reranker") }
    }

    /// Opens the pipeline with limits wide enough for `maxRetrieveK`, the models at their precisions
    /// (`precision` overrides both); says on stderr what was loaded and how long it took.
    func open(maxRetrieveK: Int = 1000, precision: Precision? = nil, command: String) throws -> Pipeline {
        guard let store, let model else { throw ValidationError("give --store and --model") }
        var limits = Limits()
        limits.maxRetrieveK = max(limits.maxRetrieveK, maxRetrieveK)
        limits.maxTopN = max(limits.maxTopN, maxRetrieveK)
        // Evaluation times each cutoff: scores cached from another cutoff's pass would hide its cost.
        var scheduler = SchedulerSettings()
        scheduler.rerankCacheBytes = 0
        let pipeline = try Pipeline.open(
            index: URL(fileURLWithPath: store), retriever: URL(fileURLWithPath: model),
            reranker: reranker.map { URL(fileURLWithPath: $0) },
            rerankerHead: rerankerHead.map { URL(fileURLWithPath: $0) },
            configuration: PipelineConfiguration(limits: limits, scheduler: scheduler), createIndex: false,
            retrieverPrecision: precision ?? retrieverPrecision, rerankerPrecision: precision ?? rerankerPrecision)
        printError("\(command): \(pipeline.retriever.loadSummary)")
        if let reranker = pipeline.reranker { printError("\(command): \(reranker.loadSummary)") }
        return pipeline
    }
}

/// The cutoffs of a search, checked before any model loads, in the flags' own names (the store's
/// own check would say "k").
func checkCutoffs(retrieveK: Int, rerankK: Int) throws {
    guard (1...VectorStore.maxK).contains(retrieveK) else {
        throw ValidationError("--retrieve-k must be in 1...\(VectorStore.maxK), got \(retrieveK)")
    }
    guard rerankK >= 0 else { throw ValidationError("--rerank-k must be at least 0, got \(rerankK)") }
    guard rerankK <= retrieveK else {
        throw ValidationError("--rerank-k (\(rerankK)) must not exceed --retrieve-k (\(retrieveK))")
    }
}

/// Judged queries: the query file and its TREC qrels.
struct JudgmentOptions: ParsableArguments {
    @Option(help: "Queries, qid<TAB>text a line.")
    var queries: String

    @Option(help: "TREC qrels: qid 0 docid relevance.")
    var qrels: String

    @Option(help: "Use only the first N queries.")
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
    }

    func load() throws -> (queries: [Query], evaluator: Evaluator) {
        var queries = try QuerySet.read(from: URL(fileURLWithPath: self.queries)).queries
        if let limit { queries = Array(queries.prefix(max(0, limit))) }
        return (queries, Evaluator(qrels: try Qrels.read(from: URL(fileURLWithPath: qrels))))
    }
}

/// One pass of judged queries through the pipeline at one setting.
struct JudgedPass {
    var run: Run
    /// Each query's end-to-end time in the pipeline, in query order.
    var latencies: [Duration]
    var wallTime: Duration

    /// Runs every query (one at a time: latency, not throughput, is what a setting costs) and
    /// ranks each query's hits in the pipeline's order; trec_eval re-sorts by score, and merged
    /// results mix cross-encoder and bi-encoder scores, so the run's scores encode that order.
    static func run(
        _ queries: [Query], pipeline: Pipeline, plan: SearchPlan, tag: String, progress: (Int) -> Void = { _ in }
    ) async throws -> JudgedPass {
        try await run(queries, tag: tag, progress: progress) { text in
            let result = try await pipeline.search(SearchRequest(query: text, plan: plan, rules: pipeline.rules))
            return (result.hits.map(\.id), result.trace.total)
        }
    }

    /// The same with any search: `search` returns the ranked ids and the time the query took.
    static func run(
        _ queries: [Query], tag: String, progress: (Int) -> Void = { _ in },
        search: (String) async throws -> (ids: [String], latency: Duration)
    ) async throws -> JudgedPass {
        let clock = ContinuousClock()
        let started = clock.now
        var rankings: [Ranking] = []
        var latencies: [Duration] = []
        for (index, query) in queries.enumerated() {
            let (ids, latency) = try await search(query.text)
            latencies.append(latency)
            rankings.append(try Ranking(queryID: query.id, orderedDocumentIDs: ids.map { DocumentID($0) }))
            progress(index + 1)
        }
        return JudgedPass(
            run: try Run(tag: tag, rankings: rankings), latencies: latencies, wallTime: clock.now - started)
    }

    /// The latency at quantile `q` (nearest rank), in milliseconds.
    func percentile(_ q: Double) -> Double {
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return 0 }
        let rank = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank].milliseconds
    }

    var throughput: Double {
        wallTime > .zero ? Double(latencies.count) / (wallTime.milliseconds / 1000) : 0
    }
}
