import Foundation
import Testing

@testable import Evaluation

private func expectInputError(
    _ expected: InputError.Problem, line: Int?, message: String, _ read: (URL) throws -> Void, _ url: URL
) {
    do {
        try read(url)
        Issue.record("expected \(expected)")
    } catch let error as InputError {
        #expect(error.problem == expected)
        #expect(error.line == line)
        #expect(error.file == url.path)
        #expect(error.description == "\(url.path)\(line.map { ":\($0)" } ?? ""): \(message)")
    } catch {
        Issue.record("unexpected \(error)")
    }
}

@Test func qrelsAcceptBlankLinesTabsAndCRLF() throws {
    let dir = try TemporaryDirectory()
    let qrels = try Qrels.read(from: dir.file("q.txt", "q1 0 d1 1\r\n\n  \nq1\t0\td2   2\nq2 Q0 d1 0\n"))
    #expect(qrels.queryIDs == ["q1", "q2"])
    #expect(qrels.relevance(of: "d2", for: "q1") == 2)
    #expect(qrels.relevance(of: "d1", for: "q2") == 0)
    #expect(qrels.relevantCount(for: "q1") == 2)
    #expect(qrels.relevantCount(for: "q2") == 0)
    #expect(qrels.judgmentCount == 3)
}

@Test func qrelsErrorsNameFileAndLine() throws {
    let dir = try TemporaryDirectory()
    let read = { (url: URL) in _ = try Qrels.read(from: url) }
    expectInputError(
        .fieldCount(expected: 4, found: 3), line: 2,
        message: "expected 4 whitespace-separated fields, found 3", read,
        try dir.file("a", "q1 0 d1 1\nq1 0 d2\n"))
    expectInputError(
        .invalidRelevance("1.5"), line: 1, message: "relevance '1.5' is not an integer", read,
        try dir.file("b", "q1 0 d1 1.5\n"))
    expectInputError(
        .duplicateJudgment("q1", "d1", firstLine: 1), line: 3,
        message: "document 'd1' judged twice for query 'q1' (first on line 1)", read,
        try dir.file("c", "q1 0 d1 1\nq2 0 d1 1\nq1 0 d1 0\n"))
    expectInputError(
        .noEntries, line: nil, message: "no entries (the file is empty or only blank lines)", read,
        try dir.file("d", "\n \n"))
    expectInputError(
        .invalidUTF8, line: 2, message: "invalid UTF-8", read,
        try dir.file("e", bytes: Array("q1 0 d1 1\nq1 0 d".utf8) + [0xFF, 0xFE] + Array(" 1\n".utf8)))
}

@Test func missingFileIsReported() throws {
    let dir = try TemporaryDirectory()
    let url = dir.url.appendingPathComponent("absent.qrels")
    let read = { (url: URL) in _ = try Qrels.read(from: url) }
    expectInputError(
        .unreadable(reason: "No such file or directory"), line: nil,
        message: "cannot read file: No such file or directory", read, url)
    expectInputError(
        .unreadable(reason: "is a directory"), line: nil, message: "cannot read file: is a directory", read, dir.url)
}

