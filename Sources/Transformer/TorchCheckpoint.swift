import Foundation

/// `pytorch_model.bin` in PyTorch's zip format (torch >= 1.6): to be implemented.
public final class TorchCheckpoint: WeightSource, @unchecked Sendable {
    public let fileName: String
    public init(path: String) throws {
        fileName = (path as NSString).lastPathComponent
        throw WeightsError.malformed(file: fileName, reason: "PyTorch checkpoints are not supported yet")
    }
    public var tensorNames: [String] { [] }
    public func info(_ name: String) -> TensorInfo? { nil }
    public func float32(_ name: String) throws -> FloatTensor { throw WeightsError.missingTensor(file: fileName, name: name) }
}
