import ArgumentParser
import Cascade
import Evaluation
import Foundation
import Indexing
import VectorStore

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Measure how many partitions a search must probe, and make that the store's default nprobe.",
        discussion: """
            Encodes --queries with --model (or reads --query-vectors, for a store imported from \
            vectors made elsewhere), searches them probing every partition, then with \
            nprobe doubling from 1 (then bisected), and stores the fewest partitions whose top k \
            hold --recall of the all-partition top k on average. Searches that name no nprobe \
            use it; a repartition drops it. Use queries like those the store will serve, not the \
            ones it is judged on: the passages themselves sit near their own partitions' centres \
            and would ask for too few.
            """
    )

    @Option(help: "The partitioned store directory.")
    var store: String

    @Option(help: "The retriever the store was built with (encodes --queries).")
    var model: String?

    @Option(help: "Queries, qid<TAB>text a line.")
    var queries: String?

    @Option(help: "Instead of --model and --queries: query vectors made elsewhere, a float .npy of rows x dimension.")
    var queryVectors: String?

    @Option(help: "Use only the first N queries.")
    var limit = 1000

    @Option(help: "Hits per query compared (a search's retrieve_k).")
    var k = 100

    // Judged recall loses up to 1.2x what the target leaves out: on debian-desc, 0.995 of the top
    // 100 cost 0.0045-0.006 of R@100 on three query sets, past the 0.005 the int8 + IVF default
    // must keep; 0.998 cost 0.0015-0.0025, on a set no choice here had seen among them.
    @Option(help: "The share of the all-partition top k to keep, on average.")
    var recall = 0.998

    @Flag(help: "Measure and report only; leave the store's default as it is.")
    var dryRun = false

    @Flag(help: "One JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (model != nil && queries != nil) != (queryVectors != nil) else {
            throw ValidationError("give either --model and --queries (texts to encode) or --query-vectors (a .npy)")
        }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1, got \(limit)") }
        guard (1...VectorStore.maxK).contains(k) else {
            throw ValidationError("--k must be in 1...\(VectorStore.maxK), got \(k)")
        }
        guard recall > 0, recall <= 1 else { throw ValidationError("--recall must be in (0, 1], got \(recall)") }
    }

    func run() throws {
        let vectorStore = try VectorStore.open(existingAt: URL(fileURLWithPath: store), readOnly: dryRun)
        let vectors = try queryVectors(for: vectorStore)
        let result = try vectorStore.calibrateNprobe(queries: vectors, k: k, target: recall, save: !dryRun) { step in
            printError(
                String(
                    format: "calibrate: nprobe %d: recall@%d %.4f, %.2f ms/query", step.nprobe, k, step.recall,
                    step.milliseconds))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
            return
        }
        print("nprobe  recall@\(k)  ms/query")
        for step in result.steps {
            print(String(format: "%-7d %-10.4f %.2f", step.nprobe, step.recall, step.milliseconds))
        }
        print(
            "\(result.nprobe) of \(result.partitions) partitions reach recall@\(k) \(recall) on \(result.queries) queries"
                + (dryRun ? " (dry run: the store's default is unchanged)" : "; now the store's default nprobe"))
    }

    /// The query vectors: encoded from --queries, or read from --query-vectors.
    private func queryVectors(for store: VectorStore) throws -> [[Float]] {
        if let queryVectors {
            let vectors = try npyRows(URL(fileURLWithPath: queryVectors), limit: limit)
            guard vectors.first?.count == store.model.dimension else {
                throw ValidationError(
                    "the query vectors in \(queryVectors) have \(vectors.first?.count ?? 0) dimensions; "
                        + "the store's have \(store.model.dimension)")
            }
            printError("calibrate: \(vectors.count) query vectors from \(queryVectors)")
            return vectors
        }
        guard let model, let queries else { throw ValidationError("give --model and --queries") }
        let retriever = try Retriever.load(directory: URL(fileURLWithPath: model))
        try retriever.checkBuilt(store)
        let texts = try QuerySet.read(from: URL(fileURLWithPath: queries)).queries.prefix(limit).map(\.text)
        printError("calibrate: encoding \(texts.count) queries with \(retriever.name)")
        return try retriever.embed(retriever.encode(texts))
    }
}
