import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Server
import Testing
import VectorStore

/// Concurrency, TLS, graceful shutdown and metrics on a real server.
@Suite struct OperationsTests {
    @Test func upsertsDuringSearchesAllSucceedAndEverySearchIsConsistent() async throws {
        // Every call must be admitted however slow the machine: admission is not tested here.
        let server = try await RunningServer.start { $0.scheduler.maxQueueMs = 600_000 }
        let query = "library for parsing configuration files"
        let newPassages = (0..<24).map { index in
            Cascade_V1_Passage.with {
                $0.id = "new-\(index)"
                $0.text = "A library number \(index) for parsing configuration files in INI and TOML formats."
            }
        }
        let (writes, searches) = try await server.withClient { client in
            try await withThrowingTaskGroup(of: ([Cascade_V1_UpsertResponse], [Cascade_V1_SearchResponse]).self) {
                group in
                for writer in 0..<3 {
                    group.addTask {
                        var done: [Cascade_V1_UpsertResponse] = []
                        for batch in stride(from: writer * 8, to: writer * 8 + 8, by: 4) {
                            done.append(
                                try await client.upsert(.with { $0.passages = Array(newPassages[batch..<batch + 4]) }))
                        }
                        return (done, [])
                    }
                }
                for _ in 0..<3 {
                    group.addTask {
                        var done: [Cascade_V1_SearchResponse] = []
                        for _ in 0..<6 {
                            done.append(
                                try await client.search(
                                    .with {
                                        $0.query = query
                                        $0.retrieveK = 30
                                        $0.rerankK = 0
                                        $0.topN = 30
                                    }))
                        }
                        return ([], done)
                    }
                }
                var writes: [Cascade_V1_UpsertResponse] = []
                var searches: [Cascade_V1_SearchResponse] = []
                for try await (written, searched) in group {
                    writes += written
                    searches += searched
                }
                return (writes, searches)
            }
        }
        #expect(writes.count == 6 && writes.allSatisfy { $0.upserted == 4 })
        #expect(writes.map(\.corpusSize).max() == UInt64(Fixtures.corpusSize + 24))
        #expect(searches.count == 18)
        // Each search is a consistent snapshot: scores are the true similarity to a stored vector,
        // in order, with no id twice, whichever writes it saw.
        let retriever = try Fixtures.shared().retriever
        let queryVector = try retriever.embed(retriever.encode([query]))[0]
        let store = server.pipeline.store
        for search in searches {
            #expect(search.hits.count == 30)
            #expect(Set(search.hits.map(\.id)).count == 30)
            #expect(zip(search.hits, search.hits.dropFirst()).allSatisfy { $0.score >= $1.score })
            for hit in search.hits {
                let vector = try #require(try store.vector(id: hit.id))
                let similarity = zip(vector, queryVector).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                #expect(abs(similarity - hit.score) < 1e-4)
            }
        }
        #expect(store.count == Fixtures.corpusSize + 24)
        for passage in newPassages { #expect(try store.passage(id: passage.id)?.text == passage.text) }
        try await server.stop()
    }

    @Test func tlsWithASelfSignedCertificate() async throws {
        guard let (cert, key) = try Fixtures.selfSignedCertificate() else { return }
        let server = try await RunningServer.start {
            $0.tls = ServerConfig.TLS(certificate: cert.path, key: key.path)
        }
        let trusted = HTTP2ClientTransport.Posix.TransportSecurity.tls {
            $0.trustRoots = .certificates([.file(path: cert.path, format: .pem)])
        }
        let response = try await server.withClient(security: trusted) { client in
            try await client.search(
                .with {
                    $0.query = "chess"; $0.rerankK = 2; $0.retrieveK = 5; $0.topN = 5
                })
        }
        #expect(response.hits.count == 5)
        // A plaintext client gets nowhere.
        var options = CallOptions.defaults
        options.timeout = .seconds(5)
        let plaintext = try await server.withClient { client in
            try await rpcError { _ = try await client.info(.init(), metadata: [:], options: options) }
        }
        #expect(plaintext.code == .unavailable || plaintext.code == .deadlineExceeded, "\(plaintext)")
        try await server.stop()
    }

    @Test func shutdownFinishesCallsInFlightThenRefusesNewOnes() async throws {
        let server = try await RunningServer.start {
            // Both calls must be admitted and finish however slow the machine: neither admission nor
            // the grace period is tested here (a busy CI machine took over 30 s for the two).
            $0.scheduler.maxQueueMs = 600_000
            $0.shutdownGraceSeconds = 600
        }
        let passages = try Fixtures.messages(24)
        let inFlight = Task {
            try await server.withClient { client in
                try await withThrowingTaskGroup(of: Cascade_V1_RerankResponse.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            try await client.rerank(
                                .with {
                                    $0.query = "chess"; $0.passages = passages
                                })
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
        }
        // Both calls are in the server once one model run waits behind the other.
        try await server.waitUntilModelWorkQueues()
        server.server.shutdown()
        #expect(server.server.health.status(of: "") == .notServing)

        var options = CallOptions.defaults
        options.timeout = .seconds(5)
        let refused = try await server.withClient { client in
            try await rpcError { _ = try await client.info(.init(), metadata: [:], options: options) }
        }
        #expect(refused.code == .unavailable || refused.code == .deadlineExceeded, "\(refused)")

        let responses = try await inFlight.value
        #expect(responses.count == 2)
        #expect(responses.allSatisfy { $0.hits.count == 24 })
        try await server.waitUntilStopped()
    }

    @Test func aCallCutOffAtTheGracesEndCountsAsUnavailable() async throws {
        let server = try await RunningServer.start {
            $0.scheduler.maxQueueMs = 600_000
            $0.shutdownGraceSeconds = 0.2
        }
        let passages = try Fixtures.messages(200)
        let inFlight = Task {
            try await server.withClient { client in
                try await rpcError {
                    _ = try await client.rerank(
                        .with {
                            $0.query = "chess"; $0.passages = passages
                        })
                }
            }
        }
        try await server.waitUntilModelWorkQueues()
        server.server.shutdown()
        let error = try await inFlight.value
        // The transport resets the stream (the client reads UNAVAILABLE or CANCELLED from that);
        // the server's own count says it gave up, not the caller.
        #expect(error.code == .unavailable || error.code == .cancelled, "\(error)")
        try await server.waitUntilStopped()
        let metrics = String(decoding: server.server.metrics.render(), as: UTF8.self)
        #expect(metrics.contains(#"cascade_requests_total{method="Rerank",code="UNAVAILABLE"} 1"#), "\(metrics)")
    }

    @Test func metricsShowStageHistogramsAndCounts() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        try await server.withClient { client in
            _ = try await client.search(
                .with {
                    $0.query = "chess"; $0.retrieveK = 20; $0.rerankK = 4
                })
            _ = try await client.search(
                .with {
                    $0.query = "chess"; $0.rerankK = 0
                })
            _ = try? await client.search(.with { $0.query = "" })
        }
        let text = try server.scrapeMetrics()
        #expect(text.hasPrefix("HTTP/1.1 200") || text.hasPrefix("HTTP/1.0 200"))
        for stage in ["queue", "tokenize", "encode", "retrieve", "fetch", "rerank", "total"] {
            #expect(
                text.contains(#"cascade_stage_duration_seconds_bucket{method="Search",stage="\#(stage)""#),
                "no \(stage) histogram")
        }
        #expect(text.contains(#"cascade_stage_duration_seconds_count{method="Search",stage="encode"} 2"#))
        #expect(text.contains(#"cascade_stage_duration_seconds_count{method="Search",stage="rerank"} 1"#))
        #expect(text.contains(#"cascade_requests_total{method="Search",code="OK"} 2"#))
        #expect(text.contains(#"cascade_requests_total{method="Search",code="INVALID_ARGUMENT"} 1"#))
        #expect(text.contains("cascade_queue_depth 0"))
        #expect(try httpGet(port: server.metricsPort ?? 0, path: "/nope").hasPrefix("HTTP/1.0 404"))
        try await server.stop()
    }
}
