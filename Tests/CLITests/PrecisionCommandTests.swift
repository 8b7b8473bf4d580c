import Foundation
import Testing

/// `--precision` on the model commands: the model loads at that precision and says so on stderr
/// with its kernel path and load time; an unknown value is refused with the allowed values.
@Suite struct PrecisionCommandTests {
    @Test func embedAtInt8StaysCloseToFP32AndSaysWhatRan() throws {
        let model = try miniLM().path
        let input = Data("GNU Aspell is a spell checker.\nStockfish is a free UCI chess engine.\n".utf8)
        let fp32 = try cascade(["embed", "--model", model], input: input)
        let int8 = try cascade(["embed", "--model", model, "--precision", "int8"], input: input)
        #expect(fp32.status == 0 && int8.status == 0, "\(int8.stderr)")
        #expect(fp32.stderr.contains("retriever all-MiniLM-L6-v2: fp32 (fp32/"), "\(fp32.stderr)")
        #expect(int8.stderr.contains("retriever all-MiniLM-L6-v2: int8 (int8/"), "\(int8.stderr)")
        #expect(int8.stderr.contains(" s"), "\(int8.stderr)")
        let a = try fp32.stdout.split(separator: "\n").map {
            try JSONDecoder().decode([Double].self, from: Data($0.utf8))
        }
        let b = try int8.stdout.split(separator: "\n").map {
            try JSONDecoder().decode([Double].self, from: Data($0.utf8))
        }
        try #require(a.count == 2 && b.count == 2)
        for (x, y) in zip(a, b) {
            let dot: Double = zip(x, y).map { $0 * $1 }.reduce(0, +)
            let xx: Double = x.map { $0 * $0 }.reduce(0, +)
            let yy: Double = y.map { $0 * $0 }.reduce(0, +)
            let cosine = dot / (xx * yy).squareRoot()
            #expect(cosine >= 0.99, "cosine \(cosine)")
            #expect(x != y, "int8 must not be the fp32 vector")
        }
    }

    /// A store remembers the precisions its vectors were encoded at; `cascade stats` says them.
    @Test func indexKeepsItsPrecisionForStats() throws {
        let directory = try temporaryDirectory()
        let store = directory.appendingPathComponent("store").path
        let model = try miniLM().path
        let first = try cascade([
            "index", "--model", model, "--store", store, "--precision", "int8",
            try sampleSlice(20, in: directory).path,
        ])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try cascade(["stats", "--store", store]).stdout.contains("encoded at:  int8\n"))
        // More passages at fp32: the store now holds vectors of both.
        let more = directory.appendingPathComponent("more.jsonl")
        try Data(#"{"id": "extra-1", "text": "A new passage about spell checkers."}"#.utf8).write(to: more)
        #expect(try cascade(["index", "--model", model, "--store", store, more.path]).status == 0)
        let stats = try cascade(["stats", "--store", store, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect(object["encoderPrecisions"] as? [String] == ["fp32", "int8"])
        #expect(try cascade(["stats", "--store", store]).stdout.contains("encoded at:  fp32 and int8 (mixed"))
    }

    @Test func scoreAtFP16SaysWhatRan() throws {
        let output = try cascade(
            ["score", "--model", try miniLM().path, "--head", seededHead.path, "--precision", "fp16"],
            input: Data("spell checker\tGNU Aspell is a spell checker.\n".utf8))
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.contains(": fp16 (fp16/"), "\(output.stderr)")
        #expect(Float(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
    }

    /// Every other argument is valid (or only checked later), so the precision is what is refused.
    @Test(arguments: [
        ["embed", "--precision", "int4"], ["score", "--precision", "FP16"],
        ["index", "--store", "/nonexistent/store", "corpus.jsonl", "--precision", "bf16"],
        ["search", "--store", "/nonexistent/store", "--precision", "int4", "q"],
        [
            "eval", "--store", "/nonexistent/store", "--queries", "q.tsv", "--qrels", "q.qrels",
            "--retriever-precision", "int4",
        ],
        [
            "tune", "--store", "/nonexistent/store", "--queries", "q.tsv", "--qrels", "q.qrels", "--reranker-precision",
            "fp64",
        ],
    ])
    func unknownPrecisionNamesTheAllowedValues(arguments: [String]) throws {
        let output = try cascade(arguments + ["--model", try miniLM().path])
        #expect(output.status != 0)
        #expect(output.stdout.isEmpty)
        for value in ["fp32", "fp16", "int8"] {
            #expect(output.stderr.contains(value), "\(arguments): \(output.stderr)")
        }
    }
}
