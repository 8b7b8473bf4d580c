import Foundation
import Testing
import VectorStore

@testable import Indexing

/// A directory under the temp folder holding a float32 `.npy` of `vectors` and a passages file.
private func importFiles(_ vectors: [[Float]]) throws -> (directory: URL, npy: URL, passages: URL) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cascade-import-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let dim = vectors[0].count
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(vectors.count), \(dim)), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
    let length = UInt16(header.utf8.count)
    data += Data([UInt8(length & 0xff), UInt8(length >> 8)]) + Data(header.utf8)
    vectors.flatMap { $0 }.withUnsafeBytes { data += Data($0) }
    let npy = directory.appendingPathComponent("vectors.npy")
    try data.write(to: npy)
    let passages = directory.appendingPathComponent("passages.tsv")
    try vectors.indices.map { "p\($0)\tpassage \($0)" }.joined(separator: "\n").appending("\n")
        .write(to: passages, atomically: true, encoding: .utf8)
    return (directory, npy, passages)
}

/// Points around `centres` random directions, reproducible.
private func clustered(_ count: Int, dimension: Int, centres: Int) -> [[Float]] {
    var state: UInt64 = 7
    func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(state >> 33) % 200 - 100) / 100
    }
    let middles = (0..<centres).map { _ in (0..<dimension).map { _ in next() * 4 } }
    return (0..<count).map { i in middles[i % centres].map { $0 + next() / 4 } }
}

@Suite struct VectorImportTests {
    @Test func anImportIntoAPartitionedStoreSendsEveryVectorToItsNearestAndResumes() throws {
        let (dim, rows, partitions) = (16, 900, 6)
        let vectors = clustered(rows, dimension: dim, centres: 6)
        let files = try importFiles(vectors)
        defer { try? FileManager.default.removeItem(at: files.directory) }
        let source = try ImportSource.npy(vectors: files.npy, passages: files.passages)
        let store = try VectorStore.open(
            at: files.directory.appendingPathComponent("store"),
            model: StoreModel(fingerprint: "f", dimension: dim, pooling: "mean", similarity: .dot),
            options: StoreOptions(blockSize: 16, codes: .int8))
        let importer = VectorImporter(store: store, batchSize: 100)
        // A partitioned store (trained on a part of the data) takes the rest one batch at a time.
        try store.repartition(partitions: partitions, trainingVectors: Array(vectors.prefix(120)))
        let result = try importer.run(source)
        #expect(result.indexed == rows)
        let stats = try store.stats()
        #expect(stats.partitionSizes.count == partitions && stats.partitionSizes.reduce(0, +) == rows)
        #expect(stats.partitionSizes.filter { $0 > 0 }.count > 1, "\(stats.partitionSizes)")
        for row in stride(from: 0, to: rows, by: 7) {
            #expect(try store.vector(id: "p\(row)") == vectors[row])
            #expect(try store.passage(id: "p\(row)")?.text == "passage \(row)")
        }
        let query = vectors[5]
        let all = try store.search(query, k: 10, options: SearchOptions(rescoreK: rows, nprobe: partitions))
        func score(_ row: Int) -> Float { zip(vectors[row], query).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
        let exact = vectors.indices.sorted { score($0) != score($1) ? score($0) > score($1) : $0 < $1 }
        #expect(all.map(\.id) == exact.prefix(10).map { "p\($0)" })

        let again = try importer.run(source)
        #expect(again.alreadyPresent == rows && again.indexed == 0)
    }
}
