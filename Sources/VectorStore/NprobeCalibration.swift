import Foundation

/// What `calibrateNprobe` measured: at each nprobe it tried, how much of the top k of probing
/// every partition a search found, and the smallest nprobe that reached the target.
public struct NprobeCalibration: Sendable, Codable {
    public struct Step: Sendable, Codable {
        public var nprobe: Int
        /// Mean over the queries of |found ∩ all partitions' top k| / |all partitions' top k|.
        public var recall: Double
        /// Search time per query, queries run one after another in one read.
        public var milliseconds: Double
    }

    public var k: Int
    public var target: Double
    public var queries: Int
    public var partitions: Int
    /// Every nprobe tried, in increasing order; the last is all partitions.
    public var steps: [Step]
    /// The fewest partitions that reached the target.
    public var nprobe: Int
}

extension VectorStore {
    /// Finds the fewest partitions a search must probe for its top `k` to hold, averaged over
    /// `queries`, at least `target` of the top `k` found by probing all of them, and makes that
    /// the store's default nprobe when `save` is set (durably, in one write; a repartition drops it).
    ///
    /// Why from queries and not from the stored vectors: the partitions are trained on passages,
    /// and a passage lies near its own centre, while a query can lie between many. On debian-desc
    /// (all-MiniLM-L6-v2, 256 partitions) the fixed eighth lost 0.028 MRR@10 against probing all:
    /// real queries need far more partitions than the passages suggest, and only queries of the
    /// kind the store will see (a sample of real ones, not those it is judged on) say how many.
    ///
    /// Recall grows with nprobe, so the search doubles nprobe until the target is reached, then
    /// bisects between the last two tries.
    public func calibrateNprobe(
        queries: [[Float]], k: Int, target: Double, save: Bool = true,
        progress: (NprobeCalibration.Step) -> Void = { _ in }
    ) throws -> NprobeCalibration {
        guard !queries.isEmpty else { throw StoreError.invalidOption("calibration needs at least one query") }
        guard target > 0, target <= 1 else {
            throw StoreError.invalidOption("the recall target must be in (0, 1], got \(target)")
        }
        let partitions = try read { txn in try Centroids.read(txn, dbs, dimension: model.dimension)?.count }
        guard let partitions else {
            throw StoreError.invalidOption(
                "the store at \(path) is not partitioned: every search scans it all; partition it first "
                    + "(cascade repartition --partitions N)")
        }

        func timed(_ nprobe: Int) throws -> (hits: [[Hit]], milliseconds: Double) {
            let start = ContinuousClock.now
            let hits = try search(queries, k: k, options: SearchOptions(nprobe: nprobe))
            let elapsed = start.duration(to: .now)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            return (hits, seconds * 1000 / Double(queries.count))
        }
        let (all, allMilliseconds) = try timed(partitions)
        let truth = all.map { Set($0.map(\.id)) }
        var steps: [NprobeCalibration.Step] = []
        func recall(_ nprobe: Int) throws -> Bool {
            let (found, milliseconds) = try timed(nprobe)
            var sum = 0.0
            for (hits, exact) in zip(found, truth) where !exact.isEmpty {
                sum += Double(hits.count { exact.contains($0.id) }) / Double(exact.count)
            }
            let step = NprobeCalibration.Step(
                nprobe: nprobe, recall: sum / Double(queries.count), milliseconds: milliseconds)
            steps.append(step)
            progress(step)
            return step.recall >= target
        }

        var failed = 0
        var reached = partitions
        var nprobe = 1
        while nprobe < partitions {
            if try recall(nprobe) {
                reached = nprobe
                break
            }
            failed = nprobe
            nprobe *= 2
        }
        while reached - failed > 1 {
            let middle = (failed + reached) / 2
            if try recall(middle) { reached = middle } else { failed = middle }
        }
        let last = NprobeCalibration.Step(nprobe: partitions, recall: 1, milliseconds: allMilliseconds)
        progress(last)
        steps.append(last)
        steps.sort { $0.nprobe < $1.nprobe }

        if save {
            try write(operation: "calibrate", estimatedBytes: 4096) { txn in
                // A repartition between the measurement and this write would make it meaningless.
                guard try Centroids.read(txn, dbs, dimension: model.dimension)?.count == partitions else {
                    throw StoreError.invalidOption("the store was repartitioned during the calibration; run it again")
                }
                try txn.putMeta(dbs, Schema.MetaKey.nprobe, integer: UInt64(reached))
            }
        }
        return NprobeCalibration(
            k: k, target: target, queries: queries.count, partitions: partitions, steps: steps, nprobe: reached)
    }
}
