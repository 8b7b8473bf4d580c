import CascadeAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

typealias CascadeClient = Cascade_V1_Cascade.Client<HTTP2ClientTransport.Posix>

/// `--connections N`: calls go round-robin over N HTTP/2 connections. One connection puts every
/// call on one event loop at each end, so a load generator with many callers of cheap (or refused)
/// calls is bounded by one core's gRPC work per side; a fleet of real callers has many connections.
final class Clients: Sendable {
    let all: [CascadeClient]
    private let counter = Atomic<Int>(0)

    init(_ all: [CascadeClient]) {
        precondition(!all.isEmpty)
        self.all = all
    }

    func next() -> CascadeClient {
        all[counter.wrappingAdd(1, ordering: .relaxed).oldValue % all.count]
    }
}

/// Runs `body` with `count` connected clients and shuts them all down after it, thrown or not.
func withClients<Result: Sendable>(
    count: Int, transport: () throws -> HTTP2ClientTransport.Posix,
    _ body: (Clients) async throws -> Result
) async throws -> Result {
    let grpcs = try (0..<max(1, count)).map { _ in GRPCClient(transport: try transport()) }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for grpc in grpcs {
            group.addTask { try await grpc.runConnections() }
        }
        let result: Result
        do {
            result = try await body(Clients(grpcs.map { CascadeClient(wrapping: $0) }))
        } catch {
            grpcs.forEach { $0.beginGracefulShutdown() }
            throw error
        }
        grpcs.forEach { $0.beginGracefulShutdown() }
        try await group.waitForAll()
        return result
    }
}
