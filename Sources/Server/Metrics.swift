import Cascade
import GRPCCore
import Prometheus
import Synchronization

/// Prometheus metrics: a latency histogram per method and stage (the stage names of `Trace`,
/// the proto's `Timing` and the log lines), request counts by method and status code, and the
/// model queue's depth.
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

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        if let source = depthSource.withLock({ $0 }) { queueDepth.set(Int64(source())) }
        return registry.emitToBuffer()
    }

    /// The canonical gRPC name of a status code (`OK` for nil).
    public static func name(of code: RPCError.Code?) -> String {
        guard let code else { return "OK" }
        switch code {
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internalError: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        default: return "UNKNOWN"
        }
    }
}
