import Foundation
import Testing

@testable import Evaluation

@Test func runRoundTripsThroughATRECFile() throws {
    let dir = try TemporaryDirectory()
    let scores = [0.1, 1e-300, 123456.789, -2.5, 0.30000000000000004, 7]
    let documents = scores.enumerated().map {
        ScoredDocument(documentID: DocumentID("doc\($0.offset)"), score: $0.element)
    }
    let run = try Run(
        tag: "cascade-r100-k20",
        rankings: [
            Ranking(queryID: "q2", documents: documents),
            Ranking(queryID: "q10", orderedDocumentIDs: ["c", "a", "b"]),
        ])
    let url = dir.url.appendingPathComponent("run.trec")
    try run.write(to: url)
    let back = try Run.read(from: url)
    #expect(back.tag == "cascade-r100-k20")
    #expect(back.queryIDs == ["q10", "q2"])
    #expect(back.ranking(for: "q2")?.ordered == run.ranking(for: "q2")?.ordered)
    #expect(back.ranking(for: "q10")?.ordered.map(\.documentID) == ["c", "a", "b"])

    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    #expect(lines.first == "q10 Q0 c 1 3.0 cascade-r100-k20")
    #expect(lines.count == 9)
    // Ranks are rewritten to agree with trec_eval's order.
    #expect(lines.filter { $0.hasPrefix("q2 ") }.map { $0.split(separator: " ")[3] } == ["1", "2", "3", "4", "5", "6"])
}

@Test func orderedIDsKeepTheirOrderWhateverTheScoreScale() throws {
    let ranking = try Ranking(queryID: "q", orderedDocumentIDs: ["z", "a", "m"])
    #expect(ranking.ordered.map(\.documentID) == ["z", "a", "m"])
    #expect(ranking.documents.map(\.score) == [3, 2, 1])
}

@Test func unwritableFieldsAreRejected() throws {
    let spaced = try Run(tag: "my run", rankings: [Ranking(queryID: "q", orderedDocumentIDs: ["d"])])
    #expect(throws: EvaluationError.unwritableField(name: "tag", value: "my run")) { try spaced.trecText() }
    let badDoc = try Run(tag: "t", rankings: [Ranking(queryID: "q", orderedDocumentIDs: ["a b"])])
    #expect(throws: EvaluationError.unwritableField(name: "document id", value: "a b")) { try badDoc.trecText() }
    let badQuery = try Run(tag: "t", rankings: [Ranking(queryID: "", orderedDocumentIDs: ["d"])])
    #expect(throws: EvaluationError.unwritableField(name: "query id", value: "")) { try badQuery.trecText() }
    #expect(
        EvaluationError.unwritableField(name: "tag", value: "my run").description
            == "tag 'my run' cannot be written to a TREC file: it is empty or contains whitespace")
}

@Test func fixtureRunRewrittenByCascadeEvaluatesTheSame() throws {
    let dir = try TemporaryDirectory()
    let qrels = try Qrels.read(from: Fixtures.url("qrels_graded.txt"))
    let original = try Run.read(from: Fixtures.url("run_b.txt"))
    let url = dir.url.appendingPathComponent("copy.trec")
    try original.write(to: url)
    let evaluator = Evaluator(qrels: qrels)
    let a = try evaluator.evaluate(original)
    let b = try evaluator.evaluate(Run.read(from: url))
    #expect(a.perQuery == b.perQuery)
    #expect(a.mean == b.mean)
}
