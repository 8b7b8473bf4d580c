import Foundation

/// Element types a checkpoint may store. Compute is always float32.
public enum DType: String, Sendable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int64 = "I64"

    var byteWidth: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        }
    }
}

public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Float32 values of one tensor, row-major. Backed either by the checkpoint's own memory map
/// (little-endian f32 on disk: no copy) or by an owned buffer (converted from f16/bf16).
public struct FloatTensor: @unchecked Sendable {
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    /// Keeps the mapping or the converted buffer alive as long as any view of it.
    let owner: AnyObject

    public var count: Int { shape.reduce(1, *) }
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }
}

extension FloatTensor {
    /// Lets the kernel drop this tensor's pages of the checkpoint's memory map (they are read back
    /// from the file if touched again): for weights the model has copied into another form. A
    /// no-op for owned buffers.
    func releaseMappedPages() {
        guard owner is MappedFile else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: pointer) + page - 1) / page * page
        let end = (Int(bitPattern: pointer) + count * MemoryLayout<Float>.size) / page * page
        guard end > first else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_DONTNEED)
    }
}

public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case malformed(file: String, reason: String)
    case missingTensor(file: String, name: String)
    case unsupportedDType(file: String, name: String, dtype: String)
    case wrongShape(file: String, name: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .missingFile(let path):
            return "no weights file: \(path) (expected model.safetensors or pytorch_model.bin)"
        case .malformed(let file, let reason):
            return "\(file): \(reason)"
        case .missingTensor(let file, let name):
            return "\(file): tensor '\(name)' is missing"
        case .unsupportedDType(let file, let name, let dtype):
            return "\(file): tensor '\(name)' has unsupported dtype \(dtype)"
        case .wrongShape(let file, let name, let expected, let found):
            return "\(file): tensor '\(name)' has shape \(found), expected \(expected)"
        }
    }
}

/// A checkpoint's tensors by name, whatever the file format.
public protocol WeightSource: Sendable {
    /// The file the tensors come from, for error messages.
    var fileName: String { get }
    var tensorNames: [String] { get }
    func info(_ name: String) -> TensorInfo?
    /// The tensor as float32; throws a `WeightsError` naming the file and tensor.
    func float32(_ name: String) throws -> FloatTensor
}

extension WeightSource {
    /// The tensor, checked against the shape the architecture expects.
    public func float32(_ name: String, shape: [Int]) throws -> FloatTensor {
        let tensor = try float32(name)
        guard tensor.shape == shape else {
            throw WeightsError.wrongShape(file: fileName, name: name, expected: shape, found: tensor.shape)
        }
        return tensor
    }
}

/// A read-only memory map of a whole file; unmapped when the last tensor view is gone.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeRawPointer
    let size: Int
    let path: String

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw WeightsError.missingFile(path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw WeightsError.malformed(file: path, reason: "cannot stat") }
        size = Int(st.st_size)
        guard size > 0 else { throw WeightsError.malformed(file: path, reason: "empty file") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw WeightsError.malformed(file: path, reason: "cannot map \(size) bytes")
        }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}

/// Copies `count` elements of `dtype` at `source` into a new float32 buffer.
func convertToFloat32(_ source: UnsafeRawPointer, count: Int, dtype: DType) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    switch dtype {
    case .float32:
        for i in 0..<count {
            out[i] = Float(
                bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    case .float16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(Float16(bitPattern: bits))
        }
    case .bfloat16:
        for i in 0..<count {
            let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(bitPattern: UInt32(bits) << 16)
        }
    case .int64:
        for i in 0..<count {
            out[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        }
    }
    return out
}

final class OwnedFloats: @unchecked Sendable {
    let storage: UnsafeMutableBufferPointer<Float>
    init(_ values: [Float]) {
        storage = .allocate(capacity: max(values.count, 1))
        _ = storage.initialize(from: values)
    }
    deinit { storage.deallocate() }
}

/// Opens the weights in a Hugging Face model folder: `model.safetensors` first, else `pytorch_model.bin`.
public func openWeights(in directory: URL) throws -> any WeightSource {
    let safetensors = directory.appendingPathComponent("model.safetensors").path
    if FileManager.default.fileExists(atPath: safetensors) { return try SafetensorsFile(path: safetensors) }
    let torch = directory.appendingPathComponent("pytorch_model.bin").path
    if FileManager.default.fileExists(atPath: torch) { return try TorchCheckpoint(path: torch) }
    throw WeightsError.missingFile(directory.path)
}
