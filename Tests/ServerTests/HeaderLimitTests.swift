import CascadeAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

/// Call metadata larger than the transport accepts, on a real server over loopback.
///
/// grpc-swift-nio-transport 2.x fixes SETTINGS_MAX_HEADER_LIST_SIZE at swift-nio-http2's 16 KiB
/// (no config knob), and swift-nio-http2 treats a larger header block as a connection error:
/// the server answers GOAWAY and the connection closes, so other calls on that connection fail
/// too. The transport offers no way to fail only that stream; what the server can promise is
/// that such a call fails (it does not hang), and that the server and the same client keep
/// working afterwards.
@Suite struct HeaderLimitTests {
    static func metadata(valueBytes: Int) -> Metadata {
        var metadata: Metadata = [:]
        metadata.addString(String(repeating: "a", count: valueBytes), forKey: "x-padding")
        return metadata
    }

    /// `body`, again every 100 ms while it fails with UNAVAILABLE, for up to 10 s.
    static func retryingUnavailable<T>(_ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await body()
            } catch let error as RPCError where error.code == .unavailable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test func anOversizedHeaderFailsItsCallAndTheServerKeepsServing() async throws {
        let server = try await RunningServer.start(reranker: false)
        var options = CallOptions.defaults
        options.timeout = .seconds(20)
        try await server.withClient { client in
            // Under the limit: an ordinary call.
            let fits = try await client.info(.init(), metadata: Self.metadata(valueBytes: 8 << 10), options: options)
            #expect(fits.corpus.size == UInt64(Fixtures.corpusSize))

            let refused = try await rpcError {
                _ = try await client.info(.init(), metadata: Self.metadata(valueBytes: 16 << 10), options: options)
            }
            #expect(refused.code != .deadlineExceeded, "the call hung instead of failing: \(refused)")

            // The same client opens a new connection; the server lost nothing. While the client
            // reconnects a call can fail at once with UNAVAILABLE ("no subchannel available",
            // even with waitForReady), which says nothing about the server: retried, as a gRPC
            // client retries UNAVAILABLE.
            var reconnecting = options
            reconnecting.waitForReady = true
            let after = try await Self.retryingUnavailable {
                try await client.search(.with { $0.query = "chess" }, metadata: [:], options: reconnecting)
            }
            #expect(!after.hits.isEmpty)
        }
        try await server.withClient { client in
            let fresh = try await Self.retryingUnavailable {
                try await client.info(.init(), metadata: [:], options: options)
            }
            #expect(fresh.corpus.size == UInt64(Fixtures.corpusSize))
        }
        try await server.stop()
    }
}
