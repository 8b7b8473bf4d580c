import ArgumentParser
import Foundation
import Transformer
import VectorStore

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search a store in process and print the top hits with their scores and timings."
    )

    @Option(help: "The store directory.")
    var store: String

    @Option(help: "The retriever the store was built with.")
    var model: String

    @Option(name: .short, help: "Hits to print (1...1000).")
    var k = 10

    @Flag(help: "One JSON object: the hits (id, score, text) and the stage timings.")
    var json = false

    @Argument(help: "The query.")
    var query: String

    func validate() throws {
        guard (1...1000).contains(k) else { throw ValidationError("-k must be in 1...1000") }
        guard !query.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("the query is empty")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let embedder = try TextEmbedder(directory: URL(fileURLWithPath: model))
        let vectorStore = try VectorStore.open(at: URL(fileURLWithPath: store), model: StoreModel(embedder: embedder))
        var timings: [(String, Duration)] = []
        func timed<T>(_ stage: String, _ body: () throws -> T) rethrows -> T {
            let start = clock.now
            defer { timings.append((stage, clock.now - start)) }
            return try body()
        }
        let total = clock.now
        let encoding = timed("tokenize") { embedder.encode([query]) }
        let vector = try timed("encode") { try embedder.embed(encoding)[0] }
        let hits = try timed("retrieve") { try vectorStore.search(vector, k: k) }
        let texts = try timed("fetch") { try vectorStore.passages(ids: hits.map(\.id)).map { $0?.text ?? "" } }
        timings.append(("total", clock.now - total))
        if json {
            printJSON(hits: hits, texts: texts, timings: timings)
            return
        }
        for (rank, (hit, text)) in zip(hits, texts).enumerated() {
            let snippet = text.count > 100 ? String(text.prefix(97)) + "..." : text
            print(String(format: "%3d  %8.4f  ", rank + 1, hit.score) + "\(hit.id)  \(snippet)")
        }
        print("timings: " + timings.map { "\($0.0) \(formatMilliseconds($0.1))" }.joined(separator: ", "))
    }

    private func printJSON(hits: [Hit], texts: [String], timings: [(String, Duration)]) {
        struct Output: Encodable {
            struct Row: Encodable {
                var id: String
                var score: Float
                var text: String
            }
            var query: String
            var hits: [Row]
            var timingsMicroseconds: [String: Int64]
        }
        let output = Output(
            query: query,
            hits: zip(hits, texts).map { Output.Row(id: $0.0.id, score: $0.0.score, text: $0.1) },
            timingsMicroseconds: Dictionary(uniqueKeysWithValues: timings.map { ($0.0, $0.1.microseconds) })
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: try! encoder.encode(output), as: UTF8.self))
    }
}
