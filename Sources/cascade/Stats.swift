import ArgumentParser
import Foundation
import VectorStore

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print what a store holds."
    )

    @Option(help: "The store directory.")
    var store: String

    @Flag(help: "One JSON object.")
    var json = false

    func run() throws {
        let stats = try VectorStore.open(existingAt: URL(fileURLWithPath: store), readOnly: true).stats()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(stats), as: UTF8.self))
            return
        }
        print(
            """
            store:       \(stats.path)
            passages:    \(stats.count)
            dimension:   \(stats.model.dimension)
            pooling:     \(stats.model.pooling)
            similarity:  \(stats.model.similarity.rawValue)
            model:       \(stats.model.fingerprint)
            format:      \(stats.formatVersion)
            size:        \(String(format: "%.1f", Double(stats.bytesOnDisk) / 1_048_576)) MiB on disk
            """)
    }
}
