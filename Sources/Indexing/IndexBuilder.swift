import Cascade
import Foundation
import Tokenization
import VectorStore

/// Where an index build stands, reported after every committed batch.
public struct IndexProgress: Sendable {
    /// Passages in the corpus, and how many of them are now in the store (indexed or found there).
    public var total: Int
    public var done: Int
    /// Passages encoded and committed by this run.
    public var indexed: Int
    /// Passages already in the store with the same text, left alone (a resumed build).
    public var alreadyPresent: Int
    public var elapsed: Duration

    /// Passages per second encoded by this run.
    public var rate: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return seconds > 0 ? Double(indexed) / seconds : 0
    }

    public var eta: Duration? {
        guard rate > 0 else { return nil }
        return .seconds(Double(total - done) / rate)
    }
}

/// Encodes a corpus into a store, resumably: every batch is one LMDB transaction, and a passage
/// already stored with the same text is not encoded again, so a killed build rerun with the same
/// command picks up where the last committed batch left it.
public struct IndexBuilder: Sendable {
    public let store: VectorStore
    public let retriever: Retriever
    /// Passages per transaction (and per model batch).
    public var batchSize: Int
    /// Passages looked up, sorted by length and encoded together: larger windows pad less.
    public var window: Int

    public init(store: VectorStore, retriever: Retriever, batchSize: Int = 32, window: Int = 4096) {
        self.store = store
        self.retriever = retriever
        self.batchSize = max(1, batchSize)
        self.window = max(self.batchSize, window)
    }

    public func run(
        _ passages: [Passage], progress: (IndexProgress) -> Void = { _ in }
    ) throws -> IndexProgress {
        let clock = ContinuousClock()
        let started = clock.now
        var state = IndexProgress(total: passages.count, done: 0, indexed: 0, alreadyPresent: 0, elapsed: .zero)
        var windowStart = 0
        while windowStart < passages.count {
            try Task.checkCancellation()
            let slice = Array(passages[windowStart..<min(windowStart + window, passages.count)])
            windowStart += slice.count
            let stored = try store.passages(ids: slice.map(\.id))
            let todo = zip(slice, stored).filter { $0.1?.text != $0.0.text }.map(\.0)
            state.alreadyPresent += slice.count - todo.count
            state.done += slice.count - todo.count
            let encodings = retriever.encode(todo.map(\.text))
            try forEachLengthBatch(encodings, size: batchSize) { batch in
                try Task.checkCancellation()
                let vectors = try retriever.encoder.embed(retriever.tokenizer.batch(batch.map { encodings[$0] }))
                try store.upsert(
                    zip(batch, vectors).map { (passage: todo[$0.0], vector: $0.1) },
                    encoderPrecision: retriever.encoder.precision.rawValue)
                state.indexed += batch.count
                state.done += batch.count
                state.elapsed = clock.now - started
                progress(state)
            }
        }
        state.elapsed = clock.now - started
        return state
    }
}
