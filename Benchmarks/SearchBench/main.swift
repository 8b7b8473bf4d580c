// Exact top-k latency of VectorStore over random normalised vectors, one query at a time.
//
//   search-bench [--dir DIR] [--sizes 100000,1000000] [--dim 384] [--queries 200] [--k 100]
//                [--threads N] [--batch 50000]
//
// For each size it builds (or reuses) a store DIR/store-N, writes the vectors and queries as raw
// float32 (DIR/vectors-N.f32, DIR/queries.f32) and its top-k row numbers (DIR/results-N.i32) so
// Benchmarks/peers/search_peers.py can run faiss on the very same data and compare answers.
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

    init(_ args: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fatalError("missing value for \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--dir": dir = URL(fileURLWithPath: value())
            case "--sizes": sizes = value().split(separator: ",").map { Int($0)! }
            case "--dim": dim = Int(value())!
            case "--queries": queries = Int(value())!
            case "--k": k = Int(value())!
            case "--threads": threads = Int(value())!
            case "--batch": batch = Int(value())!
            default: fatalError("unknown option \(args[i])")
            }
            i += 1
        }
    }
}

/// SplitMix64 and Box-Muller: reproducible Gaussian vectors, normalised to unit length.
struct Generator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func unitVectors(_ count: Int, _ dim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count * dim)
        for row in 0..<count {
            var norm: Float = 0
            for j in 0..<dim {
                let g = Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
                out[row * dim + j] = g
                norm += g * g
            }
            let scale = 1 / norm.squareRoot()
            for j in 0..<dim { out[row * dim + j] *= scale }
        }
        return out
    }
}

func write(_ values: [some Any], to url: URL) throws {
    try values.withUnsafeBytes { try Data($0).write(to: url) }
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
setComputeThreads(options.threads)
try FileManager.default.createDirectory(at: options.dir, withIntermediateDirectories: true)
let corename = openblas_get_corename().map { String(cString: $0) } ?? "?"
print(
    "search-bench: dim \(options.dim), k \(options.k), \(options.queries) queries, \(options.threads) threads, OpenBLAS core \(corename)"
)

var queryGenerator = Generator(state: 7)
let queries = queryGenerator.unitVectors(options.queries, options.dim)
try write(queries, to: options.dir.appendingPathComponent("queries.f32"))
let model = StoreModel(
    fingerprint: "random-unit-\(options.dim)", dimension: options.dim, pooling: "none", similarity: .dot)
let clock = ContinuousClock()

for n in options.sizes {
    let storeURL = options.dir.appendingPathComponent("store-\(n)")
    let vectorsURL = options.dir.appendingPathComponent("vectors-\(n).f32")
    let store = try VectorStore.open(at: storeURL, model: model)
    if store.count != n || !FileManager.default.fileExists(atPath: vectorsURL.path) {
        var generator = Generator(state: 1_000_003)
        let vectors = generator.unitVectors(n, options.dim)
        try write(vectors, to: vectorsURL)
        let start = clock.now
        for first in stride(from: 0, to: n, by: options.batch) {
            let items = (first..<min(first + options.batch, n)).map { i in
                (
                    passage: Passage(id: "p\(i)", text: "passage \(i)"),
                    vector: Array(vectors[(i * options.dim)..<((i + 1) * options.dim)])
                )
            }
            try store.upsert(items)
        }
        let seconds = milliseconds(clock.now - start) / 1000
        print(String(format: "built %d vectors in %.1f s (%.0f vectors/s)", n, seconds, Double(n) / seconds))
    }
    let dim = options.dim
    func query(_ q: Int) -> [Float] { Array(queries[(q * dim)..<((q + 1) * dim)]) }
    for q in 0..<min(5, options.queries) { _ = try store.search(query(q), k: options.k) }  // warm the page cache
    var times = [Double]()
    var results = [Int32]()
    for q in 0..<options.queries {
        let vector = query(q)
        let start = clock.now
        let hits = try store.search(vector, k: options.k)
        times.append(milliseconds(clock.now - start))
        results += hits.map { Int32($0.id.dropFirst())! }
    }
    try write(results, to: options.dir.appendingPathComponent("results-\(n).i32"))
    times.sort()
    let median = times[times.count / 2]
    let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
    print(String(format: "RESULT swift n=%d median_ms=%.3f p99_ms=%.3f", n, median, p99))
    // The same queries 16 at a time (one sgemm per block): per-query cost when callers batch.
    let batchSize = 16
    let batchStart = clock.now
    for first in stride(from: 0, to: options.queries, by: batchSize) {
        _ = try store.search((first..<min(first + batchSize, options.queries)).map(query), k: options.k)
    }
    let perQuery = milliseconds(clock.now - batchStart) / Double(options.queries)
    print(String(format: "batched by %d: %.3f ms per query", batchSize, perQuery))
}
