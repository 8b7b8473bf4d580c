import Foundation
import Testing
import VectorStore

@Suite struct IndexCommandTests {
    @Test func aKilledIndexBuildResumesWithEveryPassageExactlyOnce() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(160, in: directory)
        let store = directory.appendingPathComponent("store")
        let arguments = [
            "index", "--model", try miniLM().path, "--store", store.path, "--batch-size", "8", corpus.path,
        ]

        // Kill it once some batches are committed, mid-build.
        try killMidWrite(arguments, store: store, afterCommitting: 24)

        let resumed = try cascade(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let summary = try #require(resumed.stderr.split(separator: "\n").last { $0.contains("index: done") })
        // What the killed run committed is found, not encoded again; the rest is encoded once.
        let (indexed, present) = try #require(indexSummary(String(summary)), "\(summary)")
        #expect(present >= 24, "\(summary)")
        #expect(indexed + present == 160, "\(summary)")

        let reopened = try VectorStore.open(existingAt: store, readOnly: true)
        #expect(reopened.count == 160)
        let ids = try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))["id"]!
        }
        let found = try reopened.passages(ids: ids)
        #expect(found.allSatisfy { $0 != nil })
    }

    @Test func anInterruptedBuildSaysWhatItKeptAndHowToGoOn() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(160, in: directory)
        let store = directory.appendingPathComponent("store")
        let arguments = [
            "index", "--model", try miniLM().path, "--store", store.path, "--batch-size", "8", corpus.path,
        ]
        let stopped = try stopMidWrite(arguments, store: store, afterCommitting: 24, with: SIGINT)
        #expect(stopped.reason == .exit && stopped.status == 128 + SIGINT, "\(stopped)")
        #expect(
            stopped.stderr.contains("index: stopped by SIGINT: at least ")
                && stopped.stderr.contains(
                    " of the corpus's 160 passages are in the store; run the same command again to index the rest"),
            "\(stopped.stderr)")
        let resumed = try cascade(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try VectorStore.open(existingAt: store, readOnly: true).count == 160)
    }

    @Test func badLinesAreReportedByNumberAndSkipped() throws {
        let directory = try temporaryDirectory()
        let corpus = directory.appendingPathComponent("bad.jsonl")
        var bytes = Data(
            """
            {"id": "a", "text": "a spell checker for the terminal"}
            {"id": "b"}
            {broken
            {"id": "c", "text": "a chess engine"}

            """.utf8)
        bytes += Data(#"{"id": "d", "text": "caf"#.utf8) + Data([0xE9]) + Data(#""}"#.utf8) + Data("\n".utf8)
        try bytes.write(to: corpus)
        let store = directory.appendingPathComponent("store")
        let model = try miniLM().path

        let strict = try cascade(["index", "--model", model, "--store", store.path, "--strict", corpus.path])
        #expect(strict.status == 1, "a bad corpus is not a usage error: \(strict.stderr)")
        #expect(strict.stderr.contains("3 bad lines"), "\(strict.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.path), "--strict must write nothing")

        let lenient = try cascade(["index", "--model", model, "--store", store.path, corpus.path])
        #expect(lenient.status == 0, "\(lenient.stderr)")
        for expected in ["line 2: missing \"text\"", "line 3: invalid JSON", "line 5: invalid UTF-8"] {
            #expect(lenient.stderr.contains(expected), "\(expected) in \(lenient.stderr)")
        }
        #expect(try VectorStore.open(existingAt: store, readOnly: true).count == 2)

        // JSON lines in a file whose name says TSV: every line is bad, so nothing is indexed and it fails.
        let misnamed = directory.appendingPathComponent("corpus.txt")
        try Data(#"{"id": "a", "text": "a spell checker"}\#n"#.utf8).write(to: misnamed)
        let other = directory.appendingPathComponent("other-store")
        let wrongFormat = try cascade(["index", "--model", model, "--store", other.path, misnamed.path])
        #expect(wrongFormat.status == 1, "\(wrongFormat.stderr)")
        #expect(wrongFormat.stderr.contains("no line of \(misnamed.path) could be read"), "\(wrongFormat.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other.path), "no store may be created")
    }

    @Test func aCorpusCanComeFromAPipe() throws {
        let directory = try temporaryDirectory()
        let store = directory.appendingPathComponent("store")
        let model = try miniLM().path
        let lines = try String(contentsOf: try sampleSlice(5, in: directory), encoding: .utf8)
        let piped = try cascade(["index", "--model", model, "--store", store.path, "-"], input: Data(lines.utf8))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try VectorStore.open(existingAt: store, readOnly: true).count == 5)
        let folder = try cascade(["index", "--model", model, "--store", store.path, directory.path])
        #expect(folder.status != 0)
        #expect(
            folder.stderr.contains("cannot read corpus \(directory.path): it is a folder, not a file"),
            "\(folder.stderr)")
    }

    @Test func searchAndStatsReportWhatTheStoreHolds() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(40, in: directory)
        let store = directory.appendingPathComponent("store").path
        let model = try miniLM().path
        #expect(try cascade(["index", "--model", model, "--store", store, corpus.path]).status == 0)

        let stats = try cascade(["stats", "--store", store, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 40)
        #expect((object["model"] as? [String: Any])?["dimension"] as? Int == 384)

        // A passage's own text finds it first.
        let first = try #require(String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").first)
        let passage = try JSONDecoder().decode([String: String].self, from: Data(first.utf8))
        let search = try cascade(["search", "--store", store, "--model", model, "-k", "3", "--json", passage["text"]!])
        #expect(search.status == 0, "\(search.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(search.stdout.utf8)) as? [String: Any])
        let hits = try #require(result["hits"] as? [[String: Any]])
        #expect(hits.count == 3)
        #expect(hits.first?["id"] as? String == passage["id"])
        #expect(hits.first?["text"] as? String == passage["text"])
        let scores = hits.compactMap { $0["score"] as? Double }
        #expect(scores == scores.sorted(by: >))
        let timings = try #require(result["timings_us"] as? [String: Any])
        #expect((timings["encode"] as? Int ?? 0) > 0 && (timings["total"] as? Int ?? 0) > 0)

        let missing = try cascade([
            "search", "--store", directory.appendingPathComponent("none").path, "--model", model, "x",
        ])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cascade index"), "\(missing.stderr)")
    }
}

/// (indexed, already present) from `cascade index`'s closing line.
private func indexSummary(_ line: String) -> (Int, Int)? {
    let pattern = try! NSRegularExpression(pattern: #"(\d+) indexed .*?(\d+) already present"#)
    guard let match = pattern.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
        let indexed = Range(match.range(at: 1), in: line).flatMap({ Int(line[$0]) }),
        let present = Range(match.range(at: 2), in: line).flatMap({ Int(line[$0]) })
    else { return nil }
    return (indexed, present)
}
