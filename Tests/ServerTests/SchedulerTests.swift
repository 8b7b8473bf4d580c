import CascadeAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing

@testable import Cascade

/// The model scheduler as callers see it, on a real server with the real model.
@Suite struct SchedulerTests {
    /// The value of one sample line of the Prometheus exposition, 0 when absent.
    static func metric(_ text: String, _ line: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(line + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// The sum of every sample of one metric, whatever its labels.
    static func total(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
    }

    static let queries = [
        "chess", "spelling corrector", "image viewer", "music player", "network monitor", "python library",
        "web server", "text editor", "compression tool", "database client", "font package", "game engine",
    ]

    @Test func concurrentQueriesShareForwardPassesAndAnswerAsAlone() async throws {
        // Admission is not what this tests: a slow, shared machine must not refuse the searches.
        let server = try await RunningServer.start {
            $0.metricsPort = 0
            $0.scheduler.maxQueueMs = 60_000
        }
        let alone = try await server.withClient { client in
            var responses: [Cascade_V1_SearchResponse] = []
            for query in Self.queries {
                responses.append(
                    try await client.search(
                        .with {
                            $0.query = query; $0.retrieveK = 20; $0.rerankK = 0; $0.topN = 20
                        }))
            }
            return responses
        }
        let passesBefore = Self.metric(try server.scrapeMetrics(), #"cascade_batch_rows_count{class="query"}"#)
        #expect(passesBefore >= Double(Self.queries.count))

        let passages = try Fixtures.messages(8)
        let together = try await server.withClient { client in
            // A rerank holds the model while the searches arrive, so they wait together.
            async let busy = client.rerank(
                .with {
                    $0.query = "a long rerank"; $0.passages = passages
                })
            try await Task.sleep(for: .milliseconds(20))
            let responses = try await withThrowingTaskGroup(of: (Int, Cascade_V1_SearchResponse).self) { group in
                for (index, query) in Self.queries.enumerated() {
                    group.addTask {
                        (
                            index,
                            try await client.search(
                                .with {
                                    $0.query = query; $0.retrieveK = 20; $0.rerankK = 0; $0.topN = 20
                                })
                        )
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            _ = try await busy
            return Self.queries.indices.map { responses[$0]! }
        }
        let passes =
            Self.metric(try server.scrapeMetrics(), #"cascade_batch_rows_count{class="query"}"#) - passesBefore
        #expect(passes < Double(Self.queries.count), "\(Self.queries.count) queries took \(passes) forward passes")
        for (one, batched) in zip(alone, together) {
            #expect(one.hits.map(\.id) == batched.hits.map(\.id))
            for (a, b) in zip(one.hits, batched.hits) { #expect(abs(a.score - b.score) <= 1e-5) }
        }
        try await server.stop()
    }

    @Test func aRetrievalOnlySearchRunsBetweenTheLayersOfALongRerank() async throws {
        // One rerank pass for the whole call: without pausing between layers, the search would
        // wait for all of it.
        let server = try await RunningServer.start {
            $0.metricsPort = 0
            $0.scheduler.rerankBatchTokens = 1 << 20
            $0.scheduler.maxQueueMs = 60_000
        }
        let passages = try Fixtures.messages(48)
        let (rerankEnded, searchEnded, search) = try await server.withClient { client in
            async let rerank: ContinuousClock.Instant = {
                _ = try await client.rerank(
                    .with {
                        $0.query = "a long rerank"; $0.passages = passages
                    })
                return ContinuousClock.now
            }()
            try await Task.sleep(for: .milliseconds(30))
            let search = try await client.search(
                .with {
                    $0.query = "music player"; $0.retrieveK = 100; $0.rerankK = 0
                })
            let searchEnded = ContinuousClock.now
            return (try await rerank, searchEnded, search)
        }
        #expect(searchEnded < rerankEnded, "the search waited for the whole rerank pass")
        let metrics = try server.scrapeMetrics()
        #expect(Self.metric(metrics, #"cascade_batch_requests_count{class="rerank"}"#) == 1)
        #expect(search.hits.count == 10)
        try await server.stop()
    }

    @Test func aFloodIsRefusedBeforeModelWorkAndEveryAdmittedCallMeetsItsDeadline() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        // Deadlines in units of this machine's speed: about four searches' worth each.
        let alone = try await server.withClient { client in
            try await client.search(
                .with {
                    $0.query = "calibrate"; $0.retrieveK = 100; $0.rerankK = 20
                })
        }
        let rowsBefore = try server.scrapeMetrics()
        var deadline = CallOptions.defaults
        deadline.timeout = .microseconds(Int64(max(alone.timing.totalUs * 4, 500_000)))
        let options = deadline
        let outcomes = try await server.withClient { client in
            _ = try await client.info(.init())
            return try await withThrowingTaskGroup(of: (RPCError.Code?, Duration).self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let start = ContinuousClock.now
                        do {
                            // Distinct queries: no call is helped by another's cached scores.
                            _ = try await client.search(
                                .with {
                                    $0.query = "flood \(index) " + Self.queries[index % Self.queries.count]
                                    $0.retrieveK = 100; $0.rerankK = 20
                                }, metadata: [:], options: options)
                            return (nil, start.duration(to: .now))
                        } catch let error as RPCError {
                            return (error.code, start.duration(to: .now))
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        let ok = outcomes.filter { $0.0 == nil }.count
        let refused = outcomes.filter { $0.0 == .resourceExhausted }
        #expect(ok >= 1, "\(outcomes)")
        #expect(!refused.isEmpty, "24 searches fit in four searches' time? \(outcomes)")
        #expect(ok + refused.count == outcomes.count, "an admitted call failed: \(outcomes)")
        let metrics = try server.scrapeMetrics()
        #expect(Self.total(metrics, "cascade_refusals_total") == Double(refused.count))
        // Model work ran for the admitted calls only: one query row and 20 pairs each.
        let query = #"cascade_batch_rows_sum{class="query"}"#
        let rerank = #"cascade_batch_rows_sum{class="rerank"}"#
        #expect(Self.metric(metrics, query) - Self.metric(rowsBefore, query) == Double(ok))
        #expect(Self.metric(metrics, rerank) - Self.metric(rowsBefore, rerank) == Double(ok * 20))
        try await server.stop()
    }

    @Test func aRerankBudgetIsKeptAndTheRerankedCountReported() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        let (full, budgeted, none, budget) = try await server.withClient { client in
            let full = try await client.search(
                .with {
                    $0.query = "chess"; $0.retrieveK = 100; $0.rerankK = 40
                })
            // A budget of about 8 pairs on this machine.
            let budget = UInt32(max(1, full.timing.rerankUs * 8 / 40 / 1000))
            let budgeted = try await client.search(
                .with {
                    $0.query = "music player"; $0.retrieveK = 100; $0.rerankK = 100; $0.rerankBudgetMs = budget
                })
            let none = try await client.search(
                .with {
                    $0.query = "image viewer"; $0.retrieveK = 100; $0.rerankK = 20; $0.rerankBudgetMs = 0
                })
            return (full, budgeted, none, budget)
        }
        #expect(full.reranked == 40)
        #expect(budgeted.reranked >= 1 && budgeted.reranked < 100, "reranked \(budgeted.reranked)")
        // The stated tolerance: the rerank stage within twice its budget (estimates run ahead of
        // a machine that slows down between batches).
        #expect(
            budgeted.timing.rerankUs <= UInt64(budget) * 2000,
            "rerank took \(budgeted.timing.rerankUs) µs for a \(budget) ms budget")
        #expect(budgeted.hits.filter(\.hasRerankScore).count == min(Int(budgeted.reranked), 10))
        #expect(none.reranked == 0 && none.hits.allSatisfy { !$0.hasRerankScore })
        let metrics = try server.scrapeMetrics()
        #expect(Self.metric(metrics, "cascade_rerank_budget_cuts_total") == 2)
        try await server.stop()
    }

    @Test func aRepeatedSearchRerankNothingNewAndAnUpsertMakesItsOldScoresUnreachable() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        func search(_ client: Cascade_V1_Cascade.Client<HTTP2ClientTransport.Posix>, _ rerankK: UInt32)
            async throws -> Cascade_V1_SearchResponse
        {
            try await client.search(
                .with {
                    $0.query = "chess"; $0.retrieveK = 50; $0.rerankK = rerankK; $0.topN = 20
                })
        }
        try await server.withClient { client in
            let first = try await search(client, 10)
            let rowsAfterFirst = Self.metric(try server.scrapeMetrics(), #"cascade_batch_rows_sum{class="rerank"}"#)
            let second = try await search(client, 10)
            #expect(first.reranked == 10 && first.rerankCacheHits == 0)
            #expect(second.reranked == 10 && second.rerankCacheHits == 10)
            #expect(first.hits.map(\.id) == second.hits.map(\.id))
            #expect(first.hits.map(\.rerankScore) == second.hits.map(\.rerankScore))
            #expect(
                Self.metric(try server.scrapeMetrics(), #"cascade_batch_rows_sum{class="rerank"}"#) == rowsAfterFirst)

            let deeper = try await search(client, 20)
            #expect(deeper.reranked == 20 && deeper.rerankCacheHits == 10)

            // Changing the best passage's text changes its key: its next score is computed anew.
            let best = try #require(first.hits.first)
            let stored = try #require(try server.pipeline.store.passage(id: best.id))
            _ = try await client.upsert(
                .with {
                    $0.passages = [
                        .with {
                            $0.id = best.id
                            $0.text = stored.text + " Chess chess chess."
                        }
                    ]
                })
            let after = try await search(client, 10)
            try #require(after.hits.prefix(10).contains { $0.id == best.id }, "the updated passage left the top 10")
            #expect(after.reranked == 10 && after.rerankCacheHits == 9)
        }
        try await server.stop()
    }

    /// A repeated search is priced as the little model work it is: a deadline that its first run
    /// could not meet is admitted once its pairs are cached.
    @Test func aRepeatedSearchIsPricedWithoutItsCachedPairs() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        let request = Cascade_V1_SearchRequest.with {
            $0.query = "chess"; $0.retrieveK = 100; $0.rerankK = 100
        }
        let tight = try await server.withClient { client in
            let first = try await client.search(request)
            #expect(first.reranked == 100 && first.rerankCacheHits == 0)
            // A tenth of what the first run took: refused for an uncached query of the same depth.
            var options = CallOptions.defaults
            options.timeout = .microseconds(max(first.timing.totalUs / 10, 50_000))
            return options
        }
        let (fresh, repeated) = try await server.withClient { client in
            let fresh = try await rpcError {
                var other = request
                other.query = "chess engine"
                _ = try await client.search(other, metadata: [:], options: tight)
            }
            return (fresh, try await client.search(request, metadata: [:], options: tight))
        }
        #expect(fresh.code == .resourceExhausted, "\(fresh)")
        #expect(repeated.reranked == 100 && repeated.rerankCacheHits == 100)
        try await server.stop()
    }

    /// The cost model learns only from admitted work. Figures learnt while the machine was slow
    /// must not refuse, forever, callers whose deadlines fit it now: an idle server that refuses
    /// measures its models again, and a caller's own Rerank passages do not price searches.
    @Test func anIdleServerThatRefusesRelearnsAStaleEstimate() async throws {
        let server = try await RunningServer.start { $0.metricsPort = 0 }
        let scheduler = server.pipeline.scheduler
        func search(_ query: String, timeout: Duration)
            -> @Sendable (Cascade_V1_Cascade.Client<HTTP2ClientTransport.Posix>) async throws ->
            Cascade_V1_SearchResponse
        {
            { client in
                var options = CallOptions.defaults
                options.timeout = timeout
                return try await client.search(
                    .with {
                        $0.query = query; $0.retrieveK = 50; $0.rerankK = 10
                    }, metadata: [:], options: options)
            }
        }
        let alone = try await server.withClient(search("chess", timeout: .seconds(60)))
        let pairTokens = scheduler.expectedTokensPerPair
        let long = String(repeating: "a long passage about chess openings and endgames ", count: 40)
        _ = try await server.withClient { client in
            try await client.rerank(
                .with {
                    $0.query = "chess"
                    $0.passages = (0..<4).map { index in
                        .with {
                            $0.id = "long\(index)"; $0.text = long
                        }
                    }
                })
        }
        #expect(scheduler.expectedTokensPerPair == pairTokens, "a Rerank call's passages priced searches")

        // As if learnt while another process had the cores: every model 50 times slower.
        scheduler.core.state.withLock { state in
            state.cost.encodeSecondsPerToken *= 50
            state.cost.rerankSecondsPerToken *= 50
            state.lastMeasured = .now - .seconds(10)
        }
        let timeout = Duration.microseconds(max(alone.timing.totalUs * 4, 1_000_000))
        var outcomes: [RPCError.Code?] = []
        for attempt in 0..<50 {
            do {
                _ = try await server.withClient(search("recovery \(attempt)", timeout: timeout))
                outcomes.append(nil)
                break
            } catch let error as RPCError {
                outcomes.append(error.code)
                try #require(error.code == .resourceExhausted, "\(error)")
                #expect(error.message.contains("this request alone would take about"), "\(error)")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(outcomes.first == .resourceExhausted, "the stale estimate refused nothing: \(outcomes)")
        #expect(outcomes.last == .some(nil), "never admitted again: \(outcomes)")
        try await server.stop()
    }
}
