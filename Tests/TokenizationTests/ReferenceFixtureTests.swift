import Foundation
import Testing

@testable import Tokenization

/// Every case in reference.jsonl (written by scripts/fixtures/make_tokenizer_fixture.py from
/// Hugging Face tokenizers) must come out id for id, through every way of loading.
@Suite struct ReferenceFixtureTests {
    struct Fixture {
        var normalizers: [(name: String, spec: [String: Any])] = []
        var cases: [[String: Any]] = []
    }

    static func loadFixture() throws -> Fixture {
        let url = TestSupport.fixtures.appendingPathComponent("reference.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        var fixture = Fixture()
        for line in text.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if let variant = object["variant"] as? String {
                fixture.normalizers.append((variant, object["normalizer"] as! [String: Any]))
            } else {
                fixture.cases.append(object)
            }
        }
        return fixture
    }

    static func int32s(_ value: Any?) -> [Int32] {
        (value as! [NSNumber]).map(\.int32Value)
    }

    /// Describes how `tokenizer` disagrees with `reference`, or nil when it does not.
    static func mismatch(_ tokenizer: BertTokenizer, _ reference: [String: Any]) -> String? {
        let kind = reference["kind"] as! String
        let expected = kind == "batch" ? [] : int32s(reference["ids"])
        switch kind {
        case "tokens":
            let text = reference["text"] as! String
            let got = tokenizer.ids(text)
            let pieces = tokenizer.tokenize(text).map { tokenizer.vocabulary.id(for: $0) ?? -1 }
            if got != expected || pieces != expected { return "tokens \(text.debugDescription): \(got) != \(expected)" }
        case "single":
            let text = reference["text"] as! String
            let got = tokenizer.encode(text, maxLength: reference["max"] as? Int)
            if got.ids != expected || got.typeIds != [Int32](repeating: 0, count: expected.count) {
                return "single \(text.debugDescription) max \(reference["max"]!): \(got.ids) != \(expected)"
            }
        case "pair":
            let (a, b) = (reference["a"] as! String, reference["b"] as! String)
            let strategy: Truncation = reference["strategy"] as! String == "only_second" ? .onlySecond : .longestFirst
            let got = tokenizer.encode(a, b, maxLength: reference["max"] as? Int, truncation: strategy)
            if got.ids != expected || got.typeIds != int32s(reference["types"]) {
                return "pair \(a.prefix(40).debugDescription) | \(b.prefix(40).debugDescription) "
                    + "max \(reference["max"]!) \(strategy): \(got.ids) != \(expected)"
            }
        case "batch":
            let max = reference["max"] as? Int
            let encodings = (reference["inputs"] as! [Any]).map { input in
                if let pair = input as? [String] {
                    return tokenizer.encode(pair[0], pair[1], maxLength: max)
                }
                return tokenizer.encode(input as! String, maxLength: max)
            }
            let batch = tokenizer.batch(encodings)
            let rows = reference["ids"] as! [[NSNumber]]
            let flat = { (key: String) in (reference[key] as! [[NSNumber]]).flatMap { $0.map(\.int32Value) } }
            if batch.batchSize != rows.count || batch.sequenceLength != rows[0].count || batch.inputIds != flat("ids")
                || batch.tokenTypeIds != flat("types") || batch.attentionMask != flat("mask")
            {
                return "batch of \(rows.count) differs: \(batch.inputIds) != \(flat("ids"))"
            }
        default:
            return "unknown case kind \(reference["kind"]!)"
        }
        return nil
    }

    @Test func everyReferenceCaseMatchesThroughBothLoaders() throws {
        let fixture = try Self.loadFixture()
        var checked = 0
        var failures: [String] = []
        for (name, spec) in fixture.normalizers {
            let cases = fixture.cases.filter { $0["v"] as? String == name }
            #expect(!cases.isEmpty, "no cases for variant \(name)")
            for (loader, folder) in [
                ("tokenizer.json", try TestSupport.tokenizerJSONFolder(normalizer: spec)),
                ("vocab.txt", try TestSupport.configFolder(normalizer: spec)),
                // The model's own (uncased) tokenizer.json, overridden by tokenizer_config.json.
                ("tokenizer.json+config", try TestSupport.configFolder(normalizer: spec, file: "tokenizer.json")),
            ] {
                defer { try? FileManager.default.removeItem(at: folder) }
                let tokenizer = try BertTokenizer(directory: folder)
                for reference in cases {
                    checked += 1
                    if let message = Self.mismatch(tokenizer, reference) {
                        failures.append("[\(name), \(loader)] \(message)")
                    }
                }
            }
        }
        #expect(checked >= 3 * 5000, "only \(checked) cases checked")
        #expect(
            failures.isEmpty,
            "\(failures.count) of \(checked) cases differ from Hugging Face tokenizers; first:\n\(failures.prefix(8).joined(separator: "\n"))"
        )
    }

    @Test func theModelFolderItselfMatchesTheUncasedReference() throws {
        let tokenizer = try BertTokenizer(directory: try TestSupport.modelDirectory())
        #expect(tokenizer.maxLength == 512)
        #expect(tokenizer.padId == 0)
        #expect(tokenizer.normalizer == BertNormalizer(stripAccents: nil, lowercase: true))
        let fixture = try Self.loadFixture()
        let cases = fixture.cases.filter { $0["v"] as? String == "uncased" }
        let failures = cases.compactMap { Self.mismatch(tokenizer, $0) }
        #expect(cases.count > 3000)
        #expect(failures.isEmpty, "\(failures.count) of \(cases.count) differ; first: \(failures.prefix(5))")
    }
}
