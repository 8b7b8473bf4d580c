import CascadeAPI
import GRPCCore
import Synchronization

public typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

/// The serving status of each service ("" is the server as a whole), and the Watch streams
/// waiting for it to change.
public final class HealthStatus: Sendable {
    private struct State {
        var statuses: [String: ServingStatus] = [:]
        var watchers: [Int: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
        var nextWatcher = 0
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    public func set(_ status: ServingStatus, for service: String) {
        let watchers = state.withLock { state in
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }
        }
        for watcher in watchers { watcher.continuation.yield(status) }
    }

    /// nil for a service nobody registered.
    public func status(of service: String) -> ServingStatus? {
        state.withLock { $0.statuses[service] }
    }

    public var all: [String: ServingStatus] { state.withLock { $0.statuses } }

    /// The current status (SERVICE_UNKNOWN for an unregistered service), then every change. The
    /// stream ends when `close()` is called, so open Watch calls never hold up a graceful shutdown,
    /// or when `stop` is called.
    public func watch(_ service: String) -> (updates: AsyncStream<ServingStatus>, stop: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let (id, current, closed) = state.withLock { state in
            let id = state.nextWatcher
            state.nextWatcher += 1
            if !state.closed { state.watchers[id] = (service, continuation) }
            return (id, state.statuses[service] ?? .serviceUnknown, state.closed)
        }
        continuation.yield(current)
        if closed {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
            }
        }
        return (stream, { continuation.finish() })
    }

    /// Marks every service NOT_SERVING, tells the watchers, and ends their streams.
    public func close() {
        let watchers = state.withLock { state in
            state.closed = true
            for key in state.statuses.keys { state.statuses[key] = .notServing }
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers {
            watcher.continuation.yield(.notServing)
            watcher.continuation.finish()
        }
    }
}

/// `grpc.health.v1.Health`, answered from a `HealthStatus`.
public struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    public let status: HealthStatus

    public init(status: HealthStatus) {
        self.status = status
    }

    public func check(
        request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let current = status.status(of: request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        return .with { $0.status = current }
    }

    public func list(
        request: Grpc_Health_V1_HealthListRequest, context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthListResponse {
        let all = status.all
        return .with { response in
            for (service, current) in all { response.statuses[service] = .with { $0.status = current } }
        }
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        let (updates, stop) = status.watch(request.service)
        // The stream ends on shutdown, and when the RPC is cancelled (client gone, deadline).
        try await withRPCCancellationHandler {
            for await current in updates {
                try await response.write(.with { $0.status = current })
            }
        } onCancelRPC: {
            stop()
        }
    }
}
