import Cascade
import CascadeAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing
import VectorStore

/// `rescore_k` and `nprobe` per search, on a real server over an int8-coded, partitioned store.
@Suite struct ScanOptionTests {
    static let partitions = 12

    /// The fixture passages in an int8-coded store cut into `partitions` partitions.
    static func codedIndex() throws -> URL {
        let shared = try Fixtures.shared()
        let directory = try Fixtures.temporaryDirectory("coded-index")
        let store = try VectorStore.open(
            at: directory, model: shared.retriever.storeModel, options: StoreOptions(blockSize: 16, codes: .int8))
        let vectors = try shared.retriever.embed(shared.retriever.encode(shared.passages.map(\.text)))
        try store.upsert(zip(shared.passages, vectors).map { (passage: $0.0, vector: $0.1) })
        _ = try store.repartition(partitions: partitions, samplePerPartition: 16)
        return directory
    }

    static func search(
        _ client: Cascade_V1_Cascade.Client<HTTP2ClientTransport.Posix>, _ query: String, rescoreK: UInt32? = nil,
        nprobe: UInt32? = nil
    ) async throws -> [Cascade_V1_SearchHit] {
        try await client.search(
            .with {
                $0.query = query; $0.retrieveK = 20; $0.rerankK = 0; $0.topN = 20
                if let rescoreK { $0.rescoreK = rescoreK }
                if let nprobe { $0.nprobe = nprobe }
            }
        ).hits
    }

    @Test func everyPartitionWithRescoringIsExactAndEachOptionGetsWhatItWouldAlone() async throws {
        let exactServer = try await RunningServer.start(reranker: false)
        let exact = try await exactServer.withClient { client in
            try await SchedulerTests.queries.asyncMap { try await Self.search(client, $0) }
        }
        try await exactServer.stop()

        let server = try await RunningServer.start(reranker: false, index: try Self.codedIndex())
        try await server.withClient { client in
            let all = UInt32(Self.partitions)
            let alone = try await SchedulerTests.queries.asyncMap { query in
                [
                    try await Self.search(client, query, rescoreK: 100, nprobe: all),
                    try await Self.search(client, query, nprobe: 1),
                    try await Self.search(client, query, rescoreK: 20, nprobe: 3),
                ]
            }
            for (exactHits, options) in zip(exact, alone) {
                #expect(options[0].map(\.id) == exactHits.map(\.id))
                for (a, b) in zip(options[0], exactHits) { #expect(abs(a.score - b.score) <= 1e-5) }
            }
            // All at once: queries with equal options share scans, the rest do not mix with them.
            let together = try await withThrowingTaskGroup(of: (Int, Int, [Cascade_V1_SearchHit]).self) { group in
                for (index, query) in SchedulerTests.queries.enumerated() {
                    for (option, (rescoreK, nprobe)) in [(UInt32?(100), all), (nil, 1), (20, 3)].enumerated() {
                        group.addTask {
                            (index, option, try await Self.search(client, query, rescoreK: rescoreK, nprobe: nprobe))
                        }
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0 * 3 + $1.1] = $1.2 }
            }
            for (index, options) in alone.enumerated() {
                for option in 0..<3 {
                    #expect(together[index * 3 + option]?.map(\.id) == options[option].map(\.id))
                }
            }
        }
        try await server.stop()
    }

    @Test func outOfRangeOptionsAreInvalidArgumentsNamingTheField() async throws {
        let server = try await RunningServer.start(reranker: false)
        try await server.withClient { client in
            let low = try await rpcError { _ = try await Self.search(client, "chess", rescoreK: 5) }
            #expect(low.code == .invalidArgument && low.message.contains("rescore_k"), "\(low)")
            let none = try await rpcError { _ = try await Self.search(client, "chess", nprobe: 0) }
            #expect(none.code == .invalidArgument && none.message.contains("nprobe"), "\(none)")
            let info = try await client.info(.init())
            #expect(info.defaults.rescoreK == 0 && info.defaults.nprobe == 0)
        }
        try await server.stop()
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        out.reserveCapacity(count)
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
