import Foundation
import Testing

@testable import VectorStore

@Suite struct WriteTests {
    /// Writes that name their encoder's precision leave it for `stats`; one that fails leaves nothing.
    @Test func encoderPrecisionsAreKeptForStats() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        let item = (passage: Passage(id: "a", text: "a"), vector: [Float(1), 0])
        try store.upsert([item])
        #expect(try store.stats().encoderPrecisions == [])
        try store.upsert([item], encoderPrecision: "int8")
        #expect(throws: StoreError.self) {
            try store.upsert([(passage: Passage(id: "b", text: "b"), vector: [1])], encoderPrecision: "fp16")
        }
        try store.upsert([item], encoderPrecision: "fp32")
        try store.upsert([item], encoderPrecision: "int8")
        #expect(try store.stats().encoderPrecisions == ["fp32", "int8"])
    }

    @Test func upsertReplacesTextAndVectorInPlace() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 3))
        try store.upsert([
            (passage: Passage(id: "a", text: "first a"), vector: [1, 0, 0]),
            (passage: Passage(id: "b", text: "first b"), vector: [0, 1, 0]),
        ])
        try store.upsert([(passage: Passage(id: "a", text: "second a"), vector: [0, 0, 5])])
        #expect(store.count == 2)
        #expect(try store.passage(id: "a") == Passage(id: "a", text: "second a"))
        #expect(try store.vector(id: "a") == [0, 0, 5])
        #expect(try store.search([0, 0, 1], k: 2) == [Hit(id: "a", score: 5), Hit(id: "b", score: 0)])
        #expect(try store.search([1, 0, 0], k: 2).map(\.score) == [0, 0])
        // Same id twice in one batch: the later one wins.
        try store.upsert([
            (passage: Passage(id: "c", text: "c1"), vector: [1, 1, 1]),
            (passage: Passage(id: "c", text: "c2"), vector: [2, 2, 2]),
        ])
        #expect(store.count == 3)
        #expect(try store.passage(id: "c")?.text == "c2")
        #expect(try store.vector(id: "c") == [2, 2, 2])
    }

    @Test func deleteIsAllOrNothing() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        try store.upsert((0..<5).map { (passage: Passage(id: "p\($0)", text: "t\($0)"), vector: [Float($0), 1]) })
        #expect(throws: StoreError.unknownIds(["nope", "gone"])) {
            try store.delete(ids: ["p1", "nope", "p2", "gone"])
        }
        #expect(store.count == 5)
        #expect(
            try store.passages(ids: ["p1", "p2"]) == [Passage(id: "p1", text: "t1"), Passage(id: "p2", text: "t2")])
        #expect(try store.search([1, 0], k: 10).count == 5)
        #expect(
            StoreError.unknownIds(["nope", "gone"]).description
                == "unknown ids (nothing was deleted): \"nope\", \"gone\"")

        try store.delete(ids: ["p1", "p2", "p1"])
        #expect(store.count == 3)
        #expect(
            try store.passages(ids: ["p0", "p1", "p2", "p3"]) == [
                Passage(id: "p0", text: "t0"), nil, nil, Passage(id: "p3", text: "t3"),
            ])
        #expect(try store.search([1, 0], k: 10).map(\.id) == ["p4", "p3", "p0"])
        #expect(throws: StoreError.unknownIds(["p1"])) { try store.delete(ids: ["p1"]) }
    }

    @Test func dataSurvivesReopen() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 5)
        let items = (0..<300).map {
            (passage: Passage(id: "d\($0)", text: "passage \($0) ✓ ünïcode"), vector: integerVector(6, &rng))
        }
        do {
            let store = try VectorStore.open(
                at: dir.store(), model: model(dimension: 6), options: StoreOptions(blockSize: 32))
            try store.upsert(items)
            try store.delete(ids: ["d0", "d299"])
        }
        let reopened = try VectorStore.open(at: dir.store(), model: model(dimension: 6))
        #expect(reopened.count == 298)
        #expect(reopened.blockSize == 32)  // fixed at creation, not by later options
        #expect(try reopened.passage(id: "d150") == items[150].passage)
        #expect(try reopened.passage(id: "d0") == nil)
        var reference = Dictionary(uniqueKeysWithValues: items.map { ($0.passage.id, $0.vector) })
        reference["d0"] = nil
        reference["d299"] = nil
        let query = integerVector(6, &rng)
        #expect(try reopened.search(query, k: 40) == referenceSearch(reference, query: query, k: 40))

        let readOnly = try VectorStore.open(existingAt: dir.store(), readOnly: true)
        #expect(readOnly.model == model(dimension: 6))
        let stats = try readOnly.stats()
        #expect(
            stats.count == 298 && stats.formatVersion == 1 && stats.bytesOnDisk > 0 && stats.path == dir.store().path)
        #expect(try readOnly.search(query, k: 40) == referenceSearch(reference, query: query, k: 40))
        #expect(throws: StoreError.readOnly(operation: "upsert", path: dir.store().path)) {
            try readOnly.upsert([items[0]])
        }
        #expect(throws: StoreError.readOnly(operation: "delete", path: dir.store().path)) {
            try readOnly.delete(ids: ["d1"])
        }
    }

    @Test func sameDirectoryOpenedTwiceSharesOneEnvironment() throws {
        let dir = try TempDir()
        do {
            _ = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        }
        do {
            let reader = try VectorStore.open(existingAt: dir.store(), readOnly: true)
            let message = "open for writing (this process has it open read-only)"
            #expect(throws: StoreError.readOnly(operation: message, path: dir.store().path)) {
                _ = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
            }
            #expect(reader.readOnly)
        }
        // Writable first, then a read-only view: the view sees the writer's commits.
        let writer = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        let view = try VectorStore.open(existingAt: dir.store(), readOnly: true)
        try writer.upsert([(passage: Passage(id: "x", text: "t"), vector: [1, 2])])
        #expect(try view.passage(id: "x") == Passage(id: "x", text: "t"))
        #expect(view.readOnly && !writer.readOnly)
    }

    @Test func anotherModelIsRefused() throws {
        let dir = try TempDir()
        let built = StoreModel(fingerprint: "minilm-abc", dimension: 384, pooling: "mean", similarity: .cosine)
        _ = try VectorStore.open(at: dir.store(), model: built)
        let variants = [
            StoreModel(fingerprint: "tasb-xyz", dimension: 384, pooling: "mean", similarity: .cosine),
            StoreModel(fingerprint: "minilm-abc", dimension: 768, pooling: "mean", similarity: .cosine),
            StoreModel(fingerprint: "minilm-abc", dimension: 384, pooling: "cls", similarity: .cosine),
            StoreModel(fingerprint: "minilm-abc", dimension: 384, pooling: "mean", similarity: .dot),
        ]
        for requested in variants {
            #expect(throws: StoreError.modelMismatch(stored: built, requested: requested, path: dir.store().path)) {
                _ = try VectorStore.open(at: dir.store(), model: requested)
            }
        }
        let message = StoreError.modelMismatch(stored: built, requested: variants[0], path: "/x").description
        #expect(
            message == "vector store /x was built with another model: stored (fingerprint minilm-abc, dimension 384, "
                + "pooling mean, similarity cosine), requested (fingerprint tasb-xyz, dimension 384, pooling mean, "
                + "similarity cosine)")
        #expect(try VectorStore.open(existingAt: dir.store()).model == built)
    }

    @Test func aDataFileCutShortIsRefusedInsteadOfFaulting() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 7)
        do {
            let store = try smallStore(dir, dimension: 32, codes: .fp32)
            try store.upsert(
                (0..<2_000).map { (Passage(id: "p\($0)", text: "text \($0)"), integerVector(32, &rng)) })
        }
        let file = dir.store().appendingPathComponent("data.mdb")
        let whole = try Data(contentsOf: file)
        try whole.prefix(whole.count / 2).write(to: file)
        let error = #expect(throws: StoreError.self) { _ = try VectorStore.open(existingAt: dir.store()) }
        #expect(
            error?.description.contains(
                "data.mdb is \(whole.count / 2) bytes, shorter than the") == true, "\(String(describing: error))")
    }

    @Test func nonStoresAreRefused() throws {
        let dir = try TempDir()
        let missing = dir.store("missing")
        #expect(throws: StoreError.notAStore(path: missing.path, reason: "no such directory")) {
            _ = try VectorStore.open(existingAt: missing)
        }
        let other = dir.store("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: other.appendingPathComponent("notes.txt"))
        #expect(
            throws: StoreError.notAStore(
                path: other.path, reason: "the directory holds other files (notes.txt) and no data.mdb")
        ) {
            _ = try VectorStore.open(at: other, model: model(dimension: 4))
        }
        #expect(throws: StoreError.notAStore(path: other.path, reason: "no data.mdb in it")) {
            _ = try VectorStore.open(existingAt: other)
        }
        let file = other.appendingPathComponent("notes.txt")
        #expect(throws: StoreError.notAStore(path: file.path, reason: "it is a file, not a directory")) {
            _ = try VectorStore.open(at: file, model: model(dimension: 4))
        }
        let garbage = dir.store("garbage")
        try FileManager.default.createDirectory(at: garbage, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 8192).write(to: garbage.appendingPathComponent("data.mdb"))
        let error = #expect(throws: StoreError.self) { _ = try VectorStore.open(existingAt: garbage) }
        #expect(
            error?.description.hasPrefix("\(garbage.path) is not a vector store: data.mdb is not an LMDB file") == true)
    }

    @Test func newerFormatIsRefused() throws {
        let dir = try TempDir()
        do {
            let store = try VectorStore.open(at: dir.store(), model: model(dimension: 4))
            try store.write(operation: "test", estimatedBytes: 0) { txn in
                try txn.putMeta(store.dbs, Schema.MetaKey.format, integer: 5)
            }
        }
        let expected = StoreError.newerFormat(path: dir.store().path, found: 5, supported: 4)
        #expect(throws: expected) { _ = try VectorStore.open(existingAt: dir.store()) }
        #expect(throws: expected) { _ = try VectorStore.open(at: dir.store(), model: model(dimension: 4)) }
        #expect(
            expected.description
                == "vector store \(dir.store().path) has format version 5; this build reads up to version 4")
    }

    /// Ids are stored in NFC and looked up in NFC: two spellings of "café" are one passage.
    @Test func idsAreOneUnicodeNormalForm() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        try store.upsert([(passage: Passage(id: "cafe\u{0301}", text: "one"), vector: [1, 0])])
        try store.upsert([(passage: Passage(id: "caf\u{E9}", text: "two"), vector: [0, 1])])
        #expect(store.count == 1)
        let stored = try #require(try store.passage(id: "cafe\u{0301}"))
        #expect(stored.text == "two" && stored.id.unicodeScalars.elementsEqual("caf\u{E9}".unicodeScalars))
        #expect(
            try store.search([0, 1], k: 1).map { Array($0.id.unicodeScalars) } == [Array("caf\u{E9}".unicodeScalars)])
        try store.delete(ids: ["cafe\u{0301}", "caf\u{E9}"])
        #expect(store.count == 0)
    }

    @Test func badItemsAreRefusedBeforeWriting() throws {
        let dir = try TempDir()
        let store = try VectorStore.open(at: dir.store(), model: model(dimension: 2))
        let good = (passage: Passage(id: "ok", text: ""), vector: [Float(1), 2])
        #expect(throws: StoreError.dimensionMismatch(id: "bad", expected: 2, got: 3)) {
            try store.upsert([good, (passage: Passage(id: "bad", text: ""), vector: [1, 2, 3])])
        }
        #expect(throws: StoreError.invalidVector(id: "inf", reason: "it contains NaN or infinite values")) {
            try store.upsert([good, (passage: Passage(id: "inf", text: ""), vector: [1, .infinity])])
        }
        #expect(throws: StoreError.invalidId(id: "", reason: "id must not be empty")) {
            try store.upsert([(passage: Passage(id: "", text: ""), vector: [1, 2])])
        }
        let long = String(repeating: "é", count: 300)
        #expect(throws: StoreError.invalidId(id: long, reason: "id is 600 bytes; the limit is 511")) {
            try store.upsert([(passage: Passage(id: long, text: ""), vector: [1, 2])])
        }
        #expect(throws: StoreError.self) {
            try store.upsert([(passage: Passage(id: "a\u{0}", text: ""), vector: [1, 2])])
        }
        #expect(throws: StoreError.self) { try store.upsert([(passage: Passage(id: " a", text: ""), vector: [1, 2])]) }
        #expect(store.count == 0)
        #expect(
            StoreError.dimensionMismatch(id: "bad", expected: 2, got: 3).description
                == "vector of id \"bad\" has 3 dimensions; the store holds 2-dimensional vectors")
    }
}
