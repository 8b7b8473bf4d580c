import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import Server
import Testing

/// The defects a run of hostile requests found, each on a real server: texts with no tokens,
/// ids that differ in bytes but not in meaning, unchecked Rerank ids, ids of spaces or NUL, and
/// control characters of `x-request-id` in the log.
@Suite struct RequestCheckTests {
    static let tokenFree = ["\u{200B}", "\u{0000}", "\u{FEFF}", "\u{0301}"]

    static func passage(_ id: String, _ text: String = "a text with words") -> Cascade_V1_Passage {
        .with {
            $0.id = id
            $0.text = text
        }
    }

    static func expectRefused(_ error: RPCError, naming field: String, _ note: String) {
        #expect(error.code == .invalidArgument, "\(note): \(error)")
        #expect(error.message.contains(field), "\(note): \(error.message) does not name \(field)")
    }

    @Test func textsWithNoTokensAreInvalidArgumentsInEveryRPC() async throws {
        let server = try await RunningServer.start()
        try await server.withClient { client in
            for text in Self.tokenFree {
                let note = text.unicodeScalars.map { "U+" + String($0.value, radix: 16) }.joined()
                Self.expectRefused(
                    try await rpcError { _ = try await client.search(.with { $0.query = text }) }, naming: "query", note
                )
                Self.expectRefused(
                    try await rpcError { _ = try await client.embed(.with { $0.texts = ["words", text] }) },
                    naming: "texts[1]", note)
                Self.expectRefused(
                    try await rpcError {
                        _ = try await client.upsert(.with { $0.passages = [Self.passage("new", text)] })
                    }, naming: "passages[0].text", note)
                Self.expectRefused(
                    try await rpcError {
                        _ = try await client.rerank(
                            .with {
                                $0.query = text
                                $0.passages = [Self.passage("a")]
                            })
                    }, naming: "query", note)
                Self.expectRefused(
                    try await rpcError {
                        _ = try await client.rerank(
                            .with {
                                $0.query = "chess"
                                $0.passages = [Self.passage("a"), Self.passage("b", text)]
                            })
                    }, naming: "passages[1].text", note)
            }
            let info = try await client.info(.init())
            #expect(info.corpus.size == UInt64(Fixtures.corpusSize))
        }
        try await server.stop()
    }

    @Test func idsDifferingOnlyInNormalisationAreOnePassage() async throws {
        let server = try await RunningServer.start()
        let composed = "caf\u{E9}-grinder"
        let decomposed = "cafe\u{0301}-grinder"
        try await server.withClient { client in
            let first = try await client.upsert(.with { $0.passages = [Self.passage(composed, "grinds coffee beans")] })
            let second = try await client.upsert(
                .with { $0.passages = [Self.passage(decomposed, "grinds coffee beans finely")] })
            #expect(first.corpusSize == UInt64(Fixtures.corpusSize + 1))
            #expect(second.corpusSize == UInt64(Fixtures.corpusSize + 1), "the decomposed id made a second passage")
            let both = try await rpcError { _ = try await client.delete(.with { $0.ids = [composed, decomposed] }) }
            Self.expectRefused(both, naming: "ids[1]", "both forms in one Delete")
            #expect(both.message.contains("repeats ids[0]"))
            let deleted = try await client.delete(.with { $0.ids = [decomposed] })
            #expect(deleted.deleted == 1 && deleted.corpusSize == UInt64(Fixtures.corpusSize))
        }
        try await server.stop()
        #expect(try server.pipeline.store.passage(id: composed) == nil)
    }

    @Test func rerankPassageIdsFollowTheIdRule() async throws {
        let server = try await RunningServer.start()
        let cases: [(String, [Cascade_V1_Passage])] = [
            ("passages[0].id", [Self.passage("")]),
            ("passages[1].id", [Self.passage("a"), Self.passage("a")]),
            ("passages[1].id", [Self.passage("caf\u{E9}"), Self.passage("cafe\u{0301}")]),
            ("passages[0].id", [Self.passage(String(repeating: "x", count: 2 << 20))]),
            ("passages[0].id", [Self.passage("a\u{0}b")]),
            ("passages[0].id", [Self.passage(" a")]),
        ]
        try await server.withClient { client in
            for (field, passages) in cases {
                let error = try await rpcError {
                    _ = try await client.rerank(
                        .with {
                            $0.query = "chess"
                            $0.passages = passages
                        })
                }
                Self.expectRefused(error, naming: field, "\(passages.map { $0.id.prefix(12) })")
                #expect(error.message.utf8.count < 400, "the refusal echoes the id whole")
            }
        }
        try await server.stop()
    }

    @Test func upsertAndDeleteRefuseBlankAndControlCharacterIds() async throws {
        let server = try await RunningServer.start()
        try await server.withClient { client in
            for id in ["   ", "a\u{0}b", "tab\tin", "trailing ", "\u{85}next-line"] {
                let note = id.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")
                Self.expectRefused(
                    try await rpcError {
                        _ = try await client.upsert(.with { $0.passages = [Self.passage("fine"), Self.passage(id)] })
                    }, naming: "passages[1].id", note)
                Self.expectRefused(
                    try await rpcError { _ = try await client.delete(.with { $0.ids = [id] }) }, naming: "ids[0]", note)
            }
            let info = try await client.info(.init())
            #expect(info.corpus.size == UInt64(Fixtures.corpusSize), "a refused Upsert wrote something")
        }
        try await server.stop()
    }

    @Test func controlCharactersInTheRequestIdDoNotReachTheLog() async throws {
        let log = CapturedLog()
        let server = try await RunningServer.start(logger: log.logger) { $0.logLevel = "info" }
        var metadata: Metadata = [:]
        metadata.addString("forged\u{1B}[31m\u{7F}id", forKey: "x-request-id")
        let echoed = try await server.withClient { client in
            try await client.info(.init(), metadata: metadata) { response in
                response.metadata[stringValues: "x-request-id"].first(where: { _ in true })
            }
        }
        try await server.stop()
        let line = try #require(log.all.first { $0.message == "rpc" && $0.metadata["method"] == "Info" })
        let logged = try #require(line.metadata["request_id"])
        #expect(logged.utf8.allSatisfy { (0x21...0x7E).contains($0) }, "\(logged.debugDescription)")
        #expect(logged.count == 16, "a fresh id replaces the caller's: \(logged.debugDescription)")
        #expect(echoed == logged)
    }
}
