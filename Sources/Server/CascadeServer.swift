import Cascade
import Compute
import Dispatch
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Synchronization
import Transformer

/// The gRPC server: `cascade.v1.Cascade` and `grpc.health.v1.Health` over HTTP/2 (TLS when
/// configured), an optional API key, and Prometheus metrics on a separate HTTP port.
///
/// Shutdown (`shutdown()`, SIGTERM or SIGINT once `installSignalHandlers()` ran): health turns
/// NOT_SERVING and Watch streams end, the listener closes, calls in flight finish, then `run`
/// returns. Calls still running after `shutdownGraceSeconds` (or at a second signal) are cancelled.
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
    private let shutdownBegun = AsyncStream.makeStream(of: Void.self)
    private let shutdownForced = AsyncStream.makeStream(of: Void.self)
    private let state = Mutex(State())

    private struct State {
        var shuttingDown = false
        var beginShutdown: (@Sendable () -> Void)?
        var signalSources: [any DispatchSourceSignal] = []
    }

    /// A server over an existing pipeline (tests, embedding). Validates `config`.
    public init(config: ServerConfig, pipeline: Pipeline, logger: Logger = Logger(label: "cascade.server")) throws {
        try config.validate()
        self.config = config
        self.pipeline = pipeline
        var logger = logger
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        self.logger = logger
        self.apiKey = try config.resolvedAPIKey()
        metrics.observeQueueDepth { [pipeline] in pipeline.queueDepth }
        pipeline.scheduler.observe(with: metrics)
    }

    /// Loads the models and opens the index the config names.
    public static func load(config: ServerConfig, logger: Logger = Logger(label: "cascade.server")) throws
        -> CascadeServer
    {
        try config.validate()
        if let threads = config.computeThreads { setComputeThreads(threads) }
        let pipeline = try Pipeline.open(
            index: URL(fileURLWithPath: config.index ?? ""),
            retriever: URL(fileURLWithPath: config.retriever ?? ""),
            reranker: config.reranker.map { URL(fileURLWithPath: $0) },
            rerankerHead: config.rerankerHead.map { URL(fileURLWithPath: $0) },
            configuration: config.pipelineConfiguration, readOnly: config.readOnly,
            retrieverPrecision: config.retrieverPrecision, rerankerPrecision: config.rerankerPrecision)
        return try CascadeServer(config: config, pipeline: pipeline, logger: logger)
    }

    /// Serves until shut down. `onListening` is called once both listeners are bound (with the
    /// real ports when 0 was asked for). Shuts the pipeline down before returning.
    public func run(onListening: @escaping @Sendable (Addresses) -> Void = { _ in }) async throws {
        defer { pipeline.shutdown() }
        let transport = HTTP2ServerTransport.Posix(
            address: Self.socketAddress(host: config.host, port: config.port),
            transportSecurity: transportSecurity,
            config: .defaults { $0.rpc.maxRequestPayloadSize = config.maxRequestBytes })
        var interceptors: [any ServerInterceptor] = [CallClock()]
        if let apiKey {
            let metrics = self.metrics
            interceptors.append(
                APIKeyInterceptor(key: apiKey) { method in
                    metrics.record(method: method.method, code: .unauthenticated, trace: nil)
                })
        }
        let service = CascadeService(
            pipeline: pipeline, metrics: metrics, logger: logger,
            draining: { [weak self] in self?.isShuttingDown ?? true })
        let server = GRPCServer(
            transport: transport, services: [service, HealthService(status: health)], interceptors: interceptors)
        let alreadyStopping = state.withLock { state in
            state.beginShutdown = { server.beginGracefulShutdown() }
            return state.shuttingDown
        }
        if alreadyStopping { return }

        var metricsServer: MetricsHTTPServer?
        if let metricsPort = config.metricsPort {
            let metrics = self.metrics
            metricsServer = try await MetricsHTTPServer.start(
                host: config.metricsHost ?? config.host, port: metricsPort, render: { metrics.render() })
        }
        let grace = Duration.milliseconds(Int64(config.shutdownGraceSeconds * 1000))
        let (begun, forced, logger) = (shutdownBegun.stream, shutdownForced.stream, self.logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.serve() }
                group.addTask {
                    // Graceful shutdown began: give calls in flight the grace period (or until a
                    // second shutdown request), then end the group, which cancels them.
                    for await _ in begun { break }
                    if Task.isCancelled { return }
                    await withTaskGroup(of: Void.self) { timer in
                        timer.addTask { try? await Task.sleep(for: grace) }
                        timer.addTask { for await _ in forced { break } }
                        await timer.next()
                        timer.cancelAll()
                    }
                    if Task.isCancelled { return }
                    logger.warning("shutdown: cancelling calls still in flight")
                }
                let address = try await transport.listeningAddress
                let port = address.ipv4?.port ?? address.ipv6?.port ?? config.port
                health.set(.serving, for: "")
                health.set(.serving, for: "cascade.v1.Cascade")
                logger.info(
                    "listening",
                    metadata: [
                        "address": .string("\(address)"), "tls": .stringConvertible(config.tls != nil),
                        "auth": .stringConvertible(apiKey != nil),
                        "metrics_port": .string(metricsServer.map { String($0.port) } ?? "off"),
                        "corpus_size": .stringConvertible(pipeline.store.count),
                    ])
                onListening(Addresses(host: config.host, port: port, metricsPort: metricsServer?.port))
                // Whichever ends first: serve (drained) or the watchdog (grace period over).
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await metricsServer?.stop()
            throw error
        }
        await metricsServer?.stop()
        logger.info("stopped")
    }

    /// True once `shutdown()` was called.
    public var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// Begins a graceful shutdown; a second call cancels the calls still in flight.
    public func shutdown() {
        let (first, begin) = state.withLock { state in
            defer { state.shuttingDown = true }
            return (!state.shuttingDown, state.beginShutdown)
        }
        if first {
            logger.info("shutting down: draining calls in flight")
            health.close()
            begin?()
            shutdownBegun.continuation.yield()
        } else {
            shutdownForced.continuation.yield()
        }
    }

    /// SIGTERM and SIGINT call `shutdown()` (twice: cancel what is still running).
    public func installSignalHandlers() {
        state.withLock { state in
            for number in [SIGTERM, SIGINT] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [weak self] in self?.shutdown() }
                source.resume()
                state.signalSources.append(source)
            }
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
