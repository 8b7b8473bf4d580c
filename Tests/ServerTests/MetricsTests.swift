import Cascade
import Foundation
import Testing

@testable import Server

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite struct MetricsTests {
    @Test func recordsCountsAndStageHistograms() {
        let metrics = ServerMetrics()
        var trace = Trace()
        trace.encode = .milliseconds(3)
        trace.total = .milliseconds(4)
        metrics.record(method: "Search", code: nil, trace: trace)
        metrics.record(method: "Search", code: .invalidArgument, trace: nil)
        metrics.observeQueueDepth { 3 }
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"cascade_requests_total{method="Search",code="OK"} 1"#))
        #expect(text.contains(#"cascade_requests_total{method="Search",code="INVALID_ARGUMENT"} 1"#))
        #expect(text.contains(#"cascade_stage_duration_seconds_count{method="Search",stage="encode"} 1"#))
        #expect(text.contains(#"cascade_stage_duration_seconds_count{method="Search",stage="total"} 1"#))
        // Stages the call did not run are not recorded.
        #expect(!text.contains(#"stage="rerank""#))
        #expect(text.contains("cascade_queue_depth 3"))
    }

    @Test func servesMetricsOverHTTP() async throws {
        let metrics = ServerMetrics()
        metrics.record(method: "Info", code: nil, trace: nil)
        let server = try await MetricsHTTPServer.start(host: "127.0.0.1", port: 0) { metrics.render() }
        defer { Task { await server.stop() } }
        #expect(server.port > 0)
        let (body, response) = try await URLSession.shared.data(
            from: URL(string: "http://127.0.0.1:\(server.port)/metrics")!)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.statusCode == 200)
        #expect(http.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(String(decoding: body, as: UTF8.self).contains(#"cascade_requests_total{method="Info",code="OK"} 1"#))
        let (_, missing) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(server.port)/")!)
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)
        await server.stop()
    }
}
