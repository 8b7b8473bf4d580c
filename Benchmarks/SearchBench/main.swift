// Top-k latency and recall of VectorStore's codes and partitions against its own fp32 exact scan,
// queries taking turns between the configurations so that the machine's drift hits all alike.
//
//   search-bench [--dir DIR] [--sizes 100000,1000000] [--dim 384] [--queries 200] [--k 100]
//                [--threads N] [--batch 50000] [--codes fp32,int8] [--rescore-k 400]
//                [--partitions 0] [--nprobe 0] [--data gaussian|mixture] [--centres 4000]
//   search-bench --store DIR --query-file Q.f32 --truth-file T.i32 [--nprobe 16,32] [--rescore-k R]
//                (a store built elsewhere: OnStore.swift)
//
// For each size it builds (or reuses) a store per code, DIR/store-N-CODES (and, with
// --partitions P, DIR/store-N-CODES-ivfP, repartitioned once built), writes the vectors and
// queries as raw float32 (DIR/vectors-N.f32, DIR/queries.f32) and the exact fp32 top-k row
// numbers (DIR/results-N.i32), so Benchmarks/peers/search_peers.py can run faiss on the very same
// data and measure its recall against the same truth. --data mixture draws the vectors from a
// Gaussian mixture of --centres centres on the unit sphere (the seed corpus's cluster structure);
// gaussian draws them uniformly on the sphere (no structure: the hardest case for codes and
// partitions).
import CKernels
import COpenBLAS
import Compute
import Foundation
import VectorStore

struct Options {
    var dir = FileManager.default.temporaryDirectory.appendingPathComponent("search-bench")
    var sizes = [100_000, 1_000_000]
    var dim = 384
    var queries = 200
    var k = 100
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var batch = 50_000
    var codes: [VectorCodes] = [.fp32, .int8]
    var rescoreK: Int?
    var partitions = 0
    var data = "gaussian"
    var centres = 4000
    var store: URL?
    var queryFile: URL?
    var truthFile: URL?
    /// `--nprobe 16,32`: the in-memory run uses the first, `--store` each in turn.
    var nprobes: [Int] = []
    var nprobe: Int? { nprobes.first }

    /// Parses `args`; a bad option ends the process with a message on stderr and status 2.
    init(_ args: [String]) {
        var i = 0
        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("search-bench: \(message) (usage: see the top of main.swift)\n".utf8))
            exit(2)
        }
        func value() -> String {
            i += 1
            guard i < args.count else { fail("missing value for \(args[i - 1])") }
            return args[i]
        }
        func integer() -> Int {
            let text = value()
            guard let number = Int(text) else { fail("\(args[i - 1]) takes an integer, got '\(text)'") }
            return number
        }
        /// A comma-separated list, each item parsed by `parse`; `what` names the items for the error.
        func list<T>(_ what: String, _ parse: (Substring) -> T?) -> [T] {
            let text = value()
            let items = text.split(separator: ",")
            let parsed = items.compactMap(parse)
            guard !items.isEmpty, parsed.count == items.count else {
                fail("\(args[i - 1]) takes \(what) separated by commas, got '\(text)'")
            }
            return parsed
        }
        func integers() -> [Int] { list("integers") { Int($0) } }
        while i < args.count {
            switch args[i] {
            case "--dir": dir = URL(fileURLWithPath: value())
            case "--sizes": sizes = integers()
            case "--dim": dim = integer()
            case "--queries": queries = integer()
            case "--k": k = integer()
            case "--threads": threads = integer()
            case "--batch": batch = integer()
            case "--codes": codes = list("fp32, fp16 or int8") { VectorCodes(rawValue: String($0)) }
            case "--rescore-k": rescoreK = integer()
            case "--partitions": partitions = integer()
            case "--nprobe": nprobes = integers()
            case "--store": store = URL(fileURLWithPath: value())
            case "--query-file": queryFile = URL(fileURLWithPath: value())
            case "--truth-file": truthFile = URL(fileURLWithPath: value())
            case "--data": data = value()
            case "--centres": centres = integer()
            default: fail("unknown option \(args[i])")
            }
            i += 1
        }
        if data != "gaussian" && data != "mixture" { fail("--data is gaussian or mixture, got '\(data)'") }
        if store != nil && (queryFile == nil || truthFile == nil) {
            fail("--store needs --query-file and --truth-file")
        }
    }
}

