import Foundation
import Testing

/// A small judged collection cut from the bundled sample: its first passages, and the sample's
/// queries whose relevant passage is among them.
private func judgedSlice(_ count: Int) throws -> (directory: URL, store: String, queries: String, qrels: String) {
    let directory = try temporaryDirectory()
    let corpus = try sampleSlice(count, in: directory)
    let ids = Set(
        try String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").map {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))["id"]!
        })
    let sample = packageRoot.appendingPathComponent("samples/debian-desc")
    let qrels = try String(contentsOf: sample.appendingPathComponent("qrels.tsv"), encoding: .utf8)
        .split(separator: "\n").filter { ids.contains(String($0.split(separator: " ")[2])) }
    let judged = Set(qrels.map { String($0.split(separator: " ")[0]) })
    let queries = try String(contentsOf: sample.appendingPathComponent("queries.tsv"), encoding: .utf8)
        .split(separator: "\n").filter { judged.contains(String($0.split(separator: "\t")[0])) }
    let queriesFile = directory.appendingPathComponent("queries.tsv")
    let qrelsFile = directory.appendingPathComponent("qrels.tsv")
    try (queries.joined(separator: "\n") + "\n").write(to: queriesFile, atomically: true, encoding: .utf8)
    try (qrels.joined(separator: "\n") + "\n").write(to: qrelsFile, atomically: true, encoding: .utf8)
    let store = directory.appendingPathComponent("store").path
    let index = try cascade(["index", "--model", try miniLM().path, "--store", store, corpus.path])
    guard index.status == 0 else { throw CLIError(index.stderr) }
    return (directory, store, queriesFile.path, qrelsFile.path)
}

@Suite struct EvalCommandTests {
    @Test func evalWritesATrecRunAndReportsTheMeasures() throws {
        let slice = try judgedSlice(150)
        let run = slice.directory.appendingPathComponent("run.txt").path
        let output = try cascade([
            "eval", "--store", slice.store, "--model", try miniLM().path, "--queries", slice.queries,
            "--qrels", slice.qrels, "--retrieve-k", "20", "--run", run, "--json",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let queries = try #require(object["queries"] as? Int)
        #expect(queries > 5)
        #expect(object["evaluated"] as? Int == queries)
        let mean = try #require(object["mean"] as? [String: Double])
        // Known-item queries against their own package descriptions: dense retrieval finds most.
        #expect((mean["MRR@10"] ?? 0) > 0.5, "\(mean)")
        #expect((mean["R@100"] ?? 0) >= (mean["R@10"] ?? 1))
        // The run: 20 ranked documents per query, in the TREC format.
        let lines = try String(contentsOfFile: run, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == queries * 20)
        let fields = lines[0].split(separator: " ")
        #expect(fields.count == 6 && fields[1] == "Q0" && fields[3] == "1")

        // The scan settings reach the store (an fp32 store without partitions ignores them and
        // measures the same); a bad one is refused naming it.
        let scanned = try cascade([
            "eval", "--store", slice.store, "--model", try miniLM().path, "--queries", slice.queries,
            "--qrels", slice.qrels, "--retrieve-k", "20", "--rescore-k", "80", "--nprobe", "4", "--json",
        ])
        #expect(scanned.status == 0, "\(scanned.stderr)")
        let again = try #require(try JSONSerialization.jsonObject(with: Data(scanned.stdout.utf8)) as? [String: Any])
        #expect(again["mean"] as? [String: Double] == mean)
        let bad = try cascade([
            "eval", "--store", slice.store, "--model", try miniLM().path, "--queries", slice.queries,
            "--qrels", slice.qrels, "--nprobe", "0",
        ])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("nprobe must be in 1..."), "\(bad.stderr)")
    }

    @Test func tuneMarksTheFrontierAndWritesJSONAndAPlot() throws {
        let slice = try judgedSlice(100)
        let json = slice.directory.appendingPathComponent("tune.json").path
        let svg = slice.directory.appendingPathComponent("tune.svg").path
        let model = try miniLM().path
        let output = try cascade([
            "tune", "--store", slice.store, "--model", model, "--reranker", model, "--reranker-head", seededHead.path,
            "--queries", slice.queries, "--qrels", slice.qrels, "--limit", "4", "--retrieve-k", "5,20",
            "--rerank-k", "0,5", "--json", json, "--svg", svg,
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("* "), "no frontier mark in \(output.stdout)")
        #expect(output.stdout.contains("fastest (p50) within 0.01"))
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect((report["entries"] as? [Any])?.count == 4)
        let plot = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(plot.hasPrefix("<?xml") || plot.hasPrefix("<svg"))
        #expect(plot.contains("r=20 k=5"))
    }

    /// Output paths the end of a long run could not write are refused before it starts.
    @Test func outputPathsAreCheckedBeforeTheRun() throws {
        let folder = try temporaryDirectory()
        let missing = folder.appendingPathComponent("no/such/run.txt").path
        let judged = ["--store", "/nonexistent", "--queries", "q", "--qrels", "r"]
        for (arguments, message) in [
            (["eval", "--run", missing] + judged, "--run \(missing): there is no folder"),
            (["tune", "--json", missing] + judged, "--json \(missing): there is no folder"),
            (["tune", "--svg", folder.path] + judged, "--svg \(folder.path) is a folder"),
            (["tune", "--latency-budget-ms=-5"] + judged, "--latency-budget-ms must be a positive number"),
        ] {
            let output = try cascade(arguments)
            #expect(output.status == 64, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
        }
    }

    /// Cutoffs are checked in the flags' names before anything loads, the same in search, eval
    /// and tune, and as the server checks them (rerank_k never above retrieve_k, never clamped).
    @Test func cutoffsAreCheckedInTheFlagsNames() throws {
        let store = ["--store", "/nonexistent", "--model", "/nonexistent"]
        let judged = store + ["--queries", "q", "--qrels", "r"]
        for (arguments, message) in [
            (["search", "--retrieve-k", "100000", "q"] + store, "--retrieve-k must be in 1...1000, got 100000"),
            (
                ["search", "--reranker", "/m", "--retrieve-k", "20", "--rerank-k", "50", "q"] + store,
                "--rerank-k (50) must not exceed --retrieve-k (20)"
            ),
            (["search", "--reranker-head", "/h.safetensors", "q"] + store, "--reranker-head needs --reranker"),
            (["eval", "--retrieve-k", "5000"] + judged, "--retrieve-k must be in 1...1000, got 5000"),
            (["eval", "--limit", "0"] + judged, "--limit must be at least 1, got 0"),
            (["eval", "--server", "127.0.0.1:1"] + judged, "--store, --model and --reranker are the server's own"),
            (["tune", "--retrieve-k", "100,5000"] + judged, "--retrieve-k must be in 1...1000, got 5000"),
        ] {
            let output = try cascade(arguments)
            #expect(output.status == 64, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(message), "\(arguments): \(output.stderr)")
        }
    }

    @Test func tuneRefusesRerankingWithoutAReranker() throws {
        let output = try cascade([
            "tune", "--store", "/nonexistent", "--model", try miniLM().path, "--queries", "q", "--qrels", "r",
            "--rerank-k", "0,10",
        ])
        #expect(output.status != 0)
        #expect(output.stderr.contains("--rerank-k above 0 needs --reranker"), "\(output.stderr)")
    }
}
