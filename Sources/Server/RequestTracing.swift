import Cascade
import Foundation
import GRPCCore
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Spans for the calls this server answers. The caller's `traceparent`/`tracestate` (W3C Trace
/// Context) is continued: each call is a server span under the caller's span, and each stage the
/// pipeline timed (tokenize, queue, encode, retrieve, fetch, rerank, write) a child span of it.
public struct RequestTracing: Sendable {
    public let tracer: any Tracer

    /// No spans (the default: tracing is off unless an OTLP endpoint is configured).
    public static let off = RequestTracing(tracer: NoOpTracer())

    public init(tracer: any Tracer) {
        self.tracer = tracer
    }

    /// An OTLP/gRPC exporter to `endpoint` (`http://HOST:PORT`, or `https://` for TLS) and the
    /// tracer that feeds it. New traces are kept with probability `sampling`; a call whose
    /// caller sampled its trace is always kept (parent-based), so a trace is never cut in half.
    /// The returned service sends the spans in batches and flushes them when it shuts down.
    public static func otlp(endpoint: String, sampling: Double, logger: Logger) throws -> (
        tracing: RequestTracing, exporter: any Service
    ) {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "cascade"
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        configuration.propagators = [.traceContext]
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.endpoint = endpoint
        configuration.traces.otlpExporter.protocol = .grpc
        // Spans leave within a second: the e2e check and an operator watching a trace do not wait 5 s.
        configuration.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        // A collector that does not answer costs spans, not calls; and it must not hold shutdown
        // (which flushes the last batch) for the libraries' default 10-30 s.
        configuration.traces.batchSpanProcessor.exportTimeout = .seconds(3)
        configuration.traces.otlpExporter.timeout = .seconds(3)
        guard
            let sampler = OTel.Configuration.TracesConfiguration.SamplerConfiguration.parentBasedTraceIDRatio(
                ratio: sampling)
        else { throw ServerConfigError.invalid("otel_sampling must be in 0...1 (got \(sampling))") }
        configuration.traces.sampler = sampler
        let backend = try OTel.makeTracingBackend(configuration: configuration)
        return (RequestTracing(tracer: backend.factory), backend.service)
    }

    /// Runs `body` in a server span named `method`, continuing the trace `metadata` carries.
    func withCallSpan<T: Sendable>(
        _ method: String, metadata: Metadata, _ body: (any Span) async -> T
    ) async -> T {
        var context = ServiceContext.topLevel
        tracer.extract(metadata, into: &context, using: MetadataExtractor())
        let span = tracer.startSpan("cascade.v1.Cascade/\(method)", context: context, ofKind: .server)
        defer { span.end() }
        return await ServiceContext.withValue(span.context) { await body(span) }
    }

    /// One child span of `parent` per stage span the pipeline recorded, at the times it recorded,
    /// and under it one `STAGE.batch` span per model batch that ran its work.
    func recordStages(of trace: Trace, under parent: any Span) {
        for (key, value) in trace.attributes { parent.attributes["cascade.\(key)"] = value }
        let clock = WallClockAnchor()
        for stage in trace.spans {
            let span = record(stage, named: stage.stage.rawValue, under: parent, clock: clock)
            for batch in stage.batches {
                record(batch, named: "\(stage.stage.rawValue).batch", under: span, clock: clock).end(
                    at: clock.instant(batch.end))
            }
            span.end(at: clock.instant(stage.end))
        }
    }

    /// A started span for `stage` with its attributes; the caller ends it.
    private func record(_ stage: StageSpan, named name: String, under parent: any Span, clock: WallClockAnchor)
        -> any Span
    {
        let span = tracer.startSpan(name, context: parent.context, ofKind: .internal, at: clock.instant(stage.start))
        for (key, value) in stage.attributes.sorted(by: { $0.key < $1.key }) {
            span.attributes["cascade.\(key)"] = value
        }
        return span
    }
}

/// Reads W3C trace headers out of gRPC call metadata.
struct MetadataExtractor: Extractor {
    func extract(key: String, from carrier: Metadata) -> String? {
        carrier[stringValues: key].first(where: { _ in true })
    }
}

/// A wall-clock time for a span's start or end.
struct WallInstant: TracerInstant {
    var nanosecondsSinceEpoch: UInt64

    static func < (lhs: WallInstant, rhs: WallInstant) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }
}

/// Maps the monotonic instants the pipeline measures onto wall-clock time, which spans carry:
/// both clocks are read once, and every instant keeps its distance from that moment.
struct WallClockAnchor {
    let wall = DefaultTracerClock.now.nanosecondsSinceEpoch
    let monotonic = ContinuousClock.now

    func instant(_ instant: ContinuousClock.Instant) -> WallInstant {
        let (seconds, attoseconds) = instant.duration(to: monotonic).components
        let before = Int64(seconds) * 1_000_000_000 + Int64(attoseconds / 1_000_000_000)
        return WallInstant(nanosecondsSinceEpoch: UInt64(max(0, Int64(wall) - before)))
    }
}
