import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import Server
import Testing
import VectorStore

/// Every RPC against a real server: real MiniLM retriever, MiniLM + seeded head reranker, real LMDB.
@Suite struct RPCTests {
    static let query = "tool to check ABI changes of a C++ library"

    /// What a direct store search (no server, no pipeline) returns for `query`.
    static func directSearch(_ server: RunningServer, _ query: String, k: Int) throws -> [Hit] {
        let retriever = try Fixtures.shared().retriever
        let vector = try retriever.embed(retriever.encode([query]))[0]
        return try server.pipeline.store.search(vector, k: k)
    }

    @Test func searchRetrievalOnlyMatchesTheStore() async throws {
        let server = try await RunningServer.start()
        let response = try await server.withClient { client in
            try await client.search(
                .with {
                    $0.query = Self.query
                    $0.retrieveK = 50
                    $0.rerankK = 0
                    $0.topN = 10
                    $0.includeText = true
                })
        }
        try await server.stop()
        let direct = try Self.directSearch(server, Self.query, k: 50)
        #expect(response.hits.count == 10)
        #expect((response.retrieveK, response.rerankK, response.topN) == (50, 0, 10))
        #expect(response.hits.map(\.id) == direct.prefix(10).map(\.id))
        let texts = Dictionary(uniqueKeysWithValues: try Fixtures.shared().passages.map { ($0.id, $0.text) })
        for (index, hit) in response.hits.enumerated() {
            #expect(!hit.hasRerankScore)
            #expect(hit.rank == UInt32(index + 1))
            #expect(hit.retrievalRank == UInt32(index + 1))
            #expect(abs(hit.retrievalScore - direct[index].score) < 1e-5)
            #expect(hit.score == hit.retrievalScore)
            #expect(hit.text == texts[hit.id])
        }
        #expect(response.hits.first?.id == "abi-monitor")
        let timing = response.timing
        #expect(timing.encodeUs > 0 && timing.retrieveUs > 0 && timing.totalUs > 0)
        #expect(timing.rerankUs == 0)
        #expect(timing.totalUs >= timing.encodeUs + timing.retrieveUs)
    }

