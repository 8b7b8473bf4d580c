import CascadeAPI
import Foundation
import GRPCCore
import Server
import Testing

/// The tracing settings as a user gives them: config keys, flags, bad values, a collector that is
/// not there.
@Suite struct TracingConfigTests {
    static func parse(_ json: String) throws -> ServerConfig {
        try ServerConfig.parse(Data(json.utf8), source: "test.json")
    }

    @Test func readsTheOtelKeysAndDefaultsToNoTracing() throws {
        #expect(ServerConfig().otelEndpoint == nil)
        let config = try Self.parse(#"{ "otel_endpoint": "http://127.0.0.1:4317", "otel_sampling": 0.25 }"#)
        #expect(config.otelEndpoint == "http://127.0.0.1:4317" && config.otelSampling == 0.25)
        var overridden = config
        var flags = ServerConfig.Overrides()
        flags.otelSampling = 1
        overridden.apply(flags)
        #expect(overridden.otelEndpoint == "http://127.0.0.1:4317" && overridden.otelSampling == 1)
    }

    @Test func refusesABadEndpointOrRatioNamingTheKey() throws {
        var config = ServerConfig()
        config.index = "idx"
        config.retriever = "minilm"
        for endpoint in ["127.0.0.1:4317", "grpc://host:4317", "http://host", "http://:4317"] {
            config.otelEndpoint = endpoint
            let error = Result { try config.validate() }.failure
            #expect(
                error is ServerConfigError && "\(error.map { "\($0)" } ?? "")".contains("otel_endpoint"), "\(endpoint)")
        }
        config.otelEndpoint = "https://collector.example:4317"
        try config.validate()
        for ratio in [-0.1, 1.5, .nan] {
            config.otelSampling = ratio
            let error = Result { try config.validate() }.failure
            #expect(
                error is ServerConfigError && "\(error.map { "\($0)" } ?? "")".contains("otel_sampling"), "\(ratio)")
        }
    }

    @Test func queryAndServeRefuseBadTracingFlags() throws {
        let query = try CLITests.run(["query", "--server", "127.0.0.1:1", "--traceparent", "00-abc-def-01", "chess"])
        #expect(query.status != 0)
        #expect(query.stderr.contains("--traceparent must be a W3C traceparent"), "\(query.stderr)")
        let serve = try CLITests.run([
            "serve", "--store", "/x", "--retriever", "/y", "--otel-endpoint", "localhost:4317",
        ])
        #expect(serve.status != 0)
        #expect(serve.stderr.contains("otel_endpoint must be http://HOST:PORT"), "\(serve.stderr)")
    }

    /// A collector that does not answer costs spans, never calls, and does not hold up shutdown
    /// past the exporter's timeout.
    @Test func anUnreachableCollectorLosesSpansNotCalls() async throws {
        let port = try CLITests.closedPort()
        let server = try await RunningServer.start {
            $0.otelEndpoint = "http://127.0.0.1:\(port)"
            $0.logLevel = "critical"
        }
        var metadata: Metadata = [:]
        metadata.addString("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", forKey: "traceparent")
        let response = try await server.withClient { client in
            try await client.search(
                .with {
                    $0.query = "chess"; $0.rerankK = 2
                }, metadata: metadata)
        }
        #expect(!response.hits.isEmpty)
        let stopping = ContinuousClock.now
        try await server.stop()
        let took = stopping.duration(to: .now)
        // The exporter gives up after 3 s; a hang would never end. The bound leaves room for a
        // machine busy with other tests, not for a retry loop.
        #expect(took < .seconds(60), "shutdown took \(took) with an unreachable collector")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
