import ArgumentParser
import Cascade
import Foundation
import Transformer

// `--precision fp32|fp16|int8`: an unknown value is refused by the parser with the allowed values.
extension Precision: ExpressibleByArgument {}

extension Retriever {
    /// "retriever all-MiniLM-L6-v2: int8 (int8/avx2), loaded in 0.41 s", for stderr.
    var loadSummary: String {
        "retriever \(name): \(encoder.precision.rawValue) (\(encoder.kernelPath)), loaded in "
            + String(format: "%.2f s", encoder.loadSeconds)
    }
}

extension Reranker {
    var loadSummary: String {
        "reranker \(name): \(encoder.precision.rawValue) (\(encoder.kernelPath)), loaded in "
            + String(format: "%.2f s", encoder.loadSeconds)
    }
}
