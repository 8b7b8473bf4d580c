import Testing
import VectorStore

@testable import Cascade

/// The request types apply the text and id rules once, naming the field; the pipeline takes
/// only what they let through.
@Suite struct RequestTests {
    /// Texts with nothing for the tokenizer: the README promises INVALID_ARGUMENT for them.
    static let tokenFree = ["", "   \n", "\u{200B}", "\u{0000}", "\u{FEFF}", "\u{0301}", "\u{200B}\u{FEFF} \u{0301}"]

    func field(_ body: () throws -> Void) -> String? {
        do {
            try body()
        } catch let error as CascadeError {
            guard case .invalidArgument(let field, let message) = error else { return "not invalid: \(error)" }
            #expect(message.hasPrefix(field), "\(message)")
            return field
        } catch {
            return "unexpected \(error)"
        }
        return nil
    }

    @Test func textsWithoutTokensAreRefusedInEveryRequest() throws {
        let rules = try MiniLMTokenizer.rules()
        for text in Self.tokenFree {
            let shown = text.unicodeScalars.map { String($0.value, radix: 16) }
            #expect(field { _ = try SearchRequest(query: text, rules: rules) } == "query", "\(shown)")
            #expect(field { _ = try EmbedRequest(texts: ["fine", text], rules: rules) } == "texts[1]", "\(shown)")
            #expect(
                field { _ = try UpsertRequest(passages: [Passage(id: "a", text: text)], rules: rules) }
                    == "passages[0].text", "\(shown)")
            #expect(
                field { _ = try RerankRequest(query: text, passages: [Passage(id: "a", text: "b")], rules: rules) }
                    == "query", "\(shown)")
            #expect(
                field { _ = try RerankRequest(query: "q", passages: [Passage(id: "a", text: text)], rules: rules) }
                    == "passages[0].text", "\(shown)")
        }
        #expect(
            message { _ = try SearchRequest(query: "\u{200B}", rules: rules) }?.contains("holds no token") == true)
    }

    @Test func textsWithTokensAreTakenAsGiven() throws {
        let rules = try MiniLMTokenizer.rules()
        for text in ["é", "e\u{0301}", "日本", "🙂", "\u{0301}a", "\u{200B}chess", "!"] {
            #expect(try SearchRequest(query: text, rules: rules).query == text)
            #expect(try EmbedRequest(texts: [text], rules: rules).texts == [text])
        }
    }

    @Test func idsBreakingTheRuleAreRefusedWithTheFieldNamed() throws {
        let rules = try MiniLMTokenizer.rules()
        let bad = [
            "", "   ", " a", "a ", "a\u{0}b", "a\nb", "a\u{1B}[31m", "a\u{85}b", String(repeating: "x", count: 257),
        ]
        for id in bad {
            let shown = id.prefix(10).unicodeScalars.map { String($0.value, radix: 16) }
            #expect(
                field {
                    _ = try UpsertRequest(
                        passages: [Passage(id: "ok", text: "t"), Passage(id: id, text: "t")], rules: rules)
                }
                    == "passages[1].id", "\(shown)")
            #expect(field { _ = try DeleteRequest(ids: [id], rules: rules) } == "ids[0]", "\(shown)")
            #expect(
                field { _ = try RerankRequest(query: "q", passages: [Passage(id: id, text: "t")], rules: rules) }
                    == "passages[0].id", "\(shown)")
        }
        #expect(
            message { _ = try DeleteRequest(ids: [String(repeating: "é", count: 129)], rules: rules) }
                == "ids[0] is 258 bytes; the limit is 256 (max_id_bytes)")
        #expect(
            message { _ = try DeleteRequest(ids: ["a\u{0}b"], rules: rules) }
                == "ids[0] holds a control character (U+0000 at position 1); ids must be printable text")
        // Inner spaces and any script are fine.
        let fine = try UpsertRequest(passages: [Passage(id: "a b/c:日本", text: "t")], rules: rules)
        #expect(fine.passages.map(\.id) == ["a b/c:日本"])
    }

    @Test func idsAreComparedAndKeptInNFC() throws {
        let rules = try MiniLMTokenizer.rules()
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{0301}"
        let upsert = try UpsertRequest(passages: [Passage(id: decomposed, text: "t")], rules: rules)
        #expect(upsert.passages[0].id.unicodeScalars.elementsEqual(composed.unicodeScalars))
        #expect(
            try DeleteRequest(ids: [decomposed], rules: rules).ids[0].unicodeScalars.elementsEqual(
                composed.unicodeScalars))
        #expect(
            message { _ = try DeleteRequest(ids: [composed, decomposed], rules: rules) }
                == "ids[1] \"café\" repeats ids[0]")
        #expect(
            message {
                _ = try UpsertRequest(
                    passages: [Passage(id: composed, text: "t"), Passage(id: decomposed, text: "u")], rules: rules)
            } == "passages[1].id \"café\" repeats passages[0].id")
        #expect(
            field {
                _ = try RerankRequest(
                    query: "q", passages: [Passage(id: "x", text: "t"), Passage(id: "x", text: "u")], rules: rules)
            } == "passages[1].id")
        // The sizes of the 256-byte limit are the NFC form's: 128 decomposed é (384 bytes) are 256.
        let long = String(repeating: "e\u{0301}", count: 128)
        #expect(try DeleteRequest(ids: [long], rules: rules).ids[0].utf8.count == 256)
    }

    @Test func rerankNeedsAReranker() throws {
        let rules = try MiniLMTokenizer.rules(hasReranker: false)
        #expect(throws: CascadeError.self) {
            _ = try RerankRequest(query: "q", passages: [Passage(id: "a", text: "t")], rules: rules)
        }
        #expect(
            message { _ = try RerankRequest(query: "q", passages: [Passage(id: "a", text: "t")], rules: rules) }?
                .contains("no reranker") == true)
    }

    @Test func listsMustHoldOneToTheLimit() throws {
        var limits = Limits()
        limits.maxDeleteIds = 2
        let rules = try MiniLMTokenizer.rules(limits: limits)
        #expect(field { _ = try DeleteRequest(ids: [], rules: rules) } == "ids")
        #expect(
            message { _ = try DeleteRequest(ids: ["a", "b", "c"], rules: rules) }
                == "ids has 3 entries; the limit is 2 (max_delete_ids)")
        #expect(field { _ = try EmbedRequest(texts: [], rules: rules) } == "texts")
        #expect(field { _ = try UpsertRequest(passages: [], rules: rules) } == "passages")
        #expect(field { _ = try RerankRequest(query: "q", passages: [], rules: rules) } == "passages")
        #expect(
            field { _ = try RerankRequest(query: "q", passages: [Passage(id: "a", text: "t")], topN: -1, rules: rules) }
                == "top_n")
    }
}
