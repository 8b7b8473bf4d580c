import Foundation
import Testing

@testable import VectorStore

@Suite struct DurabilityTests {
    @Test func mapGrowsAcrossManyInserts() throws {
        let dir = try TempDir()
        var rng = SplitMix64(seed: 11)
        let dimension = 64
        let store = try VectorStore.open(
            at: dir.store(), model: model(dimension: dimension),
            options: StoreOptions(blockSize: 128, initialMapSize: 1 << 20))
        let initial = store.mapSize
        var reference = [String: [Float]]()
        for batch in 0..<20 {
            let items = (0..<500).map { i in
                (
                    passage: Passage(id: "g\(batch)-\(i)", text: String(repeating: "w", count: 100)),
                    vector: integerVector(dimension, &rng)
                )
            }
            try store.upsert(items)
            for item in items { reference[item.passage.id] = item.vector }
        }
        #expect(store.mapSize > initial)
        #expect(store.count == 10_000)
        let query = integerVector(dimension, &rng)
        #expect(try store.search(query, k: 100) == referenceSearch(reference, query: query, k: 100))
        // A single batch far bigger than the map, too.
        let big = (0..<20_000).map { i in
            (passage: Passage(id: "big\(i)", text: ""), vector: integerVector(dimension, &rng))
        }
        try store.upsert(big)
        #expect(store.count == 30_000)
    }

    @Test func readersSeeWholeBatchesDuringWrites() throws {
        let dir = try TempDir()
        // A 1 MiB map: the writer grows it while readers are mid-scan.
        let store = try VectorStore.open(at: dir.store(), model: BatchModel.model, options: BatchModel.options)
        let batches = 40
        let items = 10
        let state = Shared()
        let group = DispatchGroup()
        // Real threads (not the cooperative pool), so readers and the writer truly overlap.
        DispatchQueue.global().async(group: group) {
            defer { state.finish() }
            do {
                for b in 0..<batches {
                    // Wait (briefly) for a search between batches, so snapshots interleave with commits.
                    state.waitForSearches(beyond: state.searches, timeout: 1)
                    try store.upsert(BatchModel.batch(b, items: items) + BatchModel.filler(b))
                }
            } catch { state.record("writer: \(error)") }
        }
        for _ in 0..<3 {
            DispatchQueue.global().async(group: group) {
                var last = 0
                repeat {
                    do {
                        let hits = try store.search(BatchModel.query, k: 1000)
                        let n = try BatchModel.committedBatches(hits.filter { !$0.id.hasPrefix("f") }, items: items)
                        // A later snapshot never shows fewer batches.
                        if n < last { state.record("went back from \(last) to \(n) batches") }
                        last = n
                        state.searched(n)
                    } catch { state.record("reader: \(error)") }
                } while !state.isFinished
            }
        }
        group.wait()
        #expect(state.errors.isEmpty, "\(state.errors.prefix(5))")
        #expect(
            try BatchModel.committedBatches(
                store.search(BatchModel.query, k: 1000).filter { !$0.id.hasPrefix("f") }, items: items) == batches)
        // The readers saw many intermediate states, not just the start and the end.
        #expect(state.distinctCounts.count > batches / 2, "\(state.distinctCounts.sorted())")
        #expect(store.mapSize > 1 << 20)
    }

    @Test func killedWriterLeavesExactlyTheCommittedBatches() throws {
        let dir = try TempDir()
        let items = 20
        let process = Process()
        process.executableURL = try storeWriterURL()
        process.arguments = ["batches", dir.store().path, "100000", "\(items)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // Let it commit a few batches (and grow the map), then kill it mid-stream.
        var text = ""
        var lastCommitted = -1
        let deadline = Date().addingTimeInterval(60)
        while lastCommitted < 30 && Date() < deadline {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            let lines = text.split(separator: "\n")
            if let last = lines.last(where: { $0.hasPrefix("committed ") }), text.hasSuffix("\n") {
                lastCommitted = Int(last.dropFirst("committed ".count)) ?? lastCommitted
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(lastCommitted >= 30, "the writer printed: \(text.suffix(200))")

        let store = try VectorStore.open(at: dir.store(), model: BatchModel.model, options: BatchModel.options)
        let n = try BatchModel.committedBatches(store.search(BatchModel.query, k: 1000), items: items)
        // Everything it reported committed is there, and at most the one batch in flight besides.
        #expect(n == lastCommitted + 1 || n == lastCommitted + 2)
        #expect(store.count == n * items + 1)
        #expect(try store.passage(id: "latest")?.text == "\(n - 1)")
        // And the store still takes writes.
        try store.upsert(BatchModel.batch(n, items: items))
        #expect(try BatchModel.committedBatches(store.search(BatchModel.query, k: 1000), items: items) == n + 1)
    }

    @Test func fullDiskFailsCleanlyAndKeepsTheStore() throws {
        let dir = try TempDir()
        do {
            let store = try VectorStore.open(at: dir.store(), model: BatchModel.model, options: BatchModel.options)
            for b in 0..<3 { try store.upsert(BatchModel.batch(b, items: 10)) }
        }
        let dataFile = dir.store().appendingPathComponent("data.mdb").path
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: dataFile)[.size] as! Int
        let process = Process()
        process.executableURL = try storeWriterURL()
        // The file may not grow by more than 64 KiB; the batch needs well over that.
        process.arguments = ["fill", dir.store().path, "\(sizeBefore + 65536)", "5000"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(printed)")
        // LMDB reports the refused write (EFBIG) as an I/O error of the commit.
        #expect(printed.hasPrefix("error: LMDB txn_commit failed: "), "\(printed)")
        #expect(printed.contains("the disk may be full or the file size limited. The transaction was rolled back"))

        let store = try VectorStore.open(at: dir.store(), model: BatchModel.model, options: BatchModel.options)
        #expect(try BatchModel.committedBatches(store.search(BatchModel.query, k: 1000), items: 10) == 3)
        #expect(store.count == 31)
        #expect(try store.passage(id: "big-0") == nil)
    }
}

/// What the reader and writer threads share.
final class Shared: @unchecked Sendable {
    private let condition = NSCondition()
    private var finished = false
    private var searchCount = 0
    private var counts = Set<Int>()
    private var failures = [String]()

    var isFinished: Bool { condition.withLock { finished } }
    var searches: Int { condition.withLock { searchCount } }
    var distinctCounts: Set<Int> { condition.withLock { counts } }
    var errors: [String] { condition.withLock { failures } }

    func finish() { condition.withLock { finished = true } }
    func record(_ failure: String) { condition.withLock { failures.append(failure) } }

    func searched(_ n: Int) {
        condition.withLock {
            searchCount += 1
            counts.insert(n)
            condition.broadcast()
        }
    }

    func waitForSearches(beyond count: Int, timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.withLock {
            while searchCount <= count && condition.wait(until: deadline) {}
        }
    }
}
