import CKernels
import Foundation

/// How a model's linear layers store their weights and multiply. Embeddings, layer norms,
/// softmax, GELU, pooling and classification heads stay fp32 at every precision.
public enum Precision: String, Sendable, CaseIterable, Codable {
    /// The checkpoint's values in fp32: exact (the reference).
    case fp32
    /// Weights rounded to IEEE half and widened on the fly (F16C); fp32 arithmetic.
    case fp16
    /// Weights int8 per output channel, activations u8 per row at run time, int32 sums.
    case int8

    /// The values a user may write, for error messages: "fp32, fp16, int8".
    public static var allowedValues: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses a user's spelling; the error names the allowed values.
    public init(parsing text: String) throws {
        guard let value = Precision(rawValue: text) else {
            throw ModelError.invalidInput("unknown precision '\(text)': use one of \(Self.allowedValues)")
        }
        self = value
    }

    /// The CPU level the reduced-precision kernels run at (`CASCADE_ISA` may lower it), read once.
    static let kernelLevel = cascade_isa_selected()

    /// The kernel a model at this precision runs on this CPU, e.g. "int8/avx2": what benchmarks and
    /// `cascade` print beside their figures. fp32 runs our kernels on an AVX2 CPU, else OpenBLAS.
    var kernelPath: String {
        switch self {
        case .fp32: return PackedFloats.cpuCanRun ? "fp32/avx2" : "fp32/openblas"
        case .fp16: return "fp16/" + String(cString: cascade_f16_path(Int32(Self.kernelLevel)))
        case .int8: return "int8/" + String(cString: cascade_q8_path(Int32(Self.kernelLevel)))
        }
    }
}

extension Duration {
    /// The duration in seconds, for load times.
    var loadSeconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
