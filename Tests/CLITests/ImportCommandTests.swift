import Foundation
import Testing
import VectorStore

/// A float32 `.npy` file of `rows` x `dim`.
private func writeNpy(_ values: [Float], rows: Int, dim: Int, to url: URL) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(dim)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let length = UInt16(header.utf8.count)
    data += Data([UInt8(length & 0xff), UInt8(length >> 8)]) + Data(header.utf8)
    values.withUnsafeBytes { data += Data($0) }
    try data.write(to: url)
}

/// Reproducible vectors whose first component names the row, so searches can check them.
private func rowVectors(_ rows: Int, dim: Int) -> [Float] {
    (0..<rows * dim).map { i in
        let (row, j) = (i / dim, i % dim)
        return j == 0 ? Float(row % 997) + 1 : Float((row * 31 + j * 17) % 13) / 13
    }
}

private func passagesFile(_ rows: Int, in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent("passages.tsv")
    try (0..<rows).map { "p\($0)\tpassage number \($0)" }.joined(separator: "\n").appending("\n")
        .write(to: url, atomically: true, encoding: .utf8)
    return url
}

@Suite struct ImportCommandTests {
    @Test func npyImportKeepsEveryVectorAndPartitions() throws {
        let directory = try temporaryDirectory()
        let (rows, dim) = (600, 16)
        let vectors = rowVectors(rows, dim: dim)
        let npy = directory.appendingPathComponent("vectors.npy")
        try writeNpy(vectors, rows: rows, dim: dim, to: npy)
        let store = directory.appendingPathComponent("store")
        let output = try cascade([
            "import", "--store", store.path, "--vectors", npy.path, "--passages",
            try passagesFile(rows, in: directory).path, "--fingerprint", "elsewhere-v1", "--similarity", "dot",
            "--codes", "int8", "--partitions", "6",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stderr.contains("import: done"), "\(output.stderr)")
        #expect(output.stderr.contains("repartition: done"), "\(output.stderr)")
        let opened = try VectorStore.open(existingAt: store, readOnly: true)
        #expect(opened.count == rows && opened.codes == .int8)
        #expect(opened.model.fingerprint == "elsewhere-v1")
        #expect(try opened.vector(id: "p42") == Array(vectors[42 * dim..<43 * dim]))
        #expect(try opened.passage(id: "p42")?.text == "passage number 42")
        let stats = try cascade(["stats", "--store", store.path])
        #expect(stats.stdout.contains("int8, 20 bytes/vector"), "\(stats.stdout)")
        #expect(stats.stdout.contains("partitions:  6, vectors per partition"), "\(stats.stdout)")
        #expect(stats.stdout.contains("in memory now"), "\(stats.stdout)")
        #expect(stats.stdout.contains("encoded at:  not recorded"), "\(stats.stdout)")

        // Query vectors made elsewhere calibrate the imported store's nprobe (no model needed).
        let queries = directory.appendingPathComponent("queries.npy")
        try writeNpy(rowVectors(40, dim: dim).map { $0 + 0.25 }, rows: 40, dim: dim, to: queries)
        let calibrated = try cascade([
            "calibrate", "--store", store.path, "--query-vectors", queries.path, "--k", "10", "--json",
        ])
        #expect(calibrated.status == 0, "\(calibrated.stderr)")
        #expect(calibrated.stderr.contains("calibrate: 40 query vectors from"), "\(calibrated.stderr)")
        #expect(try cascade(["stats", "--store", store.path]).stdout.contains("(calibrated)"))
        let narrow = directory.appendingPathComponent("narrow.npy")
        try writeNpy(rowVectors(4, dim: 8), rows: 4, dim: 8, to: narrow)
        let mismatch = try cascade(["calibrate", "--store", store.path, "--query-vectors", narrow.path])
        #expect(mismatch.status != 0)
        #expect(mismatch.stderr.contains("have 8 dimensions; the store's have 16"), "\(mismatch.stderr)")
        let both = try cascade([
            "calibrate", "--store", store.path, "--query-vectors", queries.path, "--model", "m", "--queries", "q",
        ])
        #expect(both.status != 0)
        #expect(both.stderr.contains("give either --model and --queries"), "\(both.stderr)")

        // Another model's vectors are refused, naming both.
        let other = try cascade([
            "import", "--store", store.path, "--vectors", npy.path, "--passages",
            try passagesFile(rows, in: directory).path, "--fingerprint", "something-else", "--similarity", "dot",
        ])
        #expect(other.status != 0)
        #expect(other.stderr.contains("built with another model"), "\(other.stderr)")
    }

    @Test func aKilledImportResumesWithEveryPassageExactlyOnce() throws {
        let directory = try temporaryDirectory()
        let (rows, dim) = (40000, 32)
        let npy = directory.appendingPathComponent("vectors.npy")
        try writeNpy(rowVectors(rows, dim: dim), rows: rows, dim: dim, to: npy)
        let store = directory.appendingPathComponent("store")
        let arguments = [
            "import", "--store", store.path, "--vectors", npy.path, "--passages",
            try passagesFile(rows, in: directory).path, "--fingerprint", "elsewhere-v1", "--batch-size", "50",
            "--codes", "int8",
        ]
        try killMidWrite(arguments, store: store, afterCommitting: 2000)
        // Whole batches only.
        let killedAt = try VectorStore.open(existingAt: store, readOnly: true).count
        #expect(killedAt % 50 == 0 && killedAt >= 2000)

        let resumed = try cascade(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(
            resumed.stderr.contains("\(rows - killedAt) imported, \(killedAt) already present"), "\(resumed.stderr)")
        let reopened = try VectorStore.open(existingAt: store, readOnly: true)
        #expect(reopened.count == rows)
        #expect(try reopened.passage(id: "p\(rows - 1)")?.text == "passage number \(rows - 1)")
    }

    @Test func repartitionWarnsWhenPartitionsWouldPadTheStore() throws {
        let directory = try temporaryDirectory()
        let store = directory.appendingPathComponent("store")
        let npy = directory.appendingPathComponent("v.npy")
        try writeNpy(rowVectors(50, dim: 4), rows: 50, dim: 4, to: npy)
        let imported = try cascade([
            "import", "--store", store.path, "--vectors", npy.path, "--passages",
            try passagesFile(50, in: directory).path, "--fingerprint", "f",
        ])
        try #require(imported.status == 0, "\(imported.stderr)")
        let padded = try cascade(["repartition", "--store", store.path, "--partitions", "5"])
        #expect(padded.status == 0, "\(padded.stderr)")
        #expect(
            padded.stderr.contains(
                "each partition takes whole blocks of 1024 rows, so the store will hold at least 5120 slots for 50 vectors"
            ),
            "\(padded.stderr)")
    }

    @Test func badInputIsRefusedWholeNamingTheLine() throws {
        let directory = try temporaryDirectory()
        let store = directory.appendingPathComponent("store")
        let jsonl = directory.appendingPathComponent("vectors.jsonl")
        try """
        {"id": "a", "text": "first", "vector": [1, 0, 0]}
        {"id": "b", "text": "second"}
        {"id": "c", "text": "third", "vector": [1, 0]}
        {"id": "d", "text": "fourth", "vector": [1, "x", 0]}
        {"id": "a", "text": "again", "vector": [0, 1, 0]}

        """.write(to: jsonl, atomically: true, encoding: .utf8)
        let output = try cascade(["import", "--store", store.path, "--fingerprint", "f", jsonl.path])
        #expect(output.status != 0)
        for expected in [
            "4 bad lines; nothing was imported", "line 2: missing \"vector\"",
            "line 3: \"vector\" has 2 numbers; earlier lines have 3", "line 4: \"vector\" must be an array of numbers",
            "line 5: repeated id a",
        ] {
            #expect(output.stderr.contains(expected), "\(expected) in \(output.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: store.path), "nothing may be written")

        // Rows and passages that do not pair up.
        let npy = directory.appendingPathComponent("v.npy")
        /// `v.npy` with `passages` passages under the fingerprint "f".
        func importNpy(passages: Int, _ extra: [String] = []) throws -> Output {
            try cascade(
                [
                    "import", "--store", store.path, "--vectors", npy.path, "--passages",
                    try passagesFile(passages, in: directory).path, "--fingerprint", "f",
                ] + extra)
        }
        try writeNpy(rowVectors(5, dim: 4), rows: 5, dim: 4, to: npy)
        let mismatch = try importNpy(passages: 6)
        #expect(mismatch.status != 0)
        #expect(mismatch.stderr.contains("holds 5 vectors but"), "\(mismatch.stderr)")
        #expect(mismatch.stderr.contains("has 6 passages"), "\(mismatch.stderr)")

        // Vectors of another dimension than the named model's.
        let wrongDimension = try cascade([
            "import", "--store", store.path, "--vectors", npy.path, "--passages",
            try passagesFile(5, in: directory).path, "--model", try miniLM().path,
        ])
        #expect(wrongDimension.status != 0)
        #expect(
            wrongDimension.stderr.contains("holds 4-dimensional vectors; the model has 384 dimensions"),
            "\(wrongDimension.stderr)")

        // Not a .npy file at all.
        try Data("hello".utf8).write(to: npy)
        let garbage = try importNpy(passages: 5)
        #expect(garbage.status != 0)
        #expect(garbage.stderr.contains("is not a usable .npy file"), "\(garbage.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.path))

        // More partitions than vectors: refused before any vector is written.
        try writeNpy(rowVectors(5, dim: 4), rows: 5, dim: 4, to: npy)
        let tooMany = try importNpy(passages: 5, ["--partitions", "8"])
        #expect(tooMany.status != 0)
        #expect(tooMany.stderr.contains("cannot make 8 partitions from 5 vectors; use at most 5"), "\(tooMany.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.path), "no store may be created")

        // A bad vector far into the file refuses the whole import, not the batches after it.
        var values = rowVectors(50, dim: 4)
        values[40 * 4 + 2] = .infinity
        try writeNpy(values, rows: 50, dim: 4, to: npy)
        let badRow = try importNpy(passages: 50, ["--batch-size", "5"])
        #expect(badRow.status != 0)
        #expect(badRow.stderr.contains("vector of id \"p40\" is invalid"), "\(badRow.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.path), "nothing may be written")
    }

    @Test func indexWithInt8CodesAndPartitionsThenRepartition() throws {
        let directory = try temporaryDirectory()
        let corpus = try sampleSlice(40, in: directory)
        let store = directory.appendingPathComponent("store").path
        let model = try miniLM().path
        let index = try cascade([
            "index", "--model", model, "--store", store, "--codes", "int8", "--partitions", "4", corpus.path,
        ])
        #expect(index.status == 0, "\(index.stderr)")
        var stats = try cascade(["stats", "--store", store])
        #expect(stats.stdout.contains("codes:       int8, 388 bytes/vector"), "\(stats.stdout)")
        #expect(stats.stdout.contains("partitions:  4,"), "\(stats.stdout)")
        let repartition = try cascade(["repartition", "--store", store, "--partitions", "3"])
        #expect(repartition.status == 0, "\(repartition.stderr)")
        stats = try cascade(["stats", "--store", store])
        #expect(stats.stdout.contains("partitions:  3,"), "\(stats.stdout)")
        // The first passage's text still finds it first.
        let first = try #require(String(contentsOf: corpus, encoding: .utf8).split(separator: "\n").first)
        let passage = try JSONDecoder().decode([String: String].self, from: Data(first.utf8))
        let search = try cascade(["search", "--store", store, "--model", model, "-k", "3", "--json", passage["text"]!])
        #expect(search.status == 0, "\(search.stderr)")
        #expect(search.stdout.contains("\"id\":\"\(passage["id"]!)\""), "\(search.stdout)")
        // Codes are fixed once the store exists.
        let fp16 = try cascade(["index", "--model", model, "--store", store, "--codes", "fp16", corpus.path])
        #expect(fp16.status != 0)
        #expect(fp16.stderr.contains("keeps int8 codes, not fp16"), "\(fp16.stderr)")
    }
}
