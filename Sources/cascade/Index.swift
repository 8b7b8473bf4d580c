import ArgumentParser
import Cascade
import Foundation
import Indexing
import Transformer
import VectorStore

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Encode a corpus (JSON lines or id<TAB>text) into a store.",
        discussion: """
            Resumable: every batch is committed on its own, and passages already stored with the \
            same text are skipped, so rerunning a killed build finishes it without indexing twice. \
            Bad lines are reported with their numbers and skipped; --strict refuses the whole file.
            """
    )

    @Option(help: "The retriever: a Hugging Face model folder.")
    var model: String

    @Option(help: "The store directory (created when absent).")
    var store: String

    @Argument(
        help: "The corpus file (.jsonl: {\"id\", \"text\"} a line; .tsv: id<TAB>text), or - for standard input.")
    var corpus: String

    @Option(help: "jsonl or tsv (default: by extension, else by content).")
    var format: CorpusFormat?

    @Flag(help: "Refuse the corpus if any line is bad, before indexing anything.")
    var strict = false

    @Option(help: "The retriever's linear layers: fp32, fp16 or int8 (quantized while loading).")
    var precision: Precision = .fp32

    @Option(help: "Passages per model batch and per transaction.")
    var batchSize = 32

    @Option(
        help:
            "How a new store keeps the vectors it scans: fp32 (exact), fp16 or int8 (best candidates rescored from fp32)."
    )
    var codes: VectorCodes?

    @Option(help: "Partition the store into N (spherical k-means) once indexed, for partitioned search.")
    var partitions: Int?

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        // The retriever first: its tokenizer decides which texts hold anything to encode.
        let retriever = try Retriever.load(directory: URL(fileURLWithPath: model), precision: precision)
        printError("index: \(retriever.loadSummary)")
        let corpus = try Corpus.read(
            URL(fileURLWithPath: self.corpus == "-" ? "/dev/stdin" : self.corpus), format: format,
            tokenizer: retriever.tokenizer)
        for problem in corpus.problems.prefix(50) { printError("\(self.corpus): \(problem)") }
        if corpus.problems.count > 50 { printError("\(self.corpus): ... \(corpus.problems.count - 50) more bad lines") }
        if strict && !corpus.problems.isEmpty {
            throw CommandFailure(
                message: "\(corpus.problems.count) bad lines in \(self.corpus); nothing was indexed (--strict)")
        }
        if corpus.records.isEmpty && !corpus.problems.isEmpty {
            // Every line bad is a wrong file or format, not a corpus to skip lines of.
            throw CommandFailure(
                message: "no line of \(self.corpus) could be read (\(corpus.problems.count) bad lines, above); "
                    + "nothing was indexed. Is it the corpus, and in the format its name says (--format)?")
        }
        if corpus.duplicateIds > 0 {
            printError("\(self.corpus): \(corpus.duplicateIds) repeated ids; the last line of each wins")
        }
        let vectorStore = try VectorStore.open(
            at: URL(fileURLWithPath: store), model: retriever.storeModel,
            options: newStoreOptions(codes: codes, partitions: partitions))
        let builder = IndexBuilder(store: vectorStore, retriever: retriever, batchSize: batchSize)
        let interruption = Interruption(command: "index", message: Self.kept(done: 0, of: corpus.records.count))
        defer { withExtendedLifetime(interruption) {} }
        var lastReport = clock.now
        let result = try builder.run(corpus.records.map(\.passage)) { progress in
            interruption.update(Self.kept(done: progress.done, of: progress.total))
            guard clock.now - lastReport >= .seconds(1) || progress.done == progress.total else { return }
            lastReport = clock.now
            let eta = progress.eta.map { "ETA \(Int($0.milliseconds / 1000)) s" } ?? "ETA -"
            printError(
                "index: \(progress.done)/\(progress.total) (\(String(format: "%.1f", progress.rate)) passages/s, \(eta))"
            )
        }
        try partitionAfterBuild(vectorStore, partitions: partitions, interruption: interruption)
        let stats = try vectorStore.stats()
        printError(
            """
            index: done in \(String(format: "%.1f", (clock.now - started).milliseconds / 1000)) s: \
            \(result.indexed) indexed (\(String(format: "%.1f", result.rate)) passages/s), \
            \(result.alreadyPresent) already present, \(corpus.problems.count) bad lines skipped; \
            store holds \(stats.count) passages, \(stats.bytesOnDisk / 1_048_576) MiB
            """)
    }
    /// What an interrupted index has kept: every batch is committed as it is encoded.
    static func kept(done: Int, of total: Int) -> String {
        "at least \(done) of the corpus's \(total) passages are in the store; run the same command again to index the rest"
    }
}

extension CorpusFormat: ExpressibleByArgument {}