/// Box-Muller over SplitMix64: reproducible Gaussian vectors, normalised to unit length.
struct Generator {
    var random: SplitMix64

    init(state: UInt64) { random = SplitMix64(seed: state) }

    /// In (0, 1): never 0, which Box-Muller takes the log of.
    mutating func uniform() -> Double { (Double(random.next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func gaussian() -> Float { Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())) }

    mutating func unitVectors(_ count: Int, _ dim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * dim)
        for row in 0..<count {
            for j in 0..<dim { out[row * dim + j] = gaussian() }
            normalise(&out, row: row, dim: dim)
        }
        return out
    }

    /// Points around `centres` uniform centres: each a centre plus Gaussian noise whose norm is
    /// about `spread` times the centre's, normalised (cosine about 1 / sqrt(1 + spread²) to it).
    mutating func mixture(_ count: Int, _ dim: Int, centres: Int, spread: Float = 0.9) -> [Float] {
        var centreGenerator = Generator(state: 99)
        let middles = centreGenerator.unitVectors(centres, dim)
        var out = [Float](repeating: 0, count: count * dim)
        let sigma = spread / Float(dim).squareRoot()
        for row in 0..<count {
            let c = Int(random.next() % UInt64(centres))
            for j in 0..<dim { out[row * dim + j] = middles[c * dim + j] + sigma * gaussian() }
            normalise(&out, row: row, dim: dim)
        }
        return out
    }

    private func normalise(_ out: inout [Float], row: Int, dim: Int) {
        var norm: Float = 0
        for j in 0..<dim { norm += out[row * dim + j] * out[row * dim + j] }
        let scale = 1 / norm.squareRoot()
        for j in 0..<dim { out[row * dim + j] *= scale }
    }
}

func write(_ values: [some Any], to url: URL) throws {
    try values.withUnsafeBytes { try Data($0).write(to: url) }
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
}

