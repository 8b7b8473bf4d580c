import Foundation

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
        let header = Data(bytes: file.base + 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw WeightsError.malformed(file: fileName, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        for (name, value) in json where name != "__metadata__" {
            guard let fields = value as? [String: Any], let dtypeName = fields["dtype"] as? String,
                let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int],
                offsets.count == 2
            else { throw WeightsError.malformed(file: fileName, reason: "bad header entry for '\(name)'") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw WeightsError.unsupportedDType(file: fileName, name: name, dtype: dtypeName)
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
