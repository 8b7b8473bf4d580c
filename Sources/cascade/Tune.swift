import ArgumentParser
import Cascade
import Evaluation
import Foundation
import VectorStore

struct TuneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract:
            "Sweep retrieve_k x rerank_k on judged queries: quality against latency, the Pareto frontier, a pick.",
        discussion: """
            Every setting runs every query one at a time in process. The table marks the frontier \
            (*); the recommendations are the best setting, the fastest within --quality-loss of it, \
            and the best within --latency-budget-ms. --json and --svg write the same as JSON and a plot.
            """
    )

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var judgments: JudgmentOptions

    @Option(help: "retrieve_k values, comma separated.")
    var retrieveK = "10,20,50,100,200"

    @Option(help: "rerank_k values, comma separated (0: retrieval only; values above retrieve_k are skipped).")
    var rerankK = "0"

    @Option(help: "Quality measure: MRR@10, nDCG@10, R@10, R@100, R@1000, MAP.")
    var measure = "nDCG@10"

    @Option(help: "Latency statistic for the frontier: p50 or p99.")
    var latency = "p50"

    @Option(help: "Allowed quality loss for the cheap pick: absolute (0.01) or relative (2%).")
    var qualityLoss = "0.01"

    @Option(help: "Latency budget in milliseconds for the best-under-budget pick.")
    var latencyBudgetMs: Double?

    @Option(help: "Write the report as JSON here.")
    var json: String?

    @Option(help: "Write a quality-against-latency SVG plot here.")
    var svg: String?

    func validate() throws {
        _ = try grid()
        if let json { try checkOutputPath(json, flag: "--json") }
        if let svg { try checkOutputPath(svg, flag: "--svg") }
        if let latencyBudgetMs, !(latencyBudgetMs > 0 && latencyBudgetMs.isFinite) {
            throw ValidationError("--latency-budget-ms must be a positive number, got \(latencyBudgetMs)")
        }
    }

    func run() async throws {
        let settings = try grid()
        guard let measure = Measure(rawValue: measure) else {
            throw ValidationError(
                "--measure must be one of \(Measure.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let statistic = LatencyStatistic(rawValue: latency) else {
            throw ValidationError("--latency must be p50 or p99")
        }
        let loss = try parseLoss(qualityLoss)
        let (queries, evaluator) = try judgments.load()
        let pipeline = try self.pipeline.open(maxRetrieveK: settings.map(\.retrieveK).max() ?? 1000, command: "tune")
        defer { pipeline.shutdown() }
        // One untimed pass warms caches and the model thread, so the first setting is not penalised.
        _ = try await JudgedPass.run(
            Array(queries.prefix(10)), pipeline: pipeline, plan: plan(settings[0]), tag: "warm")
        var points: [SweepPoint] = []
        for (index, cutoffs) in settings.enumerated() {
            let pass = try await JudgedPass.run(queries, pipeline: pipeline, plan: plan(cutoffs), tag: "\(cutoffs)")
            let report = try evaluator.evaluate(pass.run)
            points.append(
                SweepPoint(
                    cutoffs: cutoffs, quality: report.mean,
                    latency: LatencySummary(p50Ms: pass.percentile(0.5), p99Ms: pass.percentile(0.99)),
                    throughputQPS: pass.throughput))
            printError(
                "tune: [\(index + 1)/\(settings.count)] \(cutoffs): \(measure.rawValue) "
                    + String(format: "%.4f, p50 %.2f ms", report.mean[measure], pass.percentile(0.5)))
        }
        let frontier = try Frontier(points: points, measure: measure, latencyStatistic: statistic)
        let report = frontier.report(qualityLoss: loss, latencyBudgetMs: latencyBudgetMs)
        print(report.table)
        if let json { try report.json().write(to: URL(fileURLWithPath: json)) }
        if let svg {
            try QualityLatencyPlot(
                frontier: frontier, title: "\(measure.rawValue) against \(statistic.rawValue) latency"
            )
            .write(to: URL(fileURLWithPath: svg))
        }
    }

    private func plan(_ cutoffs: Cutoffs) -> SearchPlan {
        SearchPlan(retrieveK: cutoffs.retrieveK, rerankK: cutoffs.rerankK, topN: cutoffs.retrieveK)
    }

    /// Every (retrieve_k, rerank_k) with rerank_k <= retrieve_k.
    func grid() throws -> [Cutoffs] {
        let retrieve = try parseList(retrieveK, name: "--retrieve-k", minimum: 1)
        if let over = retrieve.last, over > VectorStore.maxK {
            throw ValidationError("--retrieve-k must be in 1...\(VectorStore.maxK), got \(over)")
        }
        let rerank = try parseList(rerankK, name: "--rerank-k", minimum: 0)
        if rerank.contains(where: { $0 > 0 }) && pipeline.reranker == nil {
            throw ValidationError("--rerank-k above 0 needs --reranker")
        }
        let settings = retrieve.flatMap { r in rerank.filter { $0 <= r }.map { Cutoffs(retrieveK: r, rerankK: $0) } }
        guard !settings.isEmpty else { throw ValidationError("no setting has rerank_k <= retrieve_k") }
        return settings
    }
}

func parseList(_ text: String, name: String, minimum: Int) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! >= minimum }) else {
        throw ValidationError("\(name) must be a comma-separated list of integers >= \(minimum), got '\(text)'")
    }
    return Array(Set(values.map { $0! })).sorted()
}

func parseLoss(_ text: String) throws -> QualityLoss {
    if text.hasSuffix("%"), let percent = Double(text.dropLast()), percent >= 0 {
        return .relative(percent / 100)
    }
    guard let value = Double(text), value >= 0 else {
        throw ValidationError("--quality-loss must be a number (0.01) or a percentage (2%), got '\(text)'")
    }
    return .absolute(value)
}
