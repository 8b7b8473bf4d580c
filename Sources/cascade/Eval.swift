import ArgumentParser
import Cascade
import CascadeAPI
import CascadeConnection
import CascadeWire
import Evaluation
import Foundation
import GRPCCore
import VectorStore

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run judged queries through the cascade; report trec_eval's measures and write a TREC run.",
        discussion: """
            The measures equal trec_eval's (MRR@10 is recip_rank on the run cut to 10). The mean is \
            over queries that are both judged and run, as trec_eval without -c and pytrec_eval report it.
            """
    )

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var judgments: JudgmentOptions

    @Option(help: "Candidates retrieved, and the depth of the run (Recall@1000 needs 1000).")
    var retrieveK = 1000

    @Option(help: "Candidates reranked (needs --reranker).")
    var rerankK = 0

    @Option(help: "On an int8/fp16-coded store: candidates rescored exactly (default 4 x retrieve-k).")
    var rescoreK: Int?

    @Option(help: "On a partitioned store: partitions scanned (default the store's: see `cascade calibrate`).")
    var nprobe: Int?

    @Option(help: "Run the queries against this server (host:port) instead of in process.")
    var server: String?

    @OptionGroup var connection: ConnectionOptions

    @Option(
        help: "With --server: seconds before a call is abandoned (DEADLINE_EXCEEDED), so a stuck server ends the run.")
    var timeout: Double = 30

    @Option(help: "Write the TREC run file here.")
    var run: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard timeout > 0, timeout.isFinite else {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        try checkCutoffs(retrieveK: retrieveK, rerankK: rerankK)
        if let run { try checkOutputPath(run, flag: "--run") }
        if let server {
            _ = try ServerAddress(validating: server, flag: "--server")
            // The server's own index and models answer; these would be ignored without a word.
            if pipeline.store != nil || pipeline.model != nil || pipeline.reranker != nil {
                throw ValidationError(
                    "--store, --model and --reranker are the server's own with --server; leave them out")
            }
        } else if connection.isSet {
            throw ValidationError("--api-key, --tls and --ca-cert apply to --server only")
        }
    }

    func run() async throws {
        let (queries, evaluator) = try judgments.load()
        let clock = ContinuousClock()
        var lastReport = clock.now
        let tag = "cascade-r\(retrieveK)-k\(rerankK)"
        let progress = { (done: Int) in
            guard clock.now - lastReport >= .seconds(2) || done == queries.count else { return }
            lastReport = clock.now
            printError("eval: \(done)/\(queries.count) queries")
        }
        let pass: JudgedPass
        if let server {
            pass = try await remotePass(queries, server: server, tag: tag, progress: progress)
        } else {
            let pipeline = try self.pipeline.open(maxRetrieveK: retrieveK, command: "eval")
            defer { pipeline.shutdown() }
            let plan = SearchPlan(
                retrieveK: retrieveK, rerankK: rerankK, topN: retrieveK,
                scan: SearchOptions(rescoreK: rescoreK, nprobe: nprobe))
            pass = try await JudgedPass.run(queries, pipeline: pipeline, plan: plan, tag: tag, progress: progress)
        }
        if let run { try pass.run.write(to: URL(fileURLWithPath: run)) }
        let report = try evaluator.evaluate(pass.run)
        if json {
            struct Output: Encodable {
                var retrieveK: Int
                var rerankK: Int
                var queries: Int
                var evaluated: Int
                /// By trec_eval-equivalent measure name: "MRR@10", "nDCG@10", ...
                var mean: [String: Double]
                var latencyP50Ms: Double
                var latencyP99Ms: Double

                enum CodingKeys: String, CodingKey {
                    case retrieveK = "retrieve_k", rerankK = "rerank_k", queries, evaluated, mean
                    case latencyP50Ms = "latency_p50_ms", latencyP99Ms = "latency_p99_ms"
                }
            }
            let output = Output(
                retrieveK: retrieveK, rerankK: rerankK, queries: queries.count, evaluated: report.perQuery.count,
                mean: Dictionary(uniqueKeysWithValues: Measure.allCases.map { ($0.rawValue, report.mean[$0]) }),
                latencyP50Ms: pass.percentile(0.5), latencyP99Ms: pass.percentile(0.99))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
            return
        }
        print(
            "retrieve_k \(retrieveK), rerank_k \(rerankK): \(report.perQuery.count) of \(queries.count) queries judged")
        print(Measure.allCases.map { $0.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0) }.joined())
        print(Measure.allCases.map { String(format: "%-9.4f", report.mean[$0]) }.joined())
        print(String(format: "latency p50 %.2f ms, p99 %.2f ms", pass.percentile(0.5), pass.percentile(0.99)))
        if !report.unjudgedQueries.isEmpty {
            printError("eval: \(report.unjudgedQueries.count) queries have no judgments and are not counted")
        }
    }

    /// The queries through a running server; latency is what the client saw, call by call.
    private func remotePass(
        _ queries: [Query], server: String, tag: String, progress: (Int) -> Void
    ) async throws -> JudgedPass {
        let transport = try connection.transport(to: try ServerAddress(validating: server, flag: "--server"))
        let metadata = connection.metadata()
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(timeout * 1000))
        return try await withGRPCClient(transport: transport) { client in
            let cascade = Cascade_V1_Cascade.Client(wrapping: client)
            let clock = ContinuousClock()
            return try await JudgedPass.run(queries, tag: tag, progress: progress) { text in
                let request = Cascade_V1_SearchRequest.with {
                    $0.query = text
                    $0.retrieveK = UInt32(retrieveK)
                    $0.rerankK = UInt32(rerankK)
                    $0.topN = UInt32(retrieveK)
                    if let rescoreK { $0.rescoreK = UInt32(clamping: rescoreK) }
                    if let nprobe { $0.nprobe = UInt32(clamping: nprobe) }
                }
                let start = clock.now
                let response = try await cascade.search(request, metadata: metadata, options: options)
                return (response.hits.map(\.id), clock.now - start)
            }
        }
    }
}
