// Encoder throughput and latency on a real checkpoint (default all-MiniLM-L6-v2):
//   encoder-bench [--model DIR] [--threads N] [--batch B] [--length L] [--query-length Q] [--runs R]
//                 [--query-runs R] [--no-rerank] [--precisions fp32,fp16,int8] [--accuracy QUERIES.tsv]
// With --accuracy, no timing: each precision's query vectors against fp32's (Accuracy.swift).
// Every precision is loaded first, then each measure runs the precisions in turns (`inTurns`); one
// JSON line per precision, engine "swift-<precision>", with its kernel path and load time.
// Inputs are synthetic token ids from a formula shared with Benchmarks/peers/encoder_peers.py, so both
// sides encode exactly the same batch. Prints a human line per measure and one JSON line at the end.
import Compute
import Foundation
import Tokenization
import Transformer

struct Options {
    var model = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".cache/models/all-MiniLM-L6-v2").path
    var threads = 2
    var batch = 32
    var length = 128
    var queryLength = 16
    var runs = 10
    var queryRuns = 1000
    var rerank = true
    var precisions: [Precision] = [.fp32]
    var accuracyQueries: String?

    init(_ arguments: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < arguments.count else { fail("missing value for \(arguments[i - 1])") }
            return arguments[i]
        }
        func int() -> Int {
            let text = value()
            guard let number = Int(text), number > 0 else { fail("\(arguments[i - 1]) needs a positive integer") }
            return number
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--model": model = value()
            case "--threads": threads = int()
            case "--batch": batch = int()
            case "--length": length = int()
            case "--query-length": queryLength = int()
            case "--runs": runs = int()
            case "--query-runs": queryRuns = int()
            case "--no-rerank": rerank = false
            case "--accuracy": accuracyQueries = value()
            case "--precisions":
                do {
                    precisions = try value().split(separator: ",").map { try Precision(parsing: String($0)) }
                } catch {
                    fail("\(error)")
                }
            default: fail("unknown argument \(arguments[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("encoder-bench: \(message)\n".utf8))
    exit(2)
}

/// `[CLS] t… [SEP]` with ids spread over the vocabulary; the same formula as the Python peers.
func syntheticEncoding(row: Int, length: Int) -> Encoding {
    var ids: [Int32] = [101]
    for i in 1..<(length - 1) { ids.append(Int32(1000 + (row * 7919 + i * 104_729) % 28_000)) }
    ids.append(102)
    return Encoding(ids: ids, typeIds: [Int32](repeating: 0, count: length))
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
setComputeThreads(options.threads)
let batch = TokenBatch((0..<options.batch).map { syntheticEncoding(row: $0, length: options.length) })
let query = TokenBatch([syntheticEncoding(row: 0, length: options.queryLength)])
// Re-ranking: 20 (query, passage) pairs of 160 tokens through the MiniLM encoder under the
// seeded test head (a real cross-encoder of the same shape costs the same).
let head = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/Transformer/minilm-head/model.safetensors")
let pairs = TokenBatch(
    (0..<20).map { row in
        var encoding = syntheticEncoding(row: row, length: 160)
        for i in 12..<160 { encoding.typeIds[i] = 1 }
        return encoding
    })

/// One precision's models, loaded before any timing.
struct Engine {
    let precision: Precision
    let encoder: SentenceEncoder
    let crossEncoder: CrossEncoder?

    init(_ precision: Precision) throws {
        self.precision = precision
        encoder = try SentenceEncoder(directory: URL(fileURLWithPath: options.model), precision: precision)
        crossEncoder =
            options.rerank && FileManager.default.fileExists(atPath: head.path)
            ? try CrossEncoder(
                encoderDirectory: URL(fileURLWithPath: options.model), head: SafetensorsFile(path: head.path),
                precision: precision)
            : nil
    }
}

/// Times `body(engine)` `runs` times per engine, the engines taking turns in blocks of `block` runs:
/// the machine's speed drifts by 20% and more within a minute, and one precision measured after
/// the other charged the drift to one side (int8 / fp32 rerank ratios 0.56-0.70 in three
/// back-to-back runs). Blocks keep a model's weights as warm in the caches as a run of its own.
func inTurns(_ engines: [Engine], runs: Int, block: Int, _ body: (Engine) throws -> Void) rethrows -> [[Double]] {
    var times = [[Double]](repeating: [], count: engines.count)
    for start in stride(from: 0, to: runs, by: block) {
        for (index, engine) in engines.enumerated() {
            for _ in start..<min(runs, start + block) { times[index].append(try seconds { try body(engine) }) }
        }
    }
    return times
}

func measure(_ precisions: [Precision]) throws {
    let engines = try precisions.map(Engine.init)
    for engine in engines {
        for _ in 0..<2 { _ = try engine.encoder.embed(batch) }
        for _ in 0..<20 { _ = try engine.encoder.embed(query) }
        _ = try engine.crossEncoder?.score(pairs)
    }
    let batchTimes = try inTurns(engines, runs: options.runs, block: 1) { _ = try $0.encoder.embed(batch) }
    let queryTimes = try inTurns(engines, runs: options.queryRuns, block: 50) { _ = try $0.encoder.embed(query) }
    let rerankTimes = try inTurns(engines, runs: options.runs, block: 1) { _ = try $0.crossEncoder?.score(pairs) }

    for (index, engine) in engines.enumerated() {
        let name = engine.precision.rawValue
        let rerankMs = engine.crossEncoder.map { _ in median(rerankTimes[index]) * 1000 }
        if let rerankMs {
            print(
                String(
                    format: "swift-%@ cross-encoder: 20 pairs x 160 tokens %.1f ms (median of %d)", name, rerankMs,
                    options.runs))
        }
        let throughput = Double(options.batch * options.length) / median(batchTimes[index])
        let latency = median(queryTimes[index]) * 1000
        let loaded = String(format: "%.2f", engine.encoder.loadSeconds)
        print(
            "swift-\(name) (\(engine.encoder.kernelPath), loaded in \(loaded) s) \(engine.encoder.architecture) "
                + "\(options.batch)x\(options.length), \(options.threads) threads, "
                + "OpenBLAS \(computeKernelName): \(Int(throughput)) tokens/s (median of \(options.runs)), "
                + String(
                    format: "%d-token query %.3f ms (median of %d)", options.queryLength, latency, options.queryRuns))
        try printJSON(
            SpeedReport(
                engine: "swift-\(name)", kernel: computeKernelName, kernelPath: engine.encoder.kernelPath,
                threads: options.threads, tokensPerSecond: throughput, queryMs: latency,
                loadSeconds: engine.encoder.loadSeconds, rerankMs: rerankMs))
    }
}

/// The speed run's JSON line, which Benchmarks/encoder.sh reads.
struct SpeedReport: Encodable {
    var engine, kernel, kernelPath: String
    var threads: Int
    var tokensPerSecond, queryMs, loadSeconds: Double
    /// Absent without a reranker run.
    var rerankMs: Double?

    enum CodingKeys: String, CodingKey {
        case engine, kernel, threads
        case kernelPath = "kernel_path", tokensPerSecond = "tokens_per_s", queryMs = "query_ms"
        case loadSeconds = "load_s", rerankMs = "rerank_20x160_ms"
    }
}

/// One JSON object on one line, keys sorted, for the scripts that collect the results.
func printJSON(_ report: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(report), as: UTF8.self))
}

do {
    if let queries = options.accuracyQueries {
        try measureAccuracy(
            queries: queries, model: URL(fileURLWithPath: options.model), precisions: options.precisions)
        exit(0)
    }
    try measure(options.precisions)
} catch {
    fail("\(error)")
}
