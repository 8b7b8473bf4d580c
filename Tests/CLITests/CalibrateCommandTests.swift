import Foundation
import Testing

@Suite struct CalibrateCommandTests {
    @Test func calibrateStoresTheStoresDefaultNprobe() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(600, in: directory)
        let store = directory.appendingPathComponent("store").path
        let model = try miniLM().path
        let index = try cascade([
            "index", "--model", model, "--store", store, "--codes", "int8", "--partitions", "16", corpus.path,
        ])
        #expect(index.status == 0, "\(index.stderr)")
        let queries = packageRoot.appendingPathComponent("samples/debian-desc/queries.tsv").path

        let output = try cascade([
            "calibrate", "--store", store, "--model", model, "--queries", queries, "--limit", "60", "--k", "20",
            "--recall", "0.95", "--json",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let nprobe = try #require(object["nprobe"] as? Int)
        #expect((1...16).contains(nprobe))
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.last?["nprobe"] as? Int == 16)
        let reached = try #require(steps.first { $0["nprobe"] as? Int == nprobe }?["recall"] as? Double)
        #expect(reached >= 0.95)
        #expect(output.stderr.contains("calibrate: nprobe 1: recall@20"))

        let stats = try cascade(["stats", "--store", store, "--json"])
        let statsObject = try #require(
            try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect(statsObject["defaultNprobe"] as? Int == nprobe)
        #expect(statsObject["nprobeCalibrated"] as? Bool == true)
        #expect(
            try cascade(["stats", "--store", store]).stdout.contains("nprobe:      \(nprobe) by default (calibrated)"))

        // A dry run measures and leaves the default alone.
        let dry = try cascade([
            "calibrate", "--store", store, "--model", model, "--queries", queries, "--limit", "20", "--recall", "1",
            "--dry-run",
        ])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: the store's default is unchanged"))
        let after = try cascade(["stats", "--store", store, "--json"])
        let afterObject = try #require(
            try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        #expect(afterObject["defaultNprobe"] as? Int == nprobe)
    }

    @Test func badCalibrationsAreRefusedClearly() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(50, in: directory)
        let store = directory.appendingPathComponent("store").path
        let model = try miniLM().path
        #expect(try cascade(["index", "--model", model, "--store", store, corpus.path]).status == 0)
        let queries = packageRoot.appendingPathComponent("samples/debian-desc/queries.tsv").path

        let flat = try cascade(["calibrate", "--store", store, "--model", model, "--queries", queries])
        #expect(flat.status != 0)
        #expect(flat.stderr.contains("is not partitioned"), "\(flat.stderr)")
        let recall = try cascade([
            "calibrate", "--store", store, "--model", model, "--queries", queries, "--recall", "1.5",
        ])
        #expect(recall.status != 0)
        #expect(recall.stderr.contains("--recall must be in (0, 1], got 1.5"), "\(recall.stderr)")
        let missing = try cascade([
            "calibrate", "--store", store, "--model", model, "--queries", directory.appendingPathComponent("none").path,
        ])
        #expect(missing.status != 0 && !missing.stderr.isEmpty)
    }
}
