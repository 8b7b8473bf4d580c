import Foundation
import Testing

@testable import Evaluation

/// expected.json, written by scripts/fixtures/make_eval_fixtures.py from pytrec_eval.
private struct Expected: Decodable {
    struct Case: Decodable {
        let qrels: String
        let run: String
        let per_query: [String: [String: Double]]
        let mean: [String: Double]
        let mean_complete: [String: Double]
        let evaluated_queries: Int
        let judged_queries: Int
    }
    let cases: [Case]

    static func load() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Fixtures.url("expected.json")))
    }
}

private let pytrecNames: [Measure: String] = [
    .mrrAt10: "mrr_10", .ndcgAt10: "ndcg_cut_10", .recallAt10: "recall_10", .recallAt100: "recall_100",
    .recallAt1000: "recall_1000", .map: "map",
]

/// Same algorithm and summation order as trec_eval; only the last bits of a mean may differ.
private let tolerance = 1e-12

private func expectClose(_ actual: Scores, _ expected: [String: Double], _ context: String) {
    for measure in Measure.allCases {
        let want = expected[pytrecNames[measure]!]!
        #expect(
            abs(actual[measure] - want) <= tolerance, "\(context) \(measure.rawValue): \(actual[measure]) vs \(want)")
    }
}

@Test(arguments: [
    ("qrels_binary.txt", "run_a.txt"), ("qrels_binary.txt", "run_b.txt"),
    ("qrels_graded.txt", "run_a.txt"), ("qrels_graded.txt", "run_b.txt"),
])
func perQueryAndMeanMatchPytrecEval(qrelsName: String, runName: String) throws {
    let expected = try #require(try Expected.load().cases.first { $0.qrels == qrelsName && $0.run == runName })
    let qrels = try Qrels.read(from: Fixtures.url(qrelsName))
    let run = try Run.read(from: Fixtures.url(runName))
    let report = try Evaluator(qrels: qrels).evaluate(run)

    #expect(Set(report.perQuery.map(\.queryID.rawValue)) == Set(expected.per_query.keys))
    #expect(report.perQuery.count == expected.evaluated_queries)
    for evaluation in report.perQuery {
        let want = try #require(expected.per_query[evaluation.queryID.rawValue])
        expectClose(evaluation.scores, want, "\(qrelsName) \(runName) \(evaluation.queryID)")
    }
    expectClose(report.mean, expected.mean, "\(qrelsName) \(runName) mean")
    expectClose(report.meanOverJudged, expected.mean_complete, "\(qrelsName) \(runName) mean -c")
    #expect(report.perQuery.count + report.unretrievedQueries.count == expected.judged_queries)
}

@Test func fixtureCoversTheCornerCases() throws {
    let qrels = try Qrels.read(from: Fixtures.url("qrels_graded.txt"))
    let run = try Run.read(from: Fixtures.url("run_b.txt"))
    let report = try Evaluator(qrels: qrels).evaluate(run)
    #expect(report.unjudgedQueries == ["q900", "q901"])
    #expect(report.unretrievedQueries == ["q17", "q3", "q33"])
    #expect(report.perQuery.contains { $0.relevantCount == 0 })
    #expect(report.perQuery.contains { $0.retrievedCount > 1000 })
    #expect(qrels.queryIDs.contains { id in qrels.judgments(for: id).contains { $0.relevance < 0 } })
    let tied = run.queryIDs.contains { id in
        let scores = run.ranking(for: id)!.ordered.prefix(10).map(\.score)
        return Set(scores).count < scores.count
    }
    #expect(tied)
}

@Test func scoreTiesAreBrokenByDocnoDescendingInByteOrder() throws {
    let ranking = try Ranking(
        queryID: "q",
        documents: [
            .init(documentID: "d7", score: 1), .init(documentID: "d70", score: 1),
            .init(documentID: "D9", score: 1), .init(documentID: "zz", score: 0.5),
            .init(documentID: "a", score: 2),
        ])
    #expect(ranking.ordered.map(\.documentID.rawValue) == ["a", "d70", "d7", "D9", "zz"])
}

@Test func handComputedGradedQuery() throws {
    // Ranked: x(rel 0), y(2), unjudged, z(1); the qrels also hold w(3), never retrieved.
    let qrels = try Qrels([
        Judgment(queryID: "q", documentID: "x", relevance: 0), Judgment(queryID: "q", documentID: "y", relevance: 2),
        Judgment(queryID: "q", documentID: "z", relevance: 1), Judgment(queryID: "q", documentID: "w", relevance: 3),
    ])
    let ranking = try Ranking(queryID: "q", orderedDocumentIDs: ["x", "y", "u", "z"])
    let scores = try #require(Evaluator(qrels: qrels).evaluate(ranking)).scores
    #expect(scores.mrrAt10 == 0.5)
    let dcg = 2 / log2(3.0) + 1 / log2(5.0)
    let ideal = 3 + 2 / log2(3.0) + 1 / log2(4.0)
    #expect(abs(scores.ndcgAt10 - dcg / ideal) < 1e-15)
    #expect(scores.recallAt10 == 2.0 / 3.0)
    #expect(abs(scores.map - (1.0 / 2 + 2.0 / 4) / 3) < 1e-15)
}

@Test func reciprocalRankCountsOnlyTheTopTen() throws {
    let qrels = try Qrels([Judgment(queryID: "q", documentID: "hit", relevance: 1)])
    let evaluator = Evaluator(qrels: qrels)
    let misses = (1...10).map { DocumentID("miss\($0)") }
    let atEleven = try Ranking(queryID: "q", orderedDocumentIDs: misses + ["hit"])
    let atTen = try Ranking(queryID: "q", orderedDocumentIDs: Array(misses.dropLast()) + ["hit"])
    #expect(evaluator.evaluate(atEleven)?.scores.mrrAt10 == 0)
    #expect(evaluator.evaluate(atTen)?.scores.mrrAt10 == 0.1)
    #expect(evaluator.evaluate(atEleven)?.scores.recallAt100 == 1)
}

@Test func noQueriesInCommonIsAnError() throws {
    let qrels = try Qrels([Judgment(queryID: "q1", documentID: "d", relevance: 1)])
    let run = try Run(tag: "t", rankings: [Ranking(queryID: "q2", orderedDocumentIDs: ["d"])])
    #expect(throws: EvaluationError.noQueriesInCommon(judged: 1, retrieved: 1)) {
        try Evaluator(qrels: qrels).evaluate(run)
    }
    #expect(
        EvaluationError.noQueriesInCommon(judged: 1, retrieved: 1).description
            == "no query is both judged (1 in the qrels) and retrieved (1 in the run)")
}
