import CascadeAPI
import Foundation
import GRPCCore
import Server
import Testing

/// The ServiceGroup's shutdown paths that the drain test (OperationsTests) does not take.
@Suite struct LifecycleTests {
    @Test func aSecondShutdownCancelsTheCallsInFlightAndRunStillReturns() async throws {
        let server = try await RunningServer.start { $0.scheduler.maxQueueMs = 600_000 }
        let passages = try Fixtures.messages(64)
        let inFlight = Task {
            try await server.withClient { client in
                await withTaskGroup(of: Bool.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            (try? await client.rerank(
                                .with {
                                    $0.query = "chess"; $0.passages = passages
                                })) != nil
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
            }
        }
        try await server.waitUntilModelWorkQueues()
        server.server.shutdown()
        server.server.shutdown()
        let succeeded = try await inFlight.value
        // One rerank at least was still waiting for the model when the second request came.
        #expect(succeeded.contains(false), "\(succeeded)")
        try await server.waitUntilStopped()
    }

    @Test func aPortInUseFailsRunNamingTheListenerAndTheReason() async throws {
        let first = try await RunningServer.start(reranker: false)
        let second = try CascadeServer(
            config: {
                var config = first.server.config
                config.port = first.port
                return config
            }(), pipeline: first.pipeline)
        do {
            try await second.run { _ in Issue.record("a second server listened on a port in use") }
            Issue.record("run returned without an error")
        } catch let error as ListenError {
            #expect(error.listener == "gRPC" && error.port == first.port && error.errno == EADDRINUSE, "\(error)")
            #expect("\(error)".contains("the address is in use"), "\(error)")
        }
        try await first.stop()
    }

    @Test func aShutdownBeforeRunMakesRunReturnAtOnce() async throws {
        let server = try await RunningServer.start()
        try await server.stop()
        // Stopped servers stay stopped: a second run returns without listening.
        try await server.server.run { _ in Issue.record("a stopped server listened again") }
    }
}
