import ArgumentParser
import Cascade
import CascadeAPI
import CascadeConnection
import CascadeWire
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Server
import SwiftProtobuf

struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search a running `cascade serve` over gRPC and print the hits and per-stage timings.",
        discussion: """
            Cutoffs left unset take the server's defaults. On a failed call prints the gRPC status \
            code and message on stderr and exits 1; exits 2 when the server cannot be reached.
            """
    )

    @Option(help: "The server, host:port (IPv6 as [addr]:port).")
    var server: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Candidates to retrieve (server default when unset).")
    var retrieveK: UInt32?

    @Option(help: "Candidates to rerank; 0: retrieval only (server default when unset).")
    var rerankK: UInt32?

    @Option(help: "Hits to return (server default when unset).")
    var topN: UInt32?

    @Option(help: "Rerank only as many candidates as the server estimates fit in this many milliseconds.")
    var rerankBudgetMs: UInt32?

    @Option(help: "On an int8/fp16-coded store: candidates rescored exactly (server default when unset).")
    var rescoreK: UInt32?

    @Option(help: "On a partitioned store: partitions scanned (server default when unset).")
    var nprobe: UInt32?

    @Option(help: "Seconds before the call is abandoned (DEADLINE_EXCEEDED).")
    var timeout: Double = 30

    @Option(help: "A W3C traceparent (00-TRACE_ID-SPAN_ID-FLAGS) for the server to continue this trace from.")
    var traceparent: String?

    @Flag(help: "One JSON object instead of the table.")
    var json = false

    @Flag(help: "Print the server's models, corpus, defaults and limits instead of searching.")
    var info = false

    @Argument(help: "The query.")
    var query: String?

    func validate() throws {
        if info && query != nil { throw ValidationError("give a query or --info, not both") }
        if !info && query == nil { throw ValidationError("give a query (or --info)") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        // On the wire 0 means "the server's default"; here that is leaving the flag out.
        for (flag, value) in [("--retrieve-k", retrieveK), ("--top-n", topN)] where value == 0 {
            throw ValidationError("\(flag) must be at least 1 (leave it out for the server's default)")
        }
        try ConnectionOptions.validate(traceparent: traceparent)
        _ = try address()
    }

    func run() async throws {
        let transport = try connection.transport(
            to: try address(), config: .defaults { $0.connection.maxIdleTime = nil })
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(timeout * 1000))
        options.waitForReady = false
        let metadata = connection.metadata(traceparent: traceparent)
        do {
            try await withGRPCClient(transport: transport) { client in
                let cascade = Cascade_V1_Cascade.Client(wrapping: client)
                if info {
                    let response = try await cascade.info(.init(), metadata: metadata, options: options)
                    print(json ? try infoJSON(response) : infoText(response))
                } else {
                    let request = Cascade_V1_SearchRequest.with {
                        $0.query = query ?? ""
                        if let retrieveK { $0.retrieveK = retrieveK }
                        if let rerankK { $0.rerankK = rerankK }
                        if let topN { $0.topN = topN }
                        if let rerankBudgetMs { $0.rerankBudgetMs = rerankBudgetMs }
                        if let rescoreK { $0.rescoreK = rescoreK }
                        if let nprobe { $0.nprobe = nprobe }
                        $0.includeText = true
                    }
                    let response = try await cascade.search(request, metadata: metadata, options: options)
                    print(json ? try searchJSON(response) : searchText(response))
                }
            }
        } catch let error as RPCError {
            if error.code == .unavailable {
                // The cause says why (a refused connection, an untrusted certificate).
                let cause = error.cause.map { " (\($0))" } ?? ""
                printError("error: cannot reach \(server): UNAVAILABLE: \(error.message)\(cause)")
                throw ExitCode(2)
            }
            printError("error: \(statusName(error.code)): \(error.message)")
            throw ExitCode(1)
        }
    }

    private func address() throws -> ServerAddress { try ServerAddress(validating: server, flag: "--server") }

    private func searchText(_ response: Cascade_V1_SearchResponse) -> String {
        var lines = [
            "retrieve_k \(response.retrieveK), rerank_k \(response.rerankK), top_n \(response.topN): "
                + "\(response.hits.count) hits, \(response.reranked) reranked"
                + (response.rerankCacheHits > 0 ? " (\(response.rerankCacheHits) from the cache)" : "")
        ]
        for hit in response.hits {
            let text = hit.text.replacingOccurrences(of: "\n", with: " ")
            let snippet = text.count > 80 ? String(text.prefix(77)) + "..." : text
            let rerank = hit.hasRerankScore ? String(format: "%8.4f", hit.rerankScore) : "       -"
            let scores = String(
                format: "%3d  %8.4f  retrieval %7.4f #%-4d rerank ", hit.rank, hit.score, hit.retrievalScore,
                hit.retrievalRank)
            lines.append(scores + rerank + "  \(hit.id)  \(snippet)")
        }
        lines.append("timings: " + timingText(response.timing))
        return lines.joined(separator: "\n")
    }

    private func searchJSON(_ response: Cascade_V1_SearchResponse) throws -> String {
        struct Output: Encodable {
            struct Row: Encodable {
                var rank: UInt32
                var id: String
                var score: Float
                var retrievalScore: Float
                var retrievalRank: UInt32
                var rerankScore: Float?
                var text: String
            }
            var query: String
            var retrieveK, rerankK, topN, reranked, rerankCacheHits: UInt32
            var hits: [Row]
            var timingsUs: [String: UInt64]
        }
        let output = Output(
            query: query ?? "", retrieveK: response.retrieveK, rerankK: response.rerankK, topN: response.topN,
            reranked: response.reranked, rerankCacheHits: response.rerankCacheHits,
            hits: response.hits.map {
                Output.Row(
                    rank: $0.rank, id: $0.id, score: $0.score, retrievalScore: $0.retrievalScore,
                    retrievalRank: $0.retrievalRank, rerankScore: $0.hasRerankScore ? $0.rerankScore : nil,
                    text: $0.text)
            },
            timingsUs: Dictionary(uniqueKeysWithValues: timingStages(response.timing)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }

    private func infoText(_ info: Cascade_V1_InfoResponse) -> String {
        func model(_ model: Cascade_V1_ModelInfo) -> String {
            var parts = ["\(model.name) (\(model.architecture), \(model.precision), max \(model.maxLength) tokens"]
            if model.dimension > 0 {
                parts.append(
                    "\(model.dimension) dims, \(model.pooling) pooling\(model.normalize ? ", normalised" : "")")
            }
            return parts.joined(separator: ", ") + ", \(model.fingerprint))"
        }
        let limits = info.limits
        return """
            server:    cascade \(info.version)
            retriever: \(model(info.retriever))
            reranker:  \(info.hasReranker ? model(info.reranker) : "none (retrieval only)")
            corpus:    \(info.corpus.size) passages, \(info.corpus.similarity) similarity\
            \(info.corpus.readOnly ? ", read-only" : "")
            defaults:  retrieve_k \(info.defaults.retrieveK), rerank_k \(info.defaults.rerankK), \
            top_n \(info.defaults.topN)
            limits:    max_retrieve_k \(limits.maxRetrieveK), max_rerank_k \(limits.maxRerankK), \
            max_top_n \(limits.maxTopN), max_query_bytes \(limits.maxQueryBytes), \
            queue_capacity \(limits.queueCapacity), max_rerank_tokens \(limits.maxRerankTokens), \
            max_encode_tokens \(limits.maxEncodeTokens)
            scheduler: max_queue_ms \(info.scheduler.maxQueueMs), max_batch_tokens \(info.scheduler.maxBatchTokens), \
            rerank_batch_tokens \(info.scheduler.rerankBatchTokens), aging_ms \(info.scheduler.agingMs), \
            rerank_cache_bytes \(info.scheduler.rerankCacheBytes), model_nice \(info.scheduler.modelNice)
            """
    }

    private func infoJSON(_ info: Cascade_V1_InfoResponse) throws -> String {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        return try info.jsonString(options: options)
    }
}

/// The stages a call ran, in pipeline order, with `total` always included.
private func timingStages(_ timing: Cascade_V1_Timing) -> [(String, UInt64)] {
    Stage.allCases.filter { timing[$0] > 0 || $0 == .total }.map { ($0.rawValue, timing[$0]) }
}

/// "queue 0.01 ms, tokenize 0.05 ms, ..., total 12.30 ms".
private func timingText(_ timing: Cascade_V1_Timing) -> String {
    timingStages(timing).map { "\($0.0) \(String(format: "%.2f", Double($0.1) / 1000)) ms" }
        .joined(separator: ", ")
}

/// The canonical name of a gRPC status code, as other gRPC tools print it.
func statusName(_ code: RPCError.Code) -> String { StatusCodes.name(code.rawValue) }
