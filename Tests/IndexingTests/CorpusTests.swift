import Foundation
import Testing
import Tokenization
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
            CorpusProblem(line: 9, reason: "text of id e must not be empty"),
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

/// `cascade index` holds its input to the server's rules: a text the retriever's tokenizer reads
/// no token from and an id a server would refuse are bad lines, and ids are kept in NFC.
@Test func appliesTheServersTextAndIdRules() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let model =
        ProcessInfo.processInfo.environment["CASCADE_MINILM_DIR"]
        ?? root.appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
    let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: model))
    let lines = [
        #"{"id": "zero-width", "text": "\u200b"}"#,
        #"{"id": "nul", "text": "\u0000"}"#,
        #"{"id": "bom", "text": "\ufeff"}"#,
        #"{"id": "accent", "text": "\u0301"}"#,
        #"{"id": "   ", "text": "spaces for an id"}"#,
        #"{"id": "a\u0000b", "text": "a NUL in the id"}"#,
        #"{"id": " lead", "text": "leading space"}"#,
        #"{"id": "cafe\u0301", "text": "decomposed"}"#,
        #"{"id": "caf\u00e9", "text": "precomposed"}"#,
        #"{"id": "fine", "text": "\u200bwords"}"#,
    ]
    let url = try corpusFile(Array((lines.joined(separator: "\n") + "\n").utf8), name: "c.jsonl")
    let corpus = try Corpus.read(url, tokenizer: tokenizer)
    #expect(corpus.problems.map(\.line) == [1, 2, 3, 4, 5, 6, 7])
    #expect(corpus.problems[0].reason.hasPrefix("text of id zero-width must not be empty: it holds no token"))
    #expect(corpus.problems[4].reason == "id must not start or end with whitespace")
    #expect(corpus.problems[5].reason.hasPrefix("id holds a control character (U+0000"))
    // The two spellings of café are one id: the last line wins, as for any repeated id.
    #expect(corpus.duplicateIds == 1)
    #expect(corpus.records.map(\.passage.text) == ["precomposed", "\u{200B}words"])
    #expect(corpus.records[0].passage.id.unicodeScalars.elementsEqual("caf\u{E9}".unicodeScalars))
    // Without a tokenizer (vectors imported from elsewhere) only emptiness is checked.
    #expect(try Corpus.read(url).problems.map(\.line) == [5, 6, 7])
}
