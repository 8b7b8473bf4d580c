// Encoder throughput and latency on a real checkpoint (default all-MiniLM-L6-v2):
//   encoder-bench [--model DIR] [--threads N] [--batch B] [--length L] [--query-length Q] [--runs R]
//                 [--query-runs R] [--no-rerank] [--precisions fp32,fp16,int8] [--accuracy QUERIES.tsv]
// With --accuracy, no timing: each precision's query vectors against fp32's (Accuracy.swift).
// Each precision is loaded in turn (the previous model freed first) and measured alike; one JSON
// line per precision, engine "swift-<precision>", with its kernel path and load time.
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

func measure(_ precision: Precision) throws {
    let encoder = try SentenceEncoder(directory: URL(fileURLWithPath: options.model), precision: precision)
    for _ in 0..<2 { _ = try encoder.embed(batch) }
    var batchTimes: [Double] = []
    for _ in 0..<options.runs { batchTimes.append(try seconds { _ = try encoder.embed(batch) }) }
    for _ in 0..<20 { _ = try encoder.embed(query) }
    var queryTimes: [Double] = []
    for _ in 0..<options.queryRuns { queryTimes.append(try seconds { _ = try encoder.embed(query) }) }

    var rerankMs: Double?
    if options.rerank, FileManager.default.fileExists(atPath: head.path) {
        let crossEncoder = try CrossEncoder(
            encoderDirectory: URL(fileURLWithPath: options.model), head: SafetensorsFile(path: head.path),
            precision: precision)
        _ = try crossEncoder.score(pairs)
        var times: [Double] = []
        for _ in 0..<options.runs { times.append(try seconds { _ = try crossEncoder.score(pairs) }) }
        rerankMs = median(times) * 1000
        print(
            String(
                format: "swift-%@ cross-encoder: 20 pairs x 160 tokens %.1f ms (median of %d)", precision.rawValue,
                rerankMs!, options.runs))
    }

    let tokens = Double(options.batch * options.length)
    let throughput = tokens / median(batchTimes)
    let latency = median(queryTimes) * 1000
    print(
        "swift-\(precision.rawValue) (\(encoder.kernelPath), loaded in \(String(format: "%.2f", encoder.loadSeconds)) s) "
            + "\(encoder.architecture) \(options.batch)x\(options.length), \(options.threads) threads, "
            + "OpenBLAS \(computeKernelName): \(Int(throughput)) tokens/s (median of \(options.runs)), "
            + String(format: "%d-token query %.3f ms (median of %d)", options.queryLength, latency, options.queryRuns))
    try printJSON(
        SpeedReport(
            engine: "swift-\(precision.rawValue)", kernel: computeKernelName, kernelPath: encoder.kernelPath,
            threads: options.threads, tokensPerSecond: throughput, queryMs: latency, loadSeconds: encoder.loadSeconds,
            rerankMs: rerankMs))
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
    for precision in options.precisions { try measure(precision) }
} catch {
    fail("\(error)")
}
