import Foundation
import Testing
import VectorStore

/// `cascade index` holds a corpus to the rules the server holds its RPCs to.
@Test func indexRefusesTokenFreeTextsAndBadIdsAndKeepsIdsInNFC() throws {
    let directory = try temporaryDirectory()
    let corpus = directory.appendingPathComponent("rules.jsonl")
    let lines = [
        #"{"id": "zero-width", "text": "\u200b"}"#,
        #"{"id": "bom", "text": "\ufeff"}"#,
        #"{"id": "accent", "text": "\u0301"}"#,
        #"{"id": "   ", "text": "an id of spaces"}"#,
        #"{"id": "nul\u0000id", "text": "a NUL in the id"}"#,
        #"{"id": "cafe\u0301", "text": "a coffee grinder"}"#,
        #"{"id": "caf\u00e9", "text": "a coffee grinder, precomposed"}"#,
        #"{"id": "chess", "text": "a chess engine"}"#,
    ]
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: corpus)
    let store = directory.appendingPathComponent("store")
    let run = try cascade(["index", "--model", try miniLM().path, "--store", store.path, corpus.path])
    #expect(run.status == 0, "\(run.stderr)")
    for line in 1...5 { #expect(run.stderr.contains("line \(line): "), "line \(line) in \(run.stderr)") }
    #expect(run.stderr.contains("text of id zero-width must not be empty"), "\(run.stderr)")
    #expect(run.stderr.contains("1 repeated ids"), "\(run.stderr)")
    let reopened = try VectorStore.open(existingAt: store, readOnly: true)
    #expect(reopened.count == 2)
    #expect(try reopened.passage(id: "caf\u{E9}")?.text == "a coffee grinder, precomposed")
}
