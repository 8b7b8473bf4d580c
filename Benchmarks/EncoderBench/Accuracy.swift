import Foundation
import Tokenization
import Transformer

/// `--accuracy QUERIES.tsv`: each reduced precision's query vectors against fp32's on real queries
/// (`id<TAB>text` lines, e.g. the debian-desc dev queries), the measure for a retriever
/// (cosine at least 0.99 for int8, 0.999 for fp16). Prints the worst, the 1st percentile and the
/// mean cosine, how many queries fall under the goal, and one JSON line per precision.
func measureAccuracy(queries path: String, model: URL, precisions: [Precision]) throws {
    let texts = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
        line.split(separator: "\t", maxSplits: 1).last.map(String.init)
    }
    guard !texts.isEmpty else { fail("no queries in \(path)") }
    let tokenizer = try BertTokenizer(directory: model)
    let encodings = texts.map { tokenizer.encode($0) }
    func vectors(_ precision: Precision) throws -> (vectors: [[Float]], kernelPath: String) {
        let encoder = try SentenceEncoder(directory: model, precision: precision)
        var out: [[Float]] = []
        for start in stride(from: 0, to: encodings.count, by: 64) {
            let slice = encodings[start..<min(encodings.count, start + 64)]
            out += try encoder.embed(TokenBatch(Array(slice)))
        }
        return (out, encoder.kernelPath)
    }
    let reference = try vectors(.fp32).vectors
    for precision in precisions where precision != .fp32 {
        let (reduced, kernelPath) = try vectors(precision)
        let cosines = zip(reduced, reference).map { a, b -> Double in
            var (dot, aa, bb) = (0.0, 0.0, 0.0)
            for (x, y) in zip(a, b) {
                dot += Double(x) * Double(y)
                aa += Double(x) * Double(x)
                bb += Double(y) * Double(y)
            }
            return dot / max(1e-30, (aa * bb).squareRoot())
        }.sorted()
        let goal = precision == .fp16 ? 0.999 : 0.99
        let mean = cosines.reduce(0, +) / Double(cosines.count)
        let percentile1 = cosines[cosines.count / 100]
        let below = cosines.filter { $0 < goal }.count
        print(
            "swift-\(precision.rawValue) (\(kernelPath)) query vectors vs fp32 over \(cosines.count) queries: "
                + String(
                    format: "worst cosine %.5f, 1st percentile %.5f, mean %.6f, %d under %.3f", cosines[0],
                    percentile1, mean, below, goal))
        try printJSON(
            AccuracyReport(
                engine: "swift-\(precision.rawValue)", kernelPath: kernelPath, queries: cosines.count,
                worstCosine: cosines[0], p1Cosine: percentile1, meanCosine: mean, underGoal: below))
    }
}

/// The accuracy run's JSON line.
struct AccuracyReport: Encodable {
    var engine: String
    var kernelPath: String
    var queries: Int
    var worstCosine, p1Cosine, meanCosine: Double
    /// Queries whose cosine to fp32 is under the precision's goal.
    var underGoal: Int

    enum CodingKeys: String, CodingKey {
        case engine, queries
        case kernelPath = "kernel_path", worstCosine = "worst_cosine", p1Cosine = "p1_cosine"
        case meanCosine = "mean_cosine", underGoal = "under_goal"
    }
}
