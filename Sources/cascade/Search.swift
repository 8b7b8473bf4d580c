import ArgumentParser
import Cascade
import Foundation
import Transformer
import VectorStore

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a store in process and print the top hits with their scores and timings."
    )

    @OptionGroup var pipeline: PipelineOptions

    @Option(name: .short, help: "Hits to print (1...1000).")
    var k = 10

    @Option(help: "Candidates to retrieve (default: max(k, 100)).")
    var retrieveK: Int?

    @Option(help: "Candidates to rerank (default: k with --reranker, else 0).")
    var rerankK: Int?

    @Option(help: "On an int8/fp16-coded store: candidates rescored exactly (default 4 x retrieve-k).")
    var rescoreK: Int?

    @Option(help: "On a partitioned store: partitions scanned (default the store's: see `cascade calibrate`).")
    var nprobe: Int?

    @Option(
        help:
            "Both models' linear layers: fp32, fp16 or int8 (overrides --retriever-precision and --reranker-precision)."
    )
    var precision: Precision?

    @Flag(help: "One JSON object: the hits (id, score, text) and the stage timings.")
    var json = false

    @Argument(help: "The query.")
    var query: String

    func validate() throws {
        guard (1...VectorStore.maxK).contains(k) else { throw ValidationError("-k must be in 1...\(VectorStore.maxK)") }
        if rerankK ?? 0 > 0 && pipeline.reranker == nil { throw ValidationError("--rerank-k needs --reranker") }
        try checkCutoffs(retrieveK: cutoffs.retrieveK, rerankK: cutoffs.rerankK)
    }

    /// What the flags leave unset: retrieve max(k, 100), rerank k's worth with a reranker.
    private var cutoffs: (retrieveK: Int, rerankK: Int) {
        let retrieveK = self.retrieveK ?? max(k, 100)
        return (retrieveK, rerankK ?? (pipeline.reranker == nil ? 0 : min(k, retrieveK)))
    }

    func run() async throws {
        let (retrieveK, rerankK) = cutoffs
        let plan = SearchPlan(
            retrieveK: retrieveK, rerankK: rerankK, topN: k,
            includeText: true, scan: SearchOptions(rescoreK: rescoreK, nprobe: nprobe))
        let pipeline = try self.pipeline.open(maxRetrieveK: retrieveK, precision: precision, command: "search")
        defer { pipeline.shutdown() }
        let result = try await pipeline.search(SearchRequest(query: query, plan: plan, rules: pipeline.rules))
        if json {
            print(try searchJSON(query: query, result: result))
            return
        }
        for hit in result.hits {
            let text = hit.text ?? ""
            let snippet = text.count > 100 ? String(text.prefix(97)) + "..." : text
            let rerank = hit.rerankScore.map {
                String(format: " (rerank %.4f, retrieval %.4f)", $0, hit.retrievalScore)
            }
            print(String(format: "%3d  %8.4f  ", hit.rank, hit.score) + "\(hit.id)\(rerank ?? "")  \(snippet)")
        }
        print("timings: " + timingSummary(result.trace))
    }
}

/// The stages a search ran, in pipeline order: "tokenize 0.21 ms, encode 3.10 ms, ...".
func timingSummary(_ trace: Trace) -> String {
    Stage.allCases.filter { trace[$0] > .zero || $0 == .total }
        .map { "\($0.rawValue) \(formatMilliseconds(trace[$0]))" }.joined(separator: ", ")
}

private func searchJSON(query: String, result: SearchResult) throws -> String {
    struct Output: Encodable {
        struct Row: Encodable {
            var id: String
            var score: Float
            var retrievalScore: Float
            var rerankScore: Float?
            var rank: Int
            var text: String
        }
        var query: String
        var hits: [Row]
        var timingsUs: [String: UInt64]
    }
    let output = Output(
        query: query,
        hits: result.hits.map {
            Output.Row(
                id: $0.id, score: $0.score, retrievalScore: $0.retrievalScore, rerankScore: $0.rerankScore,
                rank: $0.rank, text: $0.text ?? "")
        },
        timingsUs: Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0.rawValue, result.trace.microseconds($0)) })
    )
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(output), as: UTF8.self)
}
