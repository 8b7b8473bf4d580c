import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import UnixSignals

/// The gRPC server as a `Service`: serves until the group shuts down, then stops taking calls
/// and lets those in flight finish. The group cancels it when its grace period is over.
struct GRPCServerService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    /// Runs once the listener is bound (reports the address).
    let onListening: @Sendable () async -> Void
    /// Runs when graceful shutdown begins, before the listener closes.
    let onShutdown: @Sendable () -> Void
    let logger: Logger

    func run() async throws {
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await server.serve() }
                    await onListening()
                }
            } onGracefulShutdown: {
                onShutdown()
                server.beginGracefulShutdown()
            }
        } catch  where Task.isCancelled {
            // The grace period ran out (or a second signal came): the calls still running were
            // cancelled, which is how shutdown was asked to end, not a failure of the server.
        }
        if Task.isCancelled { logger.warning("shutdown: calls still in flight were cancelled") }
    }
}

/// The Prometheus endpoint as a `Service` (already bound, so its port is known before the group
/// starts): closes its listener when the group shuts down.
struct MetricsHTTPService: Service {
    let server: MetricsHTTPServer

    func run() async {
        // Returns at graceful shutdown, or at once when the group is cancelled.
        try? await gracefulShutdown()
        await server.stop()
    }
}

/// SIGTERM and SIGINT, for as long as the group runs: the first begins a graceful shutdown, a
/// second cancels what is still running (`shutdown` decides which). First in the group, so it is
/// shut down last and still hears a second signal while the calls drain. `signals` is trapped
/// before the group starts, so a signal that comes as the listener opens is not lost.
struct SignalService: Service {
    let signals: UnixSignalsSequence
    let shutdown: @Sendable () -> Void

    func run() async {
        for await _ in signals.cancelOnGracefulShutdown() { shutdown() }
    }
}
