import Foundation
import Testing

@testable import Tokenization

/// `producesTokens` (the request text rule) answers as Hugging Face tokenizers does: a text
/// produces tokens exactly when its reference ids are not empty, for every normalizer variant.
@Suite struct ProducesTokensTests {
    @Test func agreesWithTheReferenceOnEveryCase() throws {
        let fixture = try ReferenceFixtureTests.loadFixture()
        var checked = 0
        var empty = 0
        var failures: [String] = []
        for (name, spec) in fixture.normalizers {
            let folder = try TestSupport.configFolder(normalizer: spec)
            defer { try? FileManager.default.removeItem(at: folder) }
            let tokenizer = try BertTokenizer(directory: folder)
            for reference in fixture.cases
            where reference["v"] as? String == name && reference["kind"] as? String == "tokens" {
                let text = reference["text"] as! String
                let expected = !ReferenceFixtureTests.int32s(reference["ids"]).isEmpty
                checked += 1
                if !expected { empty += 1 }
                if tokenizer.producesTokens(text) != expected {
                    failures.append("[\(name)] \(text.debugDescription): \(!expected)")
                }
            }
        }
        #expect(checked > 3000 && empty > 40, "\(checked) cases, \(empty) without tokens")
        #expect(failures.isEmpty, "\(failures.count) of \(checked) differ; first: \(failures.prefix(8))")
    }

    /// The texts a hostile-request run sent, and their neighbours with something to read.
    @Test func formatAndControlCharactersAndLoneMarksHaveNoTokens() throws {
        let tokenizer = try BertTokenizer(directory: try TestSupport.modelDirectory())
        for text in ["\u{200B}", "\u{0000}", "\u{FEFF}", "\u{0301}", "\u{200B}\u{FEFF} \u{0301}\u{0000}"] {
            #expect(!tokenizer.producesTokens(text), "\(text.debugDescription)")
            #expect(tokenizer.ids(text).isEmpty, "\(text.debugDescription)")
        }
        for text in ["é", "\u{0301}a", "🙂", "!", "\u{200B}x"] {
            #expect(tokenizer.producesTokens(text), "\(text.debugDescription)")
            #expect(!tokenizer.ids(text).isEmpty, "\(text.debugDescription)")
        }
    }
}
