import Foundation
import Tokenization

/// A `.safetensors` file: an 8-byte little-endian header length, a JSON header of
/// `name -> {dtype, shape, data_offsets}`, then the raw tensor bytes. Mapped, never copied for f32.
public final class SafetensorsFile: WeightSource, @unchecked Sendable {
    private struct Entry {
        var info: TensorInfo
        var begin: Int
        var end: Int
    }

    private let file: MappedFile
    private let entries: [String: Entry]
    private let dataStart: Int
    public let fileName: String

    public init(path: String) throws {
        fileName = (path as NSString).lastPathComponent
        file = try MappedFile(path: path)
        guard file.size >= 8 else { throw WeightsError.malformed(file: fileName, reason: "shorter than its header") }
        let headerLength = Int(UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self)))
        guard headerLength > 0, headerLength <= file.size - 8 else {
            throw WeightsError.malformed(
                file: fileName, reason: "header length \(headerLength) exceeds the file (truncated?)")
        }
        dataStart = 8 + headerLength
        let header: Header
        do {
            header = try JSONFile.decode(Header.self, from: Data(bytes: file.base + 8, count: headerLength))
        } catch {
            let reason = error.path.isEmpty ? "header is not a JSON object" : "bad header entry for '\(error.path)'"
            throw WeightsError.malformed(file: fileName, reason: reason)
        }
        var entries: [String: Entry] = [:]
        for (name, tensor) in header.tensors {
            let (shape, offsets) = (tensor.shape, tensor.dataOffsets)
            guard let dtype = DType(rawValue: tensor.dtype) else {
                throw WeightsError.unsupportedDType(file: fileName, name: name, dtype: tensor.dtype)
            }
            let info = TensorInfo(name: name, dtype: dtype, shape: shape)
            guard offsets[0] >= 0, offsets[1] - offsets[0] == info.elementCount * dtype.byteWidth else {
                throw WeightsError.malformed(file: fileName, reason: "'\(name)' byte range does not match its shape")
            }
            guard dataStart + offsets[1] <= file.size else {
                throw WeightsError.malformed(
                    file: fileName, reason: "'\(name)' runs past the end of the file (truncated?)")
            }
            entries[name] = Entry(info: info, begin: offsets[0], end: offsets[1])
        }
        self.entries = entries
    }

    /// The JSON header: tensor name -> entry, plus free-form `__metadata__` (string to string).
    private struct Header: Decodable {
        struct Tensor: Decodable {
            var dtype: String
            var shape: [Int]
            var dataOffsets: [Int]

            enum CodingKeys: String, CodingKey {
                case dtype, shape
                case dataOffsets = "data_offsets"
            }
        }

        var tensors: [String: Tensor] = [:]
        /// Free-form notes (`"format": "pt"`); not used, and a malformed one is ignored.
        var metadata: [String: String]?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: JSONFile.AnyKey.self)
            for key in c.allKeys where key.stringValue != "__metadata__" {
                // The failure names the tensor alone: its name is the path (and may hold dots).
                let failure = JSONFile.Failure(path: key.stringValue, reason: "needs dtype, shape and data_offsets")
                guard let tensor = try? c.decode(Tensor.self, forKey: key), tensor.dataOffsets.count == 2 else {
                    throw failure
                }
                tensors[key.stringValue] = tensor
            }
            metadata = try? c.decodeIfPresent([String: String].self, forKey: JSONFile.AnyKey("__metadata__"))
        }
    }

    public var tensorNames: [String] { entries.keys.sorted() }

    public func info(_ name: String) -> TensorInfo? { entries[name]?.info }

    public func float32(_ name: String) throws -> FloatTensor {
        guard let entry = entries[name] else { throw WeightsError.missingTensor(file: fileName, name: name) }
        let start = file.base + dataStart + entry.begin
        if entry.info.dtype == .float32, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            return FloatTensor(shape: entry.info.shape, pointer: start.assumingMemoryBound(to: Float.self), owner: file)
        }
        let owned = OwnedFloats(convertToFloat32(start, count: entry.info.elementCount, dtype: entry.info.dtype))
        return FloatTensor(shape: entry.info.shape, pointer: UnsafePointer(owned.storage.baseAddress!), owner: owned)
    }
}