/// One store and how it is searched.
struct Config {
    var name: String
    var store: VectorStore
    var options: SearchOptions
    var times: [Double] = []
    var recall: Double = 0
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
setComputeThreads(options.threads)
if let store = options.store {
    try runOnStore(options, store: store)
    exit(0)
}
try FileManager.default.createDirectory(at: options.dir, withIntermediateDirectories: true)
let corename = openblas_get_corename().map { String(cString: $0) } ?? "?"
let kernel = String(cString: cascade_isa_name(cascade_isa_selected()))
print(
    "search-bench: dim \(options.dim), k \(options.k), \(options.queries) queries, \(options.threads) threads, "
        + "\(options.data) data, OpenBLAS core \(corename), scan kernels \(kernel)")

var queryGenerator = Generator(state: 7)
let queries =
    options.data == "mixture"
    ? queryGenerator.mixture(options.queries, options.dim, centres: options.centres)
    : queryGenerator.unitVectors(options.queries, options.dim)
try write(queries, to: options.dir.appendingPathComponent("queries.f32"))
let model = StoreModel(
    fingerprint: "\(options.data)-unit-\(options.dim)", dimension: options.dim, pooling: "none", similarity: .dot)
let clock = ContinuousClock()

for n in options.sizes {
    let vectorsURL = options.dir.appendingPathComponent("vectors-\(n).f32")
    var vectors: [Float]?
    func allVectors() throws -> [Float] {
        if let vectors { return vectors }
        var generator = Generator(state: 1_000_003)
        let made =
            options.data == "mixture"
            ? generator.mixture(n, options.dim, centres: options.centres) : generator.unitVectors(n, options.dim)
        try write(made, to: vectorsURL)
        vectors = made
        return made
    }
    /// Opens the store, filling it (and partitioning it) when it is not complete.
    func store(_ codes: VectorCodes, partitions: Int) throws -> VectorStore {
        let suffix = partitions > 0 ? "-ivf\(partitions)" : ""
        let url = options.dir.appendingPathComponent("store-\(n)-\(codes.rawValue)\(suffix)")
        // Partitions own whole blocks: smaller ones waste less of a partition's last block.
        let blockSize = partitions > 0 ? VectorStore.partitionedBlockSize : StoreOptions().blockSize
        let store = try VectorStore.open(
            at: url, model: model, options: StoreOptions(blockSize: blockSize, codes: codes))
        let stats = try store.stats()
        guard
            stats.count != n || stats.partitionSizes.count != partitions
                || !FileManager.default.fileExists(atPath: vectorsURL.path)
        else { return store }
        let all = try allVectors()
        let start = clock.now
        for first in stride(from: 0, to: n, by: options.batch) {
            let items = (first..<min(first + options.batch, n)).map { i in
                (
                    passage: Passage(id: "p\(i)", text: "passage \(i)"),
                    vector: Array(all[(i * options.dim)..<((i + 1) * options.dim)])
                )
            }
            try store.upsert(items)
        }
        let seconds = milliseconds(clock.now - start) / 1000
        print(
            String(
                format: "built %@ (%d vectors) in %.1f s (%.0f vectors/s)", url.lastPathComponent, n, seconds,
                Double(n) / seconds))
        if partitions > 0 {
            let report = try store.repartition(partitions: partitions)
            print(
                String(
                    format: "partitioned into %d: k-means on %d vectors %.1f s, regrouping %.1f s",
                    partitions, report.sampled, report.trainSeconds, report.writeSeconds))
        }
        return store
    }

    // The truth: Cascade's exact fp32 scan.
    var configs = [Config(name: "fp32 exact", store: try store(.fp32, partitions: 0), options: SearchOptions())]
    for codes in options.codes where codes != .fp32 {
        let rescore = options.rescoreK ?? 4 * options.k
        configs.append(
            Config(
                name: "\(codes.rawValue) rescore \(rescore)", store: try store(codes, partitions: 0),
                options: SearchOptions(rescoreK: rescore)))
    }
    if options.partitions > 0 {
        let nprobe = options.nprobe ?? VectorStore.defaultNprobe(partitions: options.partitions)
        for codes in options.codes {
            let rescore = codes == .fp32 ? nil : options.rescoreK ?? 4 * options.k
            configs.append(
                Config(
                    name: "\(codes.rawValue) ivf\(options.partitions) nprobe \(nprobe)"
                        + (rescore.map { " rescore \($0)" } ?? ""),
                    store: try store(codes, partitions: options.partitions),
                    options: SearchOptions(rescoreK: rescore, nprobe: nprobe)))
        }
    }
    vectors = nil
    let dim = options.dim
    func query(_ q: Int) -> [Float] { Array(queries[(q * dim)..<((q + 1) * dim)]) }
    // The truth (untimed; it also warms the page cache).
    let truth = try (0..<options.queries).map { try configs[0].store.search(query($0), k: options.k).map(\.id) }
    for c in configs.dropFirst() {
        for q in 0..<min(5, options.queries) { _ = try c.store.search(query(q), k: options.k, options: c.options) }
    }
    for q in 0..<options.queries {
        let vector = query(q)
        // Turns: the configurations in a rotating order, one query each.
        for offset in 0..<configs.count {
            let c = (q + offset) % configs.count
            let start = clock.now
            let hits = try configs[c].store.search(vector, k: options.k, options: configs[c].options)
            configs[c].times.append(milliseconds(clock.now - start))
            configs[c].recall += Double(Set(hits.map(\.id)).intersection(truth[q]).count)
        }
    }
    try write(
        truth.flatMap { $0.map { Int32($0.dropFirst())! } }, to: options.dir.appendingPathComponent("results-\(n).i32"))
    let base = configs[0].times.sorted()[options.queries / 2]
    for c in configs {
        let times = c.times.sorted()
        let median = times[times.count / 2]
        let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
        let stats = try c.store.stats()
        print(
            String(
                format:
                    "RESULT swift n=%d config=%@ median_ms=%.3f p99_ms=%.3f recall=%.4f speedup=%.2f scanned_mib=%.0f",
                n, c.name.replacingOccurrences(of: " ", with: "_"), median, p99,
                c.recall / Double(options.queries * options.k), base / median, Double(stats.scannedBytes) / 1_048_576))
    }
    // Exact fp32, 16 queries at a time (one sgemm per block): per-query cost when callers batch.
    let batchSize = 16
    let batchStart = clock.now
    for first in stride(from: 0, to: options.queries, by: batchSize) {
        _ = try configs[0].store.search((first..<min(first + batchSize, options.queries)).map(query), k: options.k)
    }
    let perQuery = milliseconds(clock.now - batchStart) / Double(options.queries)
    print(String(format: "fp32 exact batched by %d: %.3f ms per query", batchSize, perQuery))
}
