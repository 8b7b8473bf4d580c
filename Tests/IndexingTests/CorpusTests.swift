import Foundation
import Testing
import VectorStore

@testable import Indexing

private func corpusFile(_ bytes: [UInt8], name: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-corpus-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

@Test func readsJSONLinesAndReportsEveryBadLineByNumber() throws {
    var bytes = Array(
        """
        {"id": "a", "text": "first passage"}
        {"id": 7, "text": "numeric id"}
        not json at all
        {"id": "c"}
        {"text": "no id"}
        {"id": "d", "text": 12}
        ["a", "list"]

        {"id": "e", "text": "   "}

        """.utf8)
    bytes += [UInt8](#"{"id": "f", "text": "bad "#.utf8) + [0xFF, 0xFE] + [UInt8](#""}"#.utf8) + [0x0A]
    bytes += Array(#"{"id": "g", "text": "last line without newline"}"#.utf8)
    let corpus = try Corpus.read(try corpusFile(bytes, name: "c.jsonl"))
    #expect(corpus.format == .jsonl)
    #expect(corpus.records.map(\.passage.id) == ["a", "7", "g"])
    #expect(corpus.records.map(\.line) == [1, 2, 11])
    #expect(
        corpus.problems == [
            CorpusProblem(line: 3, reason: "invalid JSON"),
            CorpusProblem(line: 4, reason: "missing \"text\""),
            CorpusProblem(line: 5, reason: "missing \"id\""),
            CorpusProblem(line: 6, reason: "\"text\" must be a string"),
            CorpusProblem(line: 7, reason: "expected a JSON object with \"id\" and \"text\""),
            CorpusProblem(line: 9, reason: "empty text for id e"),
            CorpusProblem(line: 10, reason: "invalid UTF-8"),
        ])
}

@Test func readsTSVAndKeepsTheLastOfRepeatedIds() throws {
    let text = "x\tone\r\ny\ttwo\nno tab here\nx\tthree\n\tempty id\n"
    let corpus = try Corpus.read(try corpusFile(Array(text.utf8), name: "c.tsv"))
    #expect(corpus.format == .tsv)
    #expect(corpus.records.map(\.passage) == [Passage(id: "y", text: "two"), Passage(id: "x", text: "three")])
    #expect(corpus.duplicateIds == 1)
    #expect(corpus.problems.map(\.line) == [3, 5])
}

@Test func guessesTheFormatFromContentWithoutAKnownExtension() throws {
    let corpus = try Corpus.read(try corpusFile(Array(#"{"id": "a", "text": "b"}"#.utf8), name: "corpus.data"))
    #expect(corpus.format == .jsonl)
    #expect(corpus.records.count == 1)
}

@Test func aMissingFileIsAClearError() throws {
    let error = #expect(throws: Corpus.ReadError.self) {
        try Corpus.read(URL(fileURLWithPath: "/nonexistent/corpus.jsonl"))
    }
    #expect(error?.description.contains("/nonexistent/corpus.jsonl") == true)
}
