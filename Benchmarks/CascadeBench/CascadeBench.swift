import ArgumentParser
import CascadeAPI
import CascadeConnection
import CascadeWire
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import LoadTesting

@main
struct CascadeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cascade-bench",
        abstract: "Load generator for a Cascade gRPC server: latency percentiles per stage and throughput.",
        discussion: """
            Closed loop (--concurrency N, the default with N=1): N callers each send their next query as \
            soon as the last one answered; it measures capacity. Open loop (--rate R): requests go out on \
            a fixed schedule (Poisson arrivals by default, or --arrivals uniform) whatever the server does, \
            and latency counts from each request's intended send time, so a server that falls behind \
            shows its queueing instead of hiding it (coordinated omission corrected). At most \
            --max-outstanding requests are unanswered at once; the sender waits beyond that and the wait \
            counts in the latency. A run stops after --requests and/or --duration (200 requests if neither).

            With --deadline-ms each call carries that deadline and the report adds goodput: calls that \
            succeeded within it, per second. A closed-loop caller refused with RESOURCE_EXHAUSTED waits \
            the server's grpc-retry-pushback-ms (at most 60 s) before its next call, as a gRPC client with \
            retry throttling does (--no-pushback: retry at once). --mix runs several classes at once, \
            e.g. "100:50@2,100:0@2" (2 callers each) or "100:0@50/s" (an open-loop rate), reported apart.
            """
    )

    @Option(help: "Server address, host:port (IPv6 as [::1]:50051).")
    var target: String

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Query file: one query per line, 'qid<TAB>text' or the bare text.")
    var queries: String

    @Option(help: "HTTP/2 connections the calls are spread over, round-robin (one carries every call on one core).")
    var connections = 1

    @Option(help: "Closed loop: callers sending back to back (default 1).")
    var concurrency: Int?

    @Option(help: "Open loop: requests per second on a fixed schedule.")
    var rate: Double?

    @Option(help: "Open-loop spacing: poisson or uniform.")
    var arrivals = "poisson"

    @Option(help: "Open loop: most requests unanswered at once.")
    var maxOutstanding = 1024

    @Option(help: "Requests to record (default 200 when --duration is not given).")
    var requests: Int?

    @Option(help: "Seconds to run; with --requests, whichever ends first.")
    var duration: Double?

    @Option(help: "Requests sent first, at the same load, and not recorded.")
    var warmup = 0

    @Option(help: "Candidates the bi-encoder retrieves (default: the server's).")
    var retrieveK: UInt32?

    @Option(help: "Candidates the cross-encoder re-scores; 0 is retrieval only (default: the server's).")
    var rerankK: UInt32?

    @Option(help: "Hits returned (default: the server's).")
    var topN: UInt32?

    @Flag(help: "Ask for passage texts in the hits.")
    var includeText = false

    @Option(help: "Run the same load at each retrieve_k:rerank_k pair, e.g. \"100:0,100:10,200:20\".")
    var sweep: String?

    @Option(help: "Run classes at once, each retrieve_k:rerank_k@callers or @rate/s, e.g. \"100:50@2,100:0@2\".")
    var mix: String?

    @Option(help: "Each call's deadline in milliseconds; the report adds goodput (calls ok within it per second).")
    var deadlineMs: Double?

    @Option(help: "Seconds before a call is abandoned when it has no --deadline-ms.")
    var timeout: Double = 30

    @Flag(help: "Closed loop: retry at once after RESOURCE_EXHAUSTED instead of waiting the server's pushback.")
    var noPushback = false

    @Option(
        help: "A W3C traceparent (00-TRACE_ID-SPAN_ID-FLAGS) sent with every call: the server's spans join that trace.")
    var traceparent: String?

    @Option(help: "Seed of the Poisson schedule.")
    var seed: UInt64 = 0x5EED

    @Flag(help: "Print the results as one JSON object.")
    var json = false

    @Option(
        help: """
            Write every recorded request to this file, one JSON line each (ms from its run's start, outcome): \
            when in a run the slow ones came.
            """)
    var samples: String?

    func validate() throws {
        do {
            _ = try makePlan()
        } catch {
            throw ValidationError(error.message)
        }
        _ = try ServerAddress(validating: target, flag: "--target")
        try ConnectionOptions.validate(traceparent: traceparent)
        guard timeout.isFinite, timeout > 0 else {
            throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)")
        }
        guard (1...256).contains(connections) else {
            throw ValidationError("--connections must be in 1...256, got \(connections)")
        }
        if let deadlineMs, !(deadlineMs.isFinite && deadlineMs > 0) {
            throw ValidationError("--deadline-ms must be a positive number of milliseconds, got \(deadlineMs)")
        }
    }

    func makePlan() throws(BenchError) -> BenchPlan {
        var options = BenchOptions()
        options.concurrency = concurrency
        options.rate = rate
        options.arrivals = arrivals
        options.maxOutstanding = maxOutstanding
        options.requests = requests
        options.durationSeconds = duration
        options.warmup = warmup
        options.retrieveK = retrieveK
        options.rerankK = rerankK
        options.topN = topN
        options.sweep = sweep
        options.mix = mix
        options.seed = seed
        return try BenchPlan(options)
    }

    func run() async throws {
        let plan = try makePlan()
        let endpoint = try ServerAddress(validating: target, flag: "--target")
        let queryList = try QueryFile.load(path: queries)
        let deadlineNanos = deadlineMs.map { UInt64($0 * 1e6) }
        let sampleFile = try samples.map { try SampleFile(path: $0) }
        let makeTransport = { try connection.transport(to: endpoint) }
        let reports = try await withClients(count: connections, transport: makeTransport) { client in
            await describeServer(client, endpoint: endpoint, queryCount: queryList.count)
            if !plan.mix.isEmpty {
                return try await runMix(
                    plan, client: client, queries: queryList, deadlineNanos: deadlineNanos, sampleFile: sampleFile)
            }
            var reports: [RunReport] = []
            for settings in plan.settings {
                let send = makeSender(client, settings: settings, shape: plan.shape)
                if let warmupBounds = plan.warmupBounds {
                    _ = await runLoad(shape: plan.shape, bounds: warmupBounds, queries: queryList, send: send)
                }
                let recorder = await runLoad(
                    shape: plan.shape, bounds: plan.bounds, queries: queryList, deadlineNanos: deadlineNanos,
                    keepSamples: sampleFile != nil, send: send)
                let label = MixClass(settings: settings, shape: plan.shape).label
                try sampleFile?.write(recorder.samples ?? [], run: label)
                let report = RunReport(shape: plan.shape, settings: settings, recorder: recorder)
                if !json {
                    print(report.formatted() + "\n")
                }
                reports.append(report)
            }
            return reports
        }
        if json {
            if !plan.mix.isEmpty {
                print(try jsonText(MixReport(runs: reports)))
            } else {
                print(plan.isSweep ? try jsonText(SweepReport(runs: reports)) : try jsonText(reports[0]))
            }
        } else if plan.isSweep {
            print("sweep:\n" + SweepReport(runs: reports).formatted())
        }
        // A run in which nothing succeeded measured nothing: say so to scripts too.
        if reports.allSatisfy({ $0.completed == 0 }) {
            let errors = reports.flatMap(\.errors).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            throw BenchError("no request succeeded (\(errors))")
        }
    }

    /// Every class of a mixed load at once (after a shared warm-up), one report each.
    private func runMix(
        _ plan: BenchPlan, client: Clients, queries: [BenchQuery],
        deadlineNanos: UInt64?, sampleFile: SampleFile?
    ) async throws -> [RunReport] {
        let runs = await withTaskGroup(of: (Int, RunReport, [Sample]).self) { group in
            for (index, mixClass) in plan.mix.enumerated() {
                let send = makeSender(client, settings: mixClass.settings, shape: mixClass.shape)
                group.addTask {
                    if let warmupBounds = plan.warmupBounds {
                        _ = await runLoad(shape: mixClass.shape, bounds: warmupBounds, queries: queries, send: send)
                    }
                    let recorder = await runLoad(
                        shape: mixClass.shape, bounds: plan.bounds, queries: queries, deadlineNanos: deadlineNanos,
                        keepSamples: sampleFile != nil, send: send)
                    let report = RunReport(shape: mixClass.shape, settings: mixClass.settings, recorder: recorder)
                    return (index, report, recorder.samples ?? [])
                }
            }
            return await group.reduce(into: [(Int, RunReport, [Sample])]()) { $0.append($1) }.sorted { $0.0 < $1.0 }
        }
        for (index, _, samples) in runs {
            try sampleFile?.write(samples, run: plan.mix[index].label)
        }
        let reports = runs.map(\.1)
        if !json {
            for (mixClass, report) in zip(plan.mix, reports) {
                print("class \(mixClass.label):\n" + report.formatted() + "\n")
            }
        }
        return reports
    }

    private func makeSender(
        _ client: Clients, settings: SearchSettings, shape: LoadShape
    ) -> SendQuery {
        let metadata = connection.metadata(traceparent: traceparent)
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(deadlineMs ?? timeout * 1000))
        let includeText = includeText
        // Only a closed-loop caller backs off: an open loop's arrivals do not depend on answers.
        let backOff: Bool
        if case .closed = shape { backOff = !noPushback } else { backOff = false }
        return { [metadata, options] query in
            var request = Cascade_V1_SearchRequest()
            request.query = query.text
            request.retrieveK = settings.retrieveK ?? 0
            if let rerankK = settings.rerankK { request.rerankK = rerankK }
            request.topN = settings.topN ?? 0
            request.includeText = includeText
            do {
                let response = try await client.next().search(
                    request: ClientRequest(message: request, metadata: metadata), options: options)
                let timing = response.timing
                return .success(StageTimings { timing[$0] })
            } catch let error as RPCError {
                var backOffNanos: UInt64 = 0
                if backOff, error.code == .resourceExhausted,
                    let pushback = error.metadata[stringValues: "grpc-retry-pushback-ms"].first(where: { _ in true }),
                    let milliseconds = UInt64(pushback)
                {
                    backOffNanos = min(milliseconds, 60_000) * 1_000_000
                }
                return .failure(
                    code: StatusCodes.name(error.code.rawValue), message: error.message, backOffNanos: backOffNanos)
            } catch {
                return .failure(code: "CLIENT_ERROR", message: "\(error)")
            }
        }
    }

    /// One line on stderr saying what is being measured; a server that cannot answer Info is
    /// reported but not fatal, so the run's error counts show what happened. Every connection
    /// asks, so that no timed call pays for connecting.
    private func describeServer(_ clients: Clients, endpoint: ServerAddress, queryCount: Int) async {
        var options = CallOptions.defaults
        options.timeout = .milliseconds(Int64(timeout * 1000))
        let request = ClientRequest(message: Cascade_V1_InfoRequest(), metadata: connection.metadata())
        do {
            let info = try await clients.all[0].info(request: request, options: options)
            for client in clients.all.dropFirst() { _ = try await client.info(request: request, options: options) }
            let reranker = info.hasReranker ? info.reranker.name : "none"
            printError(
                "cascade-bench: \(endpoint) runs Cascade \(info.version): retriever \(info.retriever.name), "
                    + "reranker \(reranker), \(info.corpus.size) passages; "
                    + "defaults retrieve_k \(info.defaults.retrieveK) rerank_k \(info.defaults.rerankK) "
                    + "top_n \(info.defaults.topN); \(queryCount) queries")
        } catch let error as RPCError {
            printError("cascade-bench: warning: Info on \(endpoint) failed: \(error)")
        } catch {
            printError("cascade-bench: warning: Info on \(endpoint) failed: \(error)")
        }
    }
}

/// `--samples`: created (truncated) before the run, so a bad path fails before any load is sent.
private struct SampleFile {
    let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ValidationError("--samples: cannot create \(path)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw ValidationError("--samples: cannot open \(path) for writing")
        }
        self.handle = handle
    }

    func write(_ samples: [Sample], run: String) throws {
        let text = samples.map { $0.jsonLine(run: run) + "\n" }.joined()
        try handle.write(contentsOf: Data(text.utf8))
    }
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
