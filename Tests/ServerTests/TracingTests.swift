import CascadeAPI
import GRPCCore
import InMemoryTracing
import Server
import Testing
import Tracing

/// Spans of real calls on a real server, recorded by swift-distributed-tracing's in-memory tracer
/// (the OTLP export and W3C headers are checked end to end by scripts/e2e.sh).
@Suite struct TracingTests {
    @Test func aSearchContinuesTheCallersTraceWithASpanPerStage() async throws {
        let tracer = InMemoryTracer()
        let server = try await RunningServer.start(tracing: RequestTracing(tracer: tracer))
        // The caller's trace, in the headers this tracer propagates with.
        var metadata: Metadata = [:]
        metadata.addString("caller-trace", forKey: InMemoryTracer.traceIDKey)
        metadata.addString("caller-span", forKey: InMemoryTracer.spanIDKey)
        let response = try await server.withClient { client in
            try await client.search(
                .with {
                    $0.query = "chess"; $0.retrieveK = 20; $0.rerankK = 4; $0.topN = 3
                }, metadata: metadata)
        }
        #expect(response.hits.count == 3)
        try await server.stop()

        let spans = tracer.finishedSpans
        let calls = spans.filter { $0.operationName == "cascade.v1.Cascade/Search" }
        try #require(calls.count == 1, "\(spans.map(\.operationName))")
        let call = calls[0]
        #expect(call.kind == .server)
        #expect(call.traceID == "caller-trace" && call.parentSpanID == "caller-span")
        #expect(call.attributes["cascade.retrieve_k"]?.toSpanAttribute() == 20)
        #expect(call.attributes["cascade.rerank_k"]?.toSpanAttribute() == 4)
        #expect(call.attributes["cascade.hits"]?.toSpanAttribute() == 3)

        let stages = spans.filter { $0.parentSpanID == call.spanID }
        #expect(stages.allSatisfy { $0.traceID == "caller-trace" })
        // The query's tokens, then (inside the rerank) the pairs' tokens: two tokenize spans.
        #expect(
            stages.map(\.operationName).sorted()
                == ["encode", "fetch", "queue", "rerank", "retrieve", "tokenize", "tokenize"])
        let byName = Dictionary(grouping: stages, by: \.operationName)
        let retrieve = try #require(byName["retrieve"]?.first)
        #expect(retrieve.attributes["cascade.retrieve_k"]?.toSpanAttribute() == 20)
        #expect(retrieve.attributes["cascade.hits"]?.toSpanAttribute() == 20)
        let rerank = try #require(byName["rerank"]?.first)
        #expect(rerank.attributes["cascade.scored"]?.toSpanAttribute() == 4)
        // Each model batch that held some of the 4 pairs is a child of the rerank span.
        let batches = spans.filter { $0.parentSpanID == rerank.spanID }
        #expect(!batches.isEmpty && batches.allSatisfy { $0.operationName == "rerank.batch" })
        let rows = batches.compactMap { $0.attributes["cascade.rows"]?.toSpanAttribute() }
        #expect(rows.count == batches.count)
        #expect(rows.reduce(into: 0) { total, row in if case .int64(let n) = row { total += Int(n) } } == 4)
        for stage in stages {
            #expect(stage.startInstant.nanosecondsSinceEpoch <= stage.endInstant.nanosecondsSinceEpoch)
        }
        let encode = try #require(byName["encode"]?.first)
        #expect(retrieve.startInstant.nanosecondsSinceEpoch >= encode.endInstant.nanosecondsSinceEpoch)
    }

    @Test func aFailedCallIsAnErrorSpan() async throws {
        let tracer = InMemoryTracer()
        let server = try await RunningServer.start(tracing: RequestTracing(tracer: tracer))
        _ = try await server.withClient { client in
            try await rpcError { _ = try await client.search(.with { $0.query = "" }) }
        }
        try await server.stop()
        let call = try #require(tracer.finishedSpans.first { $0.operationName == "cascade.v1.Cascade/Search" })
        #expect(call.status?.code == .error)
        #expect(call.attributes["rpc.grpc.status_code"]?.toSpanAttribute() == 3)  // INVALID_ARGUMENT
        #expect(tracer.finishedSpans.allSatisfy { $0.operationName == "cascade.v1.Cascade/Search" })
    }
}