    @Test func searchWithRerankPutsRerankedHitsFirst() async throws {
        let server = try await RunningServer.start()
        let response = try await server.withClient { client in
            try await client.search(
                .with {
                    $0.query = Self.query
                    $0.retrieveK = 40
                    $0.rerankK = 10
                    $0.topN = 20
                })
        }
        try await server.stop()
        let direct = try Self.directSearch(server, Self.query, k: 40)
        let directScores = Dictionary(uniqueKeysWithValues: direct.map { ($0.id, $0.score) })
        #expect(response.hits.count == 20)
        let reranked = Array(response.hits.prefix(10))
        let rest = Array(response.hits.dropFirst(10))
        // The reranked block is exactly the retrieval top 10, ordered by rerank score.
        #expect(Set(reranked.map(\.id)) == Set(direct.prefix(10).map(\.id)))
        #expect(reranked.allSatisfy { $0.hasRerankScore && $0.score == $0.rerankScore })
        #expect(zip(reranked, reranked.dropFirst()).allSatisfy { $0.rerankScore >= $1.rerankScore })
        // The rest keep retrieval order, unscored by the reranker.
        #expect(rest.map(\.id) == direct[10..<20].map(\.id))
        #expect(rest.allSatisfy { !$0.hasRerankScore && $0.score == $0.retrievalScore })
        #expect(rest.map(\.retrievalRank) == Array(11...20))
        for hit in response.hits {
            #expect(abs(hit.retrievalScore - (directScores[hit.id] ?? .nan)) < 1e-5)
            #expect(Int(hit.retrievalRank) == (direct.firstIndex { $0.id == hit.id } ?? -1) + 1)
        }
        #expect(response.hits.map(\.rank) == Array(1...20))
        #expect(response.hits.allSatisfy { $0.text.isEmpty })  // include_text was false
        // The rerank scores are the cross-encoder's, computed directly.
        let shared = try Fixtures.shared()
        let texts = Dictionary(uniqueKeysWithValues: shared.passages.map { ($0.id, $0.text) })
        let expected = try shared.reranker.score(
            shared.reranker.encode(query: Self.query, passages: reranked.map { texts[$0.id] ?? "" }))
        for (hit, score) in zip(reranked, expected) { #expect(abs(hit.rerankScore - score) < 1e-4) }
        #expect(response.timing.rerankUs > 0 && response.timing.encodeUs > 0)
    }

    @Test func searchDefaultsComeFromTheServer() async throws {
        let server = try await RunningServer.start { $0.defaults = SearchDefaults(retrieveK: 30, rerankK: 5, topN: 7) }
        let response = try await server.withClient { client in
            try await client.search(.with { $0.query = Self.query })
        }
        try await server.stop()
        #expect((response.retrieveK, response.rerankK, response.topN) == (30, 5, 7))
        #expect(response.hits.count == 7)
        #expect(response.hits.prefix(5).allSatisfy { $0.hasRerankScore })
        #expect(!response.hits[5].hasRerankScore)
    }

    @Test func embedEqualsTheRetriever() async throws {
        let server = try await RunningServer.start()
        let texts = ["a spelling checker", "play chess against the computer", "fast JSON parser for C"]
        let response = try await server.withClient { client in
            try await client.embed(.with { $0.texts = texts })
        }
        try await server.stop()
        let retriever = try Fixtures.shared().retriever
        let expected = try retriever.embed(retriever.encode(texts))
        #expect(response.dimension == 384)
        #expect(response.embeddings.count == 3)
        for (got, want) in zip(response.embeddings, expected) {
            #expect(got.values.count == 384)
            #expect(zip(got.values, want).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        #expect(response.timing.encodeUs > 0)
    }

    @Test func rerankOrdersByCrossEncoderScore() async throws {
        let server = try await RunningServer.start()
        let passages = Array(try Fixtures.shared().passages.prefix(12))
        let response = try await server.withClient { client in
            try await client.rerank(
                .with {
                    $0.query = Self.query
                    $0.passages = passages.map { passage in
                        .with {
                            $0.id = passage.id; $0.text = passage.text
                        }
                    }
                    $0.topN = 5
                })
        }
        try await server.stop()
        let reranker = try Fixtures.shared().reranker
        let scores = try reranker.score(reranker.encode(query: Self.query, passages: passages.map(\.text)))
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        #expect(response.hits.count == 5)
        #expect(response.hits.map(\.index) == order.prefix(5).map { UInt32($0) })
        #expect(response.hits.map(\.id) == order.prefix(5).map { passages[$0].id })
        #expect(response.hits.map(\.rank) == [1, 2, 3, 4, 5])
        for hit in response.hits { #expect(abs(hit.score - scores[Int(hit.index)]) < 1e-4) }
        #expect(response.timing.rerankUs > 0)
    }

    @Test func upsertThenSearchFindsItThenDeleteRemovesIt() async throws {
        let server = try await RunningServer.start()
        let passage = Cascade_V1_Passage.with {
            $0.id = "zz-teapot"
            $0.text = "A descaling utility for quantum teapots: removes limescale from entangled kettles."
        }
        let query = "remove limescale from a quantum teapot"
        let (upserted, found, deleted, gone) = try await server.withClient { client in
            let upserted = try await client.upsert(.with { $0.passages = [passage] })
            let found = try await client.search(
                .with {
                    $0.query = query; $0.rerankK = 0; $0.topN = 3
                })
            let deleted = try await client.delete(.with { $0.ids = ["zz-teapot"] })
            let gone = try await client.search(
                .with {
                    $0.query = query; $0.rerankK = 0; $0.topN = 3
                })
            return (upserted, found, deleted, gone)
        }
        try await server.stop()
        #expect(upserted.upserted == 1)
        #expect(upserted.corpusSize == UInt64(Fixtures.corpusSize + 1))
        #expect(upserted.timing.encodeUs > 0 && upserted.timing.writeUs > 0)
        #expect(found.hits.first?.id == "zz-teapot")
        #expect(deleted.deleted == 1)
        #expect(deleted.corpusSize == UInt64(Fixtures.corpusSize))
        #expect(!gone.hits.map(\.id).contains("zz-teapot"))
        #expect(try server.pipeline.store.passage(id: "zz-teapot") == nil)
    }

    @Test func infoDescribesModelsCorpusAndLimits() async throws {
        let server = try await RunningServer.start { $0.limits.queueCapacity = 9 }
        let info = try await server.withClient { client in try await client.info(.init()) }
        try await server.stop()
        #expect(info.version == CascadeServer.version)
        #expect(info.retriever.name == "all-MiniLM-L6-v2")
        #expect(info.retriever.architecture == "BertModel")
        #expect(info.retriever.dimension == 384)
        #expect(info.retriever.pooling == "mean" && info.retriever.normalize)
        #expect(info.hasReranker && info.reranker.name == "all-MiniLM-L6-v2+model.safetensors")
        #expect(info.corpus.size == UInt64(Fixtures.corpusSize))
        #expect(info.corpus.similarity == "cosine")
        #expect(info.limits.queueCapacity == 9 && info.limits.maxRetrieveK == 1000)
        #expect((info.defaults.retrieveK, info.defaults.rerankK, info.defaults.topN) == (100, 20, 10))
    }

    @Test func healthServesAndEveryRequestLogsOneLine() async throws {
        let log = CapturedLog()
        let server = try await RunningServer.start(logger: log.logger) { $0.logLevel = "info" }
        var metadata: Metadata = [:]
        metadata.addString("req-42", forKey: "x-request-id")
        let (health, echoed) = try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: server.port), transportSecurity: .plaintext)
        ) { client in
            let health = try await Grpc_Health_V1_Health.Client(wrapping: client).check(
                .with { $0.service = "cascade.v1.Cascade" })
            let echoed = try await Cascade_V1_Cascade.Client(wrapping: client).search(
                .with {
                    $0.query = Self.query; $0.rerankK = 3; $0.retrieveK = 10
                }, metadata: metadata
            ) { response in response.metadata[stringValues: "x-request-id"].first(where: { _ in true }) }
            return (health.status, echoed)
        }
        try await server.stop()
        #expect(health == .serving)
        #expect(echoed == "req-42")
        let rpcLines = log.all.filter { $0.message == "rpc" }
        #expect(rpcLines.count == 1)
        let line = try #require(rpcLines.first)
        #expect(line.metadata["request_id"] == "req-42")
        #expect(line.metadata["method"] == "Search")
        #expect(line.metadata["code"] == "OK")
        for stage in ["tokenize_us", "encode_us", "retrieve_us", "fetch_us", "rerank_us", "total_us"] {
            #expect(Int(line.metadata[stage] ?? "") ?? 0 > 0, "log line lacks \(stage): \(line.metadata)")
        }
    }
}
