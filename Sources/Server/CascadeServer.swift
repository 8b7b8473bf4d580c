import Cascade
import Compute
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import Synchronization
import Transformer
import UnixSignals

/// The gRPC server: `cascade.v1.Cascade` and `grpc.health.v1.Health` over HTTP/2 (TLS when
/// configured), an optional API key, Prometheus metrics on a separate HTTP port, and spans to an
/// OTLP collector when one is configured.
///
/// `run` runs these as a swift-service-lifecycle `ServiceGroup` (the trace exporter, the metrics
/// endpoint, the gRPC server; shut down in the reverse order). Shutdown (`shutdown()`, or SIGTERM
/// or SIGINT when `run` handles signals): health turns NOT_SERVING and Watch streams end, the
/// listener closes, calls in flight finish, the metrics listener closes, the exporter sends the
/// spans it holds, then `run` returns. Calls still running after `shutdownGraceSeconds` (or at a
/// second shutdown request) are cancelled.
public final class CascadeServer: Sendable {
    public static let version = "0.1.0"

    /// Where the server listens, once it does.
    public struct Addresses: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var metricsPort: Int?
    }

    public let config: ServerConfig
    public let pipeline: Pipeline
    public let metrics = ServerMetrics()
    public let health = HealthStatus()
    private let logger: Logger
    private let apiKey: String?
    /// Given by the embedder (tests); otherwise made from `otel_endpoint` when the server runs.
    private let tracing: RequestTracing?
    private let state = Mutex(State())

    private struct State {
        var shuttingDown = false
        var group: ServiceGroup?
        var running: Task<Void, any Error>?
    }

    /// A server over an existing pipeline (tests, embedding). Validates `config`. `tracing`
    /// replaces the OTLP exporter `otel_endpoint` would make (its spans go where its tracer sends them).
    public init(
        config: ServerConfig, pipeline: Pipeline, logger: Logger = Logger(label: "cascade.server"),
        tracing: RequestTracing? = nil
    ) throws {
        try config.validate()
        self.config = config
        self.pipeline = pipeline
        var logger = logger
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        self.logger = logger
        self.apiKey = try config.resolvedAPIKey()
        self.tracing = tracing
        metrics.observeQueueDepth { [pipeline] in pipeline.queueDepth }
        pipeline.scheduler.observe(with: metrics)
    }

    /// Loads the models and opens the index the config names.
    public static func load(config: ServerConfig, logger: Logger = Logger(label: "cascade.server")) throws
        -> CascadeServer
    {
        try config.validate()
        if let threads = config.computeThreads { setComputeThreads(threads) }
        let index = URL(fileURLWithPath: config.index ?? "")
        let existed = FileManager.default.fileExists(atPath: index.appendingPathComponent("data.mdb").path)
        let pipeline = try Pipeline.open(
            index: index,
            retriever: URL(fileURLWithPath: config.retriever ?? ""),
            reranker: config.reranker.map { URL(fileURLWithPath: $0) },
            rerankerHead: config.rerankerHead.map { URL(fileURLWithPath: $0) },
            configuration: config.pipelineConfiguration, readOnly: config.readOnly,
            retrieverPrecision: config.retrieverPrecision, rerankerPrecision: config.rerankerPrecision)
        if !existed {
            // A mistyped path would otherwise serve an empty corpus without a word.
            logger.warning(
                "no index at \(index.path): started a new, empty one for Upsert to fill (read_only refuses a missing index)"
            )
        }
        return try CascadeServer(config: config, pipeline: pipeline, logger: logger)
    }

    /// Serves until shut down. `onListening` is called once both listeners are bound (with the
    /// real ports when 0 was asked for). With `handlingSignals`, SIGTERM and SIGINT call
    /// `shutdown()`. Shuts the pipeline down before returning.
    public func run(
        handlingSignals: Bool = false, onListening: @escaping @Sendable (Addresses) -> Void = { _ in }
    ) async throws {
        defer { pipeline.shutdown() }
        if isShuttingDown { return }
        var services: [any Service] = []
        if handlingSignals {
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            services.append(SignalService(signals: signals) { [weak self] in self?.shutdown() })
        }
        var tracing = self.tracing ?? .off
        if self.tracing == nil, let endpoint = config.otelEndpoint {
            let otlp = try RequestTracing.otlp(endpoint: endpoint, sampling: config.otelSampling, logger: logger)
            tracing = otlp.tracing
            services.append(otlp.exporter)
        }
        var metricsServer: MetricsHTTPServer?
        if let metricsPort = config.metricsPort {
            let metrics = self.metrics
            let host = config.metricsHost ?? config.host
            let server = try await ListenError.naming("metrics", host: host, port: metricsPort) {
                try await MetricsHTTPServer.start(host: host, port: metricsPort, render: { metrics.render() })
            }
            metricsServer = server
            services.append(MetricsHTTPService(server: server))
        }
        let metricsPort = metricsServer?.port
        let transport = HTTP2ServerTransport.Posix(
            address: Self.socketAddress(host: config.host, port: config.port),
            transportSecurity: transportSecurity,
            config: .defaults { $0.rpc.maxRequestPayloadSize = config.maxRequestBytes })
        services.append(
            GRPCServerService(
                server: makeGRPCServer(transport: transport, tracing: tracing),
                onListening: { [self] in
                    // No address: the listener failed to bind, and serve() throws why (address in use...).
                    guard let address = try? await transport.listeningAddress else { return }
                    let port = address.ipv4?.port ?? address.ipv6?.port ?? config.port
                    health.set(.serving, for: "")
                    health.set(.serving, for: "cascade.v1.Cascade")
                    logger.info(
                        "listening",
                        metadata: [
                            "address": .string("\(address)"), "tls": .stringConvertible(config.tls != nil),
                            "auth": .stringConvertible(apiKey != nil),
                            "metrics_port": .string(metricsPort.map { String($0) } ?? "off"),
                            "tracing": .string(config.otelEndpoint ?? "off"),
                            "corpus_size": .stringConvertible(pipeline.store.count),
                        ])
                    onListening(Addresses(host: config.host, port: port, metricsPort: metricsPort))
                },
                onShutdown: { [health] in health.close() }, logger: logger))

        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(config.shutdownGraceSeconds * 1000))
        let group = ServiceGroup(configuration: configuration)
        let running = Task { try await group.run() }
        let stopping = state.withLock { state in
            (state.group, state.running) = (group, running)
            return state.shuttingDown
        }
        // A shutdown() that came while the services were being made found no group to stop.
        if stopping { await group.triggerGracefulShutdown() }
        try await withTaskCancellationHandler {
            try await ListenError.naming("gRPC", host: config.host, port: config.port) { try await running.value }
        } onCancel: {
            running.cancel()
        }
        logger.info("stopped")
    }

    private func makeGRPCServer(
        transport: HTTP2ServerTransport.Posix, tracing: RequestTracing
    ) -> GRPCServer<HTTP2ServerTransport.Posix> {
        var interceptors: [any ServerInterceptor] = [CallClock()]
        if let apiKey {
            let metrics = self.metrics
            interceptors.append(
                APIKeyInterceptor(key: apiKey) { method in
                    metrics.record(method: method.method, code: .unauthenticated, trace: nil)
                })
        }
        let service = CascadeService(
            pipeline: pipeline, metrics: metrics, logger: logger, tracing: tracing,
            draining: { [weak self] in self?.isShuttingDown ?? true })
        return GRPCServer(
            transport: transport, services: [service, HealthService(status: health)], interceptors: interceptors)
    }

    /// True once `shutdown()` was called.
    public var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// Begins a graceful shutdown; a second call cancels the calls still in flight.
    public func shutdown() {
        let (first, group, running) = state.withLock { state in
            defer { state.shuttingDown = true }
            return (!state.shuttingDown, state.group, state.running)
        }
        if first {
            logger.info("shutting down: draining calls in flight")
            // NOT_SERVING before anything closes, so a load balancer stops sending calls first.
            health.close()
            if let group { Task { await group.triggerGracefulShutdown() } }
        } else {
            running?.cancel()
        }
    }

    private var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
        guard let tls = config.tls else { return .plaintext }
        return .tls(
            certificateChain: [.file(path: tls.certificate, format: .pem)],
            privateKey: .file(path: tls.key, format: .pem))
    }

    static func socketAddress(host: String, port: Int) -> GRPCNIOTransportCore.SocketAddress {
        if host == "localhost" { return .ipv4(host: "127.0.0.1", port: port) }
        return host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port)
    }
}