@Test func runErrorsNameFileAndLine() throws {
    let dir = try TemporaryDirectory()
    let read = { (url: URL) in _ = try Run.read(from: url) }
    expectInputError(
        .fieldCount(expected: 6, found: 5), line: 1, message: "expected 6 whitespace-separated fields, found 5",
        read, try dir.file("a", "q1 Q0 d1 1 0.5\n"))
    expectInputError(
        .invalidRank("first"), line: 2, message: "rank 'first' is not an integer", read,
        try dir.file("b", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 first 0.4 t\n"))
    expectInputError(
        .invalidScore("nan"), line: 1, message: "score 'nan' is not a finite number", read,
        try dir.file("c", "q1 Q0 d1 1 nan t\n"))
    expectInputError(
        .invalidScore("high"), line: 1, message: "score 'high' is not a finite number", read,
        try dir.file("d", "q1 Q0 d1 1 high t\n"))
    expectInputError(
        .duplicateDocument("q1", "d1", firstLine: 1), line: 3,
        message: "document 'd1' retrieved twice for query 'q1' (first on line 1)", read,
        try dir.file("e", "q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4 t\nq1 Q0 d1 3 0.3 t\n"))
    expectInputError(
        .noEntries, line: nil, message: "no entries (the file is empty or only blank lines)", read,
        try dir.file("f", ""))
}

@Test func queriesFileIsRead() throws {
    let dir = try TemporaryDirectory()
    let set = try QuerySet.read(from: dir.file("q.tsv", "1\twhat is lmdb \n\n2\tsplit\there\r\n"))
    #expect(set.queries == [Query(id: "1", text: "what is lmdb"), Query(id: "2", text: "split\there")])
    #expect(set["2"]?.text == "split\there")
    #expect(set["3"] == nil)
    #expect(set.count == 2)
}

@Test func queriesErrorsNameFileAndLine() throws {
    let dir = try TemporaryDirectory()
    let read = { (url: URL) in _ = try QuerySet.read(from: url) }
    expectInputError(
        .missingTab, line: 2, message: "expected 'qid<TAB>text', found no tab", read,
        try dir.file("a", "1\tfine\n2 no tab here\n"))
    expectInputError(
        .emptyQueryText("7"), line: 1, message: "query '7' has empty text", read, try dir.file("b", "7\t  \n"))
    expectInputError(.emptyQueryID, line: 1, message: "empty query id", read, try dir.file("c", "\ttext\n"))
    expectInputError(
        .duplicateQuery("1", firstLine: 1), line: 3, message: "query '1' defined twice (first on line 1)", read,
        try dir.file("d", "1\ta\n2\tb\n1\tc\n"))
    expectInputError(
        .invalidUTF8, line: 1, message: "invalid UTF-8", read, try dir.file("e", bytes: [0x31, 0x09, 0xC3]))
    expectInputError(
        .noEntries, line: nil, message: "no entries (the file is empty or only blank lines)", read,
        try dir.file("f", "\n"))
}

@Test func inMemoryDuplicatesAreRejected() throws {
    #expect(throws: EvaluationError.duplicateJudgment("q", "d")) {
        try Qrels([
            Judgment(queryID: "q", documentID: "d", relevance: 1),
            Judgment(queryID: "q", documentID: "d", relevance: 0),
        ])
    }
    #expect(throws: EvaluationError.duplicateQuery("1")) {
        try QuerySet([Query(id: "1", text: "a"), Query(id: "1", text: "b")])
    }
    #expect(throws: EvaluationError.duplicateDocument("q", "d")) {
        try Ranking(queryID: "q", orderedDocumentIDs: ["d", "e", "d"])
    }
    #expect(throws: EvaluationError.nonFiniteScore("q", "d")) {
        try Ranking(queryID: "q", documents: [ScoredDocument(documentID: "d", score: .infinity)])
    }
    let ranking = try Ranking(queryID: "q", orderedDocumentIDs: ["d"])
    #expect(throws: EvaluationError.duplicateRanking("q")) { try Run(tag: "t", rankings: [ranking, ranking]) }
    #expect(EvaluationError.duplicateJudgment("q", "d").description == "document 'd' judged twice for query 'q'")
    #expect(
        EvaluationError.duplicateDocument("q", "d").description
            == "document 'd' appears twice in the ranking for query 'q'")
    #expect(EvaluationError.duplicateRanking("q").description == "two rankings given for query 'q'")
    #expect(EvaluationError.duplicateQuery("1").description == "query '1' given twice")
    #expect(
        EvaluationError.nonFiniteScore("q", "d").description
            == "score of document 'd' for query 'q' is not a finite number")
}
