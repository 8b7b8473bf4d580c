import Cascade
import CascadeWire
import GRPCCore
import Prometheus
import Synchronization

/// Prometheus metrics: a latency histogram per method and stage (the stage names of `Trace`,
/// the proto's `Timing` and the log lines), request counts by method and status code, the
/// scheduler's batches, waits, refusals and drops, the rerank cache, and the queue's depth.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// 100 µs to 30 s, roughly ×2.5 per bucket: a query encode is ~1 ms, a deep rerank seconds.
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]
    private let queueDepth: Gauge
    private let depthSource = Mutex<(@Sendable () -> Int)?>(nil)

    public init() {
        queueDepth = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "cascade", metricName: "queue_depth", unitName: "",
                helpText: "Model runs waiting for the model thread."))
        // Counters an alert would watch exist from the start, at 0, not from their first event.
        for reason in Refusal.Reason.allCases { refused(reason, by: 0) }
        for work in WorkClass.allCases { expired(work, by: 0) }
        rerankCache(hits: 0, misses: 0)
        rerankBudgetCut(by: 0)
    }

    /// Where the queue-depth gauge reads from at scrape time.
    public func observeQueueDepth(_ source: @escaping @Sendable () -> Int) {
        depthSource.withLock { $0 = source }
    }

    /// Counts one finished call and, when it ran, its stage timings. Stages it did not run are not
    /// recorded, so a histogram's count is the number of calls that went through that stage.
    public func record(method: String, code: RPCError.Code?, trace: Trace?) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "cascade", metricName: "requests", unitName: "total",
                helpText: "gRPC calls by method and status code."),
            labels: [("method", method), ("code", Self.name(of: code))]
        ).increment()
        guard let trace else { return }
        for stage in Stage.allCases where stage == .total || trace[stage] > .zero {
            registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "cascade", metricName: "stage_duration", unitName: "seconds",
                    helpText: "Time per call spent in each stage (queue, tokenize, encode, retrieve, fetch, "
                        + "rerank, write, total)."),
                labels: [("method", method), ("stage", stage.rawValue)],
                buckets: Self.buckets
            ).record(trace[stage])
        }
    }

    /// Requests (or rows, or padded tokens) per batch: 1 to 4096, doubling.
    static let sizeBuckets: [Double] = (0...12).map { Double(1 << $0) }

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        if let source = depthSource.withLock({ $0 }) { queueDepth.set(Int64(source())) }
        return registry.emitToBuffer()
    }

    /// The canonical gRPC name of a status code (`OK` for nil).
    public static func name(of code: RPCError.Code?) -> String {
        StatusCodes.name(code?.rawValue ?? 0)
    }
}

extension ServerMetrics: SchedulerObserver {
    public func batchRan(_ work: WorkClass, requests: Int, rows: Int, tokens: Int, duration: Duration) {
        let labels = [("class", work.rawValue)]
        for (name, value, help) in [
            ("batch_requests", requests, "Requests sharing one forward pass, by work class (query, rerank, bulk)."),
            ("batch_rows", rows, "Rows (queries, pairs, texts) in one forward pass, by work class."),
            ("batch_tokens", tokens, "Padded tokens in one forward pass, by work class."),
        ] {
            registry.makeValueHistogram(
                descriptor: MetricNameDescriptor(namespace: "cascade", metricName: name, unitName: "", helpText: help),
                labels: labels, buckets: Self.sizeBuckets
            ).record(Double(value))
        }
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "cascade", metricName: "batch_duration", unitName: "seconds",
                helpText: "One forward pass (with its scan, for queries), by work class."),
            labels: labels, buckets: Self.buckets
        ).record(duration)
    }

    public func waited(_ work: WorkClass, _ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "cascade", metricName: "queue_wait", unitName: "seconds",
                helpText: "From a request's work reaching the scheduler to its first batch, by work class."),
            labels: [("class", work.rawValue)], buckets: Self.buckets
        ).record(duration)
    }

    public func refused(_ reason: Refusal.Reason) { refused(reason, by: 1) }

    private func refused(_ reason: Refusal.Reason, by amount: Int) {
        count(
            "refusals",
            "Requests refused at admission, before any model work, by reason "
                + "(deadline, queue_time, queue_full).", [("reason", reason.rawValue)], by: amount)
    }

    public func expired(_ work: WorkClass) { expired(work, by: 1) }

    private func expired(_ work: WorkClass, by amount: Int) {
        count(
            "expired", "Admitted work dropped unrun because its deadline passed while it waited, by work class.",
            [("class", work.rawValue)], by: amount)
    }

    public func rerankCache(hits: Int, misses: Int) {
        count("rerank_cache_hits", "Rerank pairs whose score came from the cache.", [], by: hits)
        count("rerank_cache_misses", "Rerank pairs the cross-encoder scored.", [], by: misses)
    }

    public func rerankBudgetCut(requested: Int, reranked: Int) { rerankBudgetCut(by: 1) }

    private func rerankBudgetCut(by amount: Int) {
        count(
            "rerank_budget_cuts", "Searches whose rerank_budget_ms reranked fewer than rerank_k candidates.", [],
            by: amount)
    }

    private func count(_ name: String, _ help: String, _ labels: [(String, String)], by amount: Int = 1) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "cascade", metricName: name, unitName: "total", helpText: help),
            labels: labels
        ).increment(by: Int64(amount))
    }
}
