import ArgumentParser
import Cascade
import Foundation
import Indexing
import VectorStore

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring precomputed vectors, with their ids and texts, into a store.",
        discussion: """
            Either --vectors FILE.npy (float32/float16/float64, rows x dimension) with --passages FILE \
            (JSON lines or id<TAB>text, one passage a line, paired with the rows in order), or one \
            JSON-lines file of {"id", "text", "vector": [...]}. The input is checked whole first: a \
            bad line, a row count or dimension that does not match, refuses it all. The vectors must \
            come from the model the store records: name it with --model (a local folder) or \
            --fingerprint with --pooling and --similarity. Resumable: batches commit one by one, and \
            ids already stored with the same text are skipped.
            """
    )

    @Option(help: "The store directory (created when absent).")
    var store: String

    @Argument(help: "A JSON-lines file with id, text and vector fields.")
    var jsonl: String?

    @Option(help: "A .npy matrix of vectors, one row per passage of --passages.")
    var vectors: String?

    @Option(help: "The passages of --vectors' rows (JSON lines or id<TAB>text).")
    var passages: String?

    @Option(help: "The model folder the vectors were made with (its fingerprint, dimension, pooling).")
    var model: String?

    @Option(help: "Without --model: the fingerprint of the model the vectors were made with.")
    var fingerprint: String?

    @Option(help: "Without --model: the pooling recorded with --fingerprint.")
    var pooling = "mean"

    @Option(help: "Without --model: cosine (vectors normalised on import) or dot.")
    var similarity: Similarity = .cosine

    @Option(help: "How a new store keeps the vectors it scans (fp32, fp16, int8).")
    var codes: VectorCodes?

    @Option(
        help:
            "Partition the store into N after the import (0: leave it as it is; a store already in N keeps its partitions)."
    )
    var partitions: Int?

    @Option(help: "Passages per transaction.")
    var batchSize = 1000

    func validate() throws {
        guard (jsonl == nil) != (vectors == nil) else {
            throw ValidationError("give either a JSON-lines file or --vectors FILE.npy with --passages FILE")
        }
        guard (vectors == nil) == (passages == nil) else {
            throw ValidationError("--vectors and --passages go together")
        }
        guard (model == nil) != (fingerprint == nil) else {
            throw ValidationError(
                "name the vectors' model: --model DIR, or --fingerprint with --pooling and --similarity")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        let source: ImportSource
        let input: String
        if let vectors, let passages {
            source = try ImportSource.npy(
                vectors: URL(fileURLWithPath: vectors), passages: URL(fileURLWithPath: passages))
            input = vectors
        } else {
            input = jsonl!
            source = try ImportSource.jsonl(URL(fileURLWithPath: input))
        }
        let storeModel: StoreModel
        if let model {
            storeModel = try Retriever.load(directory: URL(fileURLWithPath: model)).storeModel
        } else {
            storeModel = StoreModel(
                fingerprint: fingerprint!, dimension: source.dimension, pooling: pooling, similarity: similarity)
        }
        guard source.dimension == storeModel.dimension else {
            throw ImportError.dimensionMismatch(path: input, expected: storeModel.dimension, got: source.dimension)
        }
        try source.check(against: storeModel)
        if let partitions, partitions > 0,
            !FileManager.default.fileExists(atPath: URL(fileURLWithPath: store).appendingPathComponent("data.mdb").path)
        {
            // Refused before the store is created; an existing store's own vectors count below.
            try VectorStore.checkPartitionCount(partitions, vectors: source.count)
        }
        printError("import: \(source.count) passages of \(source.dimension) dimensions checked")
        let vectorStore = try VectorStore.open(
            at: URL(fileURLWithPath: store), model: storeModel,
            options: newStoreOptions(codes: codes, partitions: partitions))
        let importer = VectorImporter(store: vectorStore, batchSize: batchSize)
        if let partitions, partitions > 0 {
            // Refused before anything is written, rather than after the import by the repartition.
            try VectorStore.checkPartitionCount(partitions, vectors: vectorStore.count + source.count)
        }
        let interruption = Interruption(command: "import", message: Self.kept(done: 0, of: source.count))
        defer { withExtendedLifetime(interruption) {} }
        var lastReport = clock.now
        let result = try importer.run(source) { progress in
            interruption.update(Self.kept(done: progress.done, of: progress.total))
            guard clock.now - lastReport >= .seconds(1) || progress.done == progress.total else { return }
            lastReport = clock.now
            printError(
                "import: \(progress.done)/\(progress.total) (\(String(format: "%.0f", progress.rate)) vectors/s)")
        }
        try partitionAfterBuild(vectorStore, partitions: partitions, interruption: interruption)
        let stats = try vectorStore.stats()
        printError(
            """
            import: done in \(String(format: "%.1f", (clock.now - started).milliseconds / 1000)) s: \
            \(result.indexed) imported, \(result.alreadyPresent) already present; store holds \(stats.count) \
            passages (\(stats.codes.rawValue) codes), \(stats.bytesOnDisk / 1_048_576) MiB
            """)
    }

    /// What an interrupted import has kept: every batch is committed as it is written.
    static func kept(done: Int, of total: Int) -> String {
        "at least \(done) of the \(total) passages are in the store; run the same command again to import the rest"
    }
}
