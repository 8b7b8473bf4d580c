import Foundation
import Testing
import Tokenization

@testable import Cascade

/// The all-MiniLM-L6-v2 tokenizer (env CASCADE_MINILM_DIR or .cache/models/all-MiniLM-L6-v2),
/// loaded once: the text rule is what a real tokenizer reads.
enum MiniLMTokenizer {
    static let shared: Result<BertTokenizer, any Error> = Result {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path =
            ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
            ?? root.appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
        return try BertTokenizer(directory: URL(fileURLWithPath: path))
    }

    static func rules(
        limits: Limits = Limits(), defaults: SearchDefaults = SearchDefaults(), hasReranker: Bool = true
    ) throws -> RequestRules {
        let tokenizer = try shared.get()
        var defaults = defaults
        if !hasReranker { defaults.rerankK = 0 }
        return RequestRules(
            limits: limits, defaults: defaults, retrieverTokenizer: tokenizer,
            rerankerTokenizer: hasReranker ? tokenizer : nil)
    }
}

/// The error message `body` throws, nil when it throws nothing.
func message(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct SearchPlanTests {
    func resolve(_ retrieveK: Int?, _ rerankK: Int?, _ topN: Int?, hasReranker: Bool = true) throws -> SearchPlan {
        try SearchRequest(
            query: "chess engine", retrieveK: retrieveK, rerankK: rerankK, topN: topN,
            rules: MiniLMTokenizer.rules(
                defaults: SearchDefaults(retrieveK: 100, rerankK: 20, topN: 10), hasReranker: hasReranker)
        ).plan
    }

    @Test func unsetFieldsTakeTheDefaults() throws {
        #expect(try resolve(nil, nil, nil) == SearchPlan(retrieveK: 100, rerankK: 20, topN: 10))
    }

    @Test func defaultsBendToFitWhatTheCallerSet() throws {
        #expect(try resolve(5, nil, nil) == SearchPlan(retrieveK: 5, rerankK: 5, topN: 5))
        #expect(try resolve(nil, nil, 300) == SearchPlan(retrieveK: 300, rerankK: 20, topN: 300))
        #expect(try resolve(nil, 150, nil) == SearchPlan(retrieveK: 150, rerankK: 150, topN: 10))
    }

    @Test func rerankZeroMeansRetrievalOnly() throws {
        #expect(try resolve(nil, 0, nil).rerankK == 0)
    }

    @Test func withoutARerankerTheDefaultIsRetrievalOnly() throws {
        #expect(try resolve(nil, nil, nil, hasReranker: false).rerankK == 0)
    }

    @Test func explicitValuesAreValidatedWithTheFieldNamed() {
        #expect(message { _ = try resolve(5000, nil, nil) } == "retrieve_k must be in 1...1000 (got 5000)")
        #expect(message { _ = try resolve(nil, 300, nil) } == "rerank_k must be in 0...200 (got 300)")
        #expect(message { _ = try resolve(20, 50, nil) } == "rerank_k (50) must not exceed retrieve_k (20)")
        #expect(message { _ = try resolve(20, nil, 30) } == "top_n (30) must not exceed retrieve_k (20)")
        #expect(message { _ = try resolve(nil, nil, 2000) } == "top_n must be in 1...1000 (got 2000)")
    }

    @Test func aNegativeRerankBudgetIsRefused() throws {
        let rules = try MiniLMTokenizer.rules()
        #expect(
            message { _ = try SearchRequest(query: "chess", rerankBudget: .milliseconds(-5), rules: rules) }?
                .hasPrefix("rerank_budget_ms must not be negative") == true)
        #expect(try SearchRequest(query: "chess", rerankBudget: .zero, rules: rules).plan.rerankBudget == .zero)
    }

    @Test func errorsCarryTheField() {
        do {
            _ = try resolve(20, 50, nil)
            Issue.record("expected an error")
        } catch let error as CascadeError {
            #expect(error.field == "rerank_k")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func rerankingWithoutARerankerIsAFailedPrecondition() {
        do {
            _ = try resolve(nil, 5, nil, hasReranker: false)
            Issue.record("expected an error")
        } catch let error as CascadeError {
            guard case .failedPrecondition(let text) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(text.contains("no reranker"))
            #expect(text.contains("rerank_k = 0"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func defaultsThatBreakTheLimitsAreAConfigurationError() {
        let bad = SearchDefaults(retrieveK: 10, rerankK: 20, topN: 10)
        #expect(
            message { try bad.validate(against: Limits(), hasReranker: true) }
                == "defaults: rerank_k (20) must not exceed retrieve_k (10)")
    }

    @Test func limitsBelowOneAreRefused() {
        var limits = Limits()
        limits.queueCapacity = 0
        #expect(message { try limits.validate() } == "limits.queue_capacity must be at least 1 (got 0)")
    }
}
