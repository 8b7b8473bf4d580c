import Foundation
import Testing

@Suite struct ModelCommandTests {
    @Test func tokenizePrintsHuggingFaceIdsPerLine() throws {
        let model = try miniLM().path
        let single = try cascade(["tokenize", "--model", model], input: Data("hello world\nCafé 東京\n".utf8))
        #expect(single.status == 0, "\(single.stderr)")
        // Ids from Hugging Face tokenizers for bert-base-uncased's vocabulary.
        #expect(single.stdout == "[101,7592,2088,102]\n[101,7668,1879,1755,102]\n")
        let pair = try cascade(["tokenize", "--model", model, "--pair"], input: Data("hello\tworld\n".utf8))
        #expect(pair.stdout == "[101,7592,102,2088,102]\n")
    }

    @Test func tokenizeNamesTheLineThatIsNotUTF8() throws {
        let output = try cascade(
            ["tokenize", "--model", try miniLM().path], input: Data("fine\n".utf8) + Data([0xC3, 0x28, 0x0A]))
        #expect(output.status != 0)
        #expect(output.stdout == "[101,2986,102]\n")
        #expect(output.stderr.contains("line 2: invalid UTF-8"), "\(output.stderr)")
    }

    @Test func embedMatchesSentenceTransformers() throws {
        let fixture = packageRoot.appendingPathComponent("Tests/Fixtures/Transformer/minilm-reference.json")
        struct Reference: Decodable {
            struct Sentence: Decodable {
                var text: String
                var embedding: [Double]
            }
            var sentences: [Sentence]
        }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture)).sentences.prefix(12)
        let input = reference.map { $0.text.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
        let output = try cascade(["embed", "--model", try miniLM().path, "--verbose"], input: Data(input.utf8))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.contains("tokens/s"))
        let lines = output.stdout.split(separator: "\n")
        try #require(lines.count == reference.count)
        for (line, sentence) in zip(lines, reference) {
            let vector = try JSONDecoder().decode([Double].self, from: Data(line.utf8))
            let dot = zip(vector, sentence.embedding).map { $0 * $1 }.reduce(0, +)
            let norms = (vector.map { $0 * $0 }.reduce(0, +) * sentence.embedding.map { $0 * $0 }.reduce(0, +))
            #expect(dot / norms.squareRoot() >= 0.99999, "\(sentence.text)")
        }
    }

    @Test func scorePrintsOneLogitPerPairInInputOrder() throws {
        let model = try miniLM().path
        let pairs = [
            "spell checker\tGNU Aspell is a spell checker designed to replace ispell.",
            "chess engine\tStockfish is a free UCI chess engine.",
            "spell checker\tStockfish is a free UCI chess engine.",
        ]
        let all = try cascade(
            ["score", "--model", model, "--head", seededHead.path], input: Data(pairs.joined(separator: "\n").utf8))
        #expect(all.status == 0, "\(all.stderr)")
        let scores = all.stdout.split(separator: "\n").compactMap { Float($0) }
        try #require(scores.count == 3)
        // Batching sorts pairs by length; each pair alone must score the same as in the batch.
        for (pair, score) in zip(pairs, scores) {
            let alone = try cascade(["score", "--model", model, "--head", seededHead.path], input: Data(pair.utf8))
            let value = try #require(Float(alone.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(abs(value - score) < 1e-4)
        }
    }

    @Test func scoreNamesALineWithoutATab() throws {
        let output = try cascade(
            ["score", "--model", try miniLM().path, "--head", seededHead.path],
            input: Data("q\tp\nno tab here\n".utf8))
        #expect(output.status != 0)
        #expect(output.stderr.contains("line 2: expected query<TAB>passage"), "\(output.stderr)")
    }

    @Test func sizesThatWouldPrintNothingAreRefused() throws {
        let model = try miniLM().path
        for (arguments, message) in [
            (["embed", "--model", model, "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
            (
                ["score", "--model", model, "--head", seededHead.path, "--batch-size=-3"],
                "--batch-size must be at least 1"
            ),
            (
                ["score", "--model", model, "--head", seededHead.path, "--max-length", "2"],
                "--max-length must leave room"
            ),
        ] {
            let output = try cascade(arguments, input: Data("a\tb\n".utf8))
            #expect(output.status == 64, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
            #expect(output.stdout.isEmpty)
        }
    }

    @Test func aModelFolderWithoutWeightsIsAClearError() throws {
        let directory = try temporaryDirectory()
        let output = try cascade(["embed", "--model", directory.path], input: Data("x\n".utf8))
        #expect(output.status != 0)
        #expect(output.stderr.contains(directory.lastPathComponent), "\(output.stderr)")
    }
}
