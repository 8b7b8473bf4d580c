import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import Server
import Testing

/// Every refusal the API promises, with its status code and a message naming the field.
@Suite struct ErrorCodeTests {
    static func search(_ configure: (inout Cascade_V1_SearchRequest) -> Void) -> Cascade_V1_SearchRequest {
        var request = Cascade_V1_SearchRequest.with { $0.query = "chess engine" }
        configure(&request)
        return request
    }

    @Test func invalidArgumentsNameTheField() async throws {
        let server = try await RunningServer.start()
        let passages = try Fixtures.shared().passages
        let cases: [(String, Cascade_V1_SearchRequest)] = [
            ("query", Self.search { $0.query = "" }),
            ("query", Self.search { $0.query = "   \n" }),
            ("query", Self.search { $0.query = String(repeating: "chess ", count: 700) }),
            ("retrieve_k", Self.search { $0.retrieveK = 5000 }),
            (
                "rerank_k",
                Self.search {
                    $0.retrieveK = 20; $0.rerankK = 30
                }
            ),
            (
                "rerank_k",
                Self.search {
                    $0.retrieveK = 300; $0.rerankK = 250
                }
            ),
            (
                "top_n",
                Self.search {
                    $0.retrieveK = 10; $0.topN = 11
                }
            ),
        ]
        try await server.withClient { client in
            for (field, request) in cases {
                let error = try await rpcError { _ = try await client.search(request) }
                #expect(error.code == .invalidArgument, "\(field): \(error)")
                #expect(error.message.contains(field), "\(error.message) does not name \(field)")
            }
            let tooMany = (0..<257).map { index in
                Cascade_V1_Passage.with {
                    $0.id = "p\(index)"
                    $0.text = passages[index % passages.count].text
                }
            }
            let rerank = try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess"; $0.passages = tooMany
                    })
            }
            #expect(rerank.code == .invalidArgument)
            #expect(rerank.message.contains("passages") && rerank.message.contains("max_rerank_passages"))

            let emptyText = try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess"; $0.passages = [.with { $0.id = "a" }]
                    })
            }
            #expect(emptyText.code == .invalidArgument && emptyText.message.contains("passages[0].text"))

            let noTexts = try await rpcError { _ = try await client.embed(.init()) }
            #expect(noTexts.code == .invalidArgument && noTexts.message.contains("texts"))

            let badID = try await rpcError {
                _ = try await client.upsert(
                    .with {
                        $0.passages = [
                            .with {
                                $0.id = String(repeating: "x", count: 300); $0.text = "t"
                            }
                        ]
                    })
            }
            #expect(badID.code == .invalidArgument && badID.message.contains("passages[0].id"))

            let unknown = try await rpcError {
                _ = try await client.delete(.with { $0.ids = [passages[0].id, "no-such-package"] })
            }
            #expect(unknown.code == .invalidArgument)
            #expect(unknown.message.contains("no-such-package") && unknown.message.contains("nothing was deleted"))
            // All or nothing: the known id was not deleted either.
            let info = try await client.info(.init())
            #expect(info.corpus.size == UInt64(Fixtures.corpusSize))
            #expect(!info.corpus.readOnly)
        }
        try await server.stop()
        #expect(try server.pipeline.store.passage(id: passages[0].id) != nil)
    }

    @Test func rerankWithoutARerankerIsAFailedPrecondition() async throws {
        let server = try await RunningServer.start(reranker: false)
        try await server.withClient { client in
            let search = try await rpcError { _ = try await client.search(Self.search { $0.rerankK = 5 }) }
            #expect(search.code == .failedPrecondition && search.message.contains("no reranker"))
            let rerank = try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess";
                        $0.passages = [
                            .with {
                                $0.id = "a"; $0.text = "b"
                            }
                        ]
                    })
            }
            #expect(rerank.code == .failedPrecondition)
            // Retrieval alone works, and is the default here.
            let plain = try await client.search(Self.search { _ in })
            #expect(plain.rerankK == 0 && plain.hits.count == 10)
            let info = try await client.info(.init())
            #expect(!info.hasReranker && info.defaults.rerankK == 0)
        }
        try await server.stop()
    }

    @Test func writesToAReadOnlyServerAreAFailedPrecondition() async throws {
        let server = try await RunningServer.start(readOnly: true)
        try await server.withClient { client in
            let upsert = try await rpcError {
                _ = try await client.upsert(
                    .with {
                        $0.passages = [
                            .with {
                                $0.id = "new"; $0.text = "text"
                            }
                        ]
                    })
            }
            #expect(upsert.code == .failedPrecondition && upsert.message.contains("read-only"))
            let delete = try await rpcError { _ = try await client.delete(.with { $0.ids = ["abi-monitor"] }) }
            #expect(delete.code == .failedPrecondition && delete.message.contains("read-only"))
            let search = try await client.search(Self.search { $0.rerankK = 3 })
            #expect(search.hits.count == 10)
            #expect(try await client.info(.init()).corpus.readOnly)
        }
        try await server.stop()
    }

    @Test func aFullModelQueueIsResourceExhausted() async throws {
        let server = try await RunningServer.start {
            $0.limits.queueCapacity = 1
        }
        let passages = try Fixtures.messages(16)
        let codes = try await server.withClient { client in
            try await withThrowingTaskGroup(of: RPCError.Code?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            _ = try await client.rerank(
                                .with {
                                    $0.query = "chess"; $0.passages = passages
                                })
                            return nil
                        } catch let error as RPCError {
                            return error.code
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        try await server.stop()
        #expect(codes.contains(nil), "no rerank succeeded: \(codes)")
        #expect(codes.contains(.resourceExhausted), "no rerank was refused: \(codes)")
        #expect(codes.allSatisfy { $0 == nil || $0 == .resourceExhausted }, "\(codes)")
    }

    @Test func aRerankThatCannotMeetItsDeadlineIsRefusedBeforeAnyModelWork() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        let passages = try Fixtures.shared().passages.map { passage in
            Cascade_V1_Passage.with {
                $0.id = passage.id
                $0.text = passage.text
            }
        }
        let (error, alone) = try await server.withClient { client in
            // The deadline in units of this machine's speed: 8 pairs take `alone`, 120 pairs about
            // 15 times that, and the deadline is 4 times it.
            let alone = try await client.rerank(
                .with {
                    $0.query = "chess"; $0.passages = Array(passages.prefix(8))
                })
            var options = CallOptions.defaults
            options.timeout = .microseconds(Int64(max(alone.timing.rerankUs * 4, 1_000_000)))
            let many = (0..<120).map { index in
                var passage = passages[index % passages.count]
                passage.id = "p\(index)"
                return passage
            }
            let error = try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess tournament"
                        $0.passages = many
                    }, metadata: [:], options: options)
            }
            return (error, alone)
        }
        #expect(error.code == .resourceExhausted, "\(error) (8 pairs took \(alone.timing.rerankUs) µs)")
        // Nothing else was admitted: the message says the call alone is too long for its deadline.
        #expect(
            error.message.contains("this request alone would take about")
                && error.message.contains("give it a later deadline or fewer or shorter passages"), "\(error)")
        #expect(Int(error.metadata[stringValues: "grpc-retry-pushback-ms"].first(where: { _ in true }) ?? "") ?? 0 > 0)
        let metrics = try server.scrapeMetrics()
        #expect(metrics.contains(#"cascade_refusals_total{reason="deadline"} 1"#))
        // No rerank batch ran for it: the 8 pairs of the first call are all there are.
        #expect(metrics.contains(#"cascade_batch_rows_sum{class="rerank"} 8.0"#), "\(metrics)")
        let search = try await server.withClient { client in try await client.search(Self.search { _ in }) }
        #expect(search.hits.count == 10)
        try await server.stop()
    }

    @Test func moreCrossEncoderTokensThanTheCapIsInvalidArgument() async throws {
        let server = try await RunningServer.start { $0.limits.maxRerankTokens = 2000 }
        let text = try Fixtures.shared().passages[0].text
        let passages = (0..<64).map { index in
            Cascade_V1_Passage.with {
                $0.id = "p\(index)"
                $0.text = text
            }
        }
        let (error, scoredFirst) = try await server.withClient { client in
            let error = try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess"
                        $0.passages = passages
                    })
            }
            // The same request with most of its pairs cached is as over the cap: the cap is on
            // what a call sends, not on what the cache happens to hold.
            let first = try await client.rerank(
                .with {
                    $0.query = "chess"
                    $0.passages = Array(passages.prefix(4))
                })
            return (error, first.hits.count)
        }
        #expect(error.code == .invalidArgument && error.message.contains("max_rerank_tokens"), "\(error)")
        #expect(scoredFirst == 4)
        let again = try await server.withClient { client in
            try await rpcError {
                _ = try await client.rerank(
                    .with {
                        $0.query = "chess"
                        $0.passages = passages
                    })
            }
        }
        #expect(again.message == error.message, "\(again)")
        let search = try await server.withClient { client in
            try await rpcError {
                _ = try await client.search(
                    Self.search {
                        $0.retrieveK = 100; $0.rerankK = 100
                    })
            }
        }
        #expect(search.code == .invalidArgument && search.message.contains("max_rerank_tokens"), "\(search)")
        try await server.stop()
    }

    @Test func apiKeyIsRequiredExceptForHealth() async throws {
        let keyFile = try Fixtures.temporaryDirectory("key").appendingPathComponent("key")
        try "s3cret-key\n".write(to: keyFile, atomically: true, encoding: .utf8)
        let server = try await RunningServer.start { $0.apiKeyFile = keyFile.path }
        try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: server.port), transportSecurity: .plaintext)
        ) { grpc in
            let client = Cascade_V1_Cascade.Client(wrapping: grpc)
            let missing = try await rpcError { _ = try await client.info(.init()) }
            #expect(missing.code == .unauthenticated && missing.message.contains("missing API key"))
            let wrong = try await rpcError { _ = try await client.info(.init(), metadata: bearer("s3cret")) }
            #expect(wrong.code == .unauthenticated && wrong.message.contains("invalid API key"))
            let info = try await client.info(.init(), metadata: bearer("s3cret-key"))
            #expect(info.corpus.size == UInt64(Fixtures.corpusSize))
            let health = try await Grpc_Health_V1_Health.Client(wrapping: grpc).check(.init())
            #expect(health.status == .serving)
        }
        try await server.stop()
    }
}
