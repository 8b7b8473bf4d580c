import Foundation
import Testing

@testable import VectorStore

/// A fresh directory under the system temp folder, removed when the test ends.
final class TempDir {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func store(_ name: String = "store") -> URL { url.appendingPathComponent(name) }
}

func model(dimension: Int, similarity: Similarity = .dot) -> StoreModel {
    StoreModel(fingerprint: "test-model", dimension: dimension, pooling: "mean", similarity: similarity)
}

/// A new store in `dir` with small blocks (so a few hundred vectors span many), int8 codes by default.
func smallStore(
    _ dir: TempDir, dimension: Int, similarity: Similarity = .dot, blockSize: Int = 16, codes: VectorCodes = .int8
) throws -> VectorStore {
    try VectorStore.open(
        at: dir.store(), model: model(dimension: dimension, similarity: similarity),
        options: StoreOptions(blockSize: blockSize, codes: codes))
}

/// Small integer components keep every float dot product exact, so the store must match the
/// reference bit for bit, and many scores tie (which exercises the id tie-break).
func integerVector(_ dimension: Int, _ rng: inout SplitMix64, range: ClosedRange<Int> = -3...3) -> [Float] {
    (0..<dimension).map { _ in Float(Int.random(in: range, using: &rng)) }
}

/// Exact top-k by brute force: score descending, then id ascending (UTF-8 bytes).
func referenceSearch(_ items: [String: [Float]], query: [Float], k: Int) -> [Hit] {
    let scored = items.map { id, vector in
        Hit(id: id, score: Float(zip(vector, query).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }))
    }
    let sorted = scored.sorted {
        $0.score != $1.score ? $0.score > $1.score : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8)
    }
    return Array(sorted.prefix(k))
}

/// The executable target `store-writer`, built next to this test binary.
func storeWriterURL() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        Bundle.main.bundleURL.deletingLastPathComponent(),
        Bundle.main.bundleURL,
    ]
    for directory in candidates {
        let url = directory.appendingPathComponent("store-writer")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw TestFailure(
        "store-writer not found next to the test binary (\(candidates.map(\.path))); run `swift build --product store-writer`"
    )
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Mirrors Tests/StoreWriter: the model, layout and batch contents the child process writes.
enum BatchModel {
    static let model = StoreModel(fingerprint: "batch-test", dimension: 8, pooling: "none", similarity: .dot)
    static let options = StoreOptions(blockSize: 16, initialMapSize: 1 << 20)

    static func batch(_ b: Int, items: Int) -> [(passage: Passage, vector: [Float])] {
        var vector = [Float](repeating: 0, count: model.dimension)
        vector[0] = Float(b + 1)
        vector[1 + b % (model.dimension - 1)] = 0.5
        var out = (0..<items).map {
            (passage: Passage(id: "b\(b)-\($0)", text: "batch \(b) item \($0)"), vector: vector)
        }
        out.append((passage: Passage(id: "latest", text: "\(b)"), vector: vector))
        return out
    }

    /// Low-scoring bulk (score 0 against `query`) so batches span blocks and the map must grow.
    static func filler(_ b: Int) -> [(passage: Passage, vector: [Float])] {
        (0..<100).map {
            (
                passage: Passage(id: "f\(b)-\($0)", text: String(repeating: "f", count: 500)),
                vector: [0, 1, 1, 1, 1, 1, 1, 1]
            )
        }
    }

    static let query: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]

    /// Checks that `hits` (all items, k large enough) show whole batches 0..<n and nothing else;
    /// returns n. Every item of batch b scores b + 1; "latest" scores n.
    static func committedBatches(_ hits: [Hit], items: Int) throws -> Int {
        var perBatch = [Int: Int]()
        var latest: Float?
        for hit in hits {
            if hit.id == "latest" {
                latest = hit.score
                continue
            }
            guard let b = Int(hit.id.dropFirst().prefix { $0 != "-" }), hit.score == Float(b + 1) else {
                throw TestFailure("unexpected hit \(hit)")
            }
            perBatch[b, default: 0] += 1
        }
        let n = perBatch.count
        guard perBatch.keys.sorted() == Array(0..<n) else {
            throw TestFailure("batches not contiguous: \(perBatch.keys.sorted())")
        }
        guard perBatch.values.allSatisfy({ $0 == items }) else {
            throw TestFailure("a partial batch is visible: \(perBatch)")
        }
        guard n == 0 ? latest == nil : latest == Float(n) else {
            throw TestFailure("\"latest\" scores \(String(describing: latest)) but \(n) batches are visible")
        }
        return n
    }
}

/// Turns a new, still empty store with codes into what builds before format 4 made (format 2, one
/// full-precision vector per value), and opens it again, as the group is read at open.
func makeUngrouped(_ store: VectorStore) throws -> VectorStore {
    try store.write(operation: "test", estimatedBytes: 0) { txn in
        try txn.putMeta(store.dbs, Schema.MetaKey.format, integer: 2)
        _ = try withKey(Schema.MetaKey.fullGroup) { try txn.delete(store.dbs.meta, key: $0) }
    }
    return try VectorStore.open(existingAt: URL(fileURLWithPath: store.path))
}
