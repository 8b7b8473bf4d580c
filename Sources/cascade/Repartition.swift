import ArgumentParser
import Foundation
import VectorStore

struct RepartitionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repartition",
        abstract: "Train a store's partitions anew (spherical k-means) and regroup its vectors.",
        discussion: """
            For when the data has drifted from the partitions it was split into. One transaction: \
            searches see the old partitions until it commits, and a killed repartition leaves them \
            as they were.
            """
    )

    @Option(help: "The store directory.")
    var store: String

    @Option(help: "Partitions (centroids) to train; about the square root of the vector count is a start.")
    var partitions: Int

    @Option(help: "Vectors sampled per partition for training.")
    var samplePerPartition = 64

    @Option(help: "k-means iterations.")
    var iterations = 10

    func run() throws {
        let vectorStore = try VectorStore.open(existingAt: URL(fileURLWithPath: store))
        let interruption = Interruption(
            command: "repartition",
            message: "the repartition is one transaction and had not committed: the store is as it was")
        try withExtendedLifetime(interruption) {
            try repartition(
                vectorStore, partitions: partitions, samplePerPartition: samplePerPartition, iterations: iterations)
        }
    }
}

/// Repartitions and reports on stderr (shared by index, import and repartition).
func repartition(_ store: VectorStore, partitions: Int, samplePerPartition: Int = 64, iterations: Int = 10) throws {
    printError("repartition: training \(partitions) partitions over \(store.count) vectors")
    let slots = partitions * store.blockSize
    if slots > 4 * store.count {
        // The block size is the store's own (1,024 rows unless it was built partitioned).
        var advice = "fewer partitions keep it smaller"
        if store.blockSize > VectorStore.partitionedBlockSize {
            advice +=
                ", as does building it with `cascade index --partitions` (blocks of "
                + "\(VectorStore.partitionedBlockSize) rows)"
        }
        printError(
            "repartition: warning: each partition takes whole blocks of \(store.blockSize) rows, so the store "
                + "will hold at least \(slots) slots for \(store.count) vectors; \(advice)")
    }
    let report = try store.repartition(
        partitions: partitions, samplePerPartition: samplePerPartition, iterations: iterations)
    let sizes = try store.stats().partitionSizes.sorted()
    printError(
        String(
            format: "repartition: done: trained on %d vectors in %.1f s, regrouped %d vectors in %.1f s; "
                + "partition sizes min %d, median %d, max %d",
            report.sampled, report.trainSeconds, report.vectors, report.writeSeconds, sizes.first ?? 0,
            sizes.isEmpty ? 0 : sizes[sizes.count / 2], sizes.last ?? 0))
    printError(
        "repartition: searches probe \(VectorStore.defaultNprobe(partitions: partitions)) partitions by default; "
            + "`cascade calibrate` measures how many queries like yours need")
}

/// `--partitions N` of index and import: partition once the data is in, unless it already is.
func partitionAfterBuild(_ store: VectorStore, partitions: Int?, interruption: Interruption) throws {
    guard let partitions, partitions > 0 else { return }
    if try store.stats().partitionSizes.count == partitions {
        printError("repartition: the store already has \(partitions) partitions; new vectors went to their nearest")
        return
    }
    interruption.update(
        "every passage is in the store, which is not partitioned yet (the repartition is one transaction and had "
            + "not committed): run the same command again to partition it")
    try repartition(store, partitions: partitions)
}

/// How index and import create a store: smaller blocks when it is to be partitioned.
func newStoreOptions(codes: VectorCodes?, partitions: Int?) -> StoreOptions {
    let partitioned = (partitions ?? 0) > 0
    return StoreOptions(
        blockSize: partitioned ? VectorStore.partitionedBlockSize : StoreOptions().blockSize, codes: codes)
}

extension VectorCodes: ExpressibleByArgument {}
extension Similarity: ExpressibleByArgument {}
