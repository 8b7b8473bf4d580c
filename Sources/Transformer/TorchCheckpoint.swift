import Foundation

/// A storage named by a pickle's persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
struct TorchStorage {
    var key: String
    /// `torch.FloatStorage` etc.; `torch.UntypedStorage` for tensors rebuilt with an explicit dtype.
    var typeName: String
}

/// What `_rebuild_tensor_v2/v3` receive: a view (offset, size, stride) into a storage, in elements.
struct TorchTensor {
    var storage: TorchStorage
    var offset: Int
    var size: [Int]
    var stride: [Int]
    /// Set by `_rebuild_tensor_v3`, whose storage is untyped.
    var dtypeName: String?
}

/// `pytorch_model.bin` in PyTorch's zip format (torch >= 1.6): a zip of STORED entries holding
/// `<archive>/data.pkl` (the state dict, with tensors as persistent ids) and one `<archive>/data/<key>`
/// record per storage. f32 tensors are views into the memory map; f16/bf16/i64 and non-contiguous
/// views are converted into an owned contiguous float32 buffer.
public final class TorchCheckpoint: WeightSource, @unchecked Sendable {
    private struct Entry {
        var dtype: Result<DType, WeightsError>
        var shape: [Int]
        var strides: [Int]
        /// Byte offset of element 0 of the view in the file.
        var start: Int
    }

    public let fileName: String
    private let file: MappedFile
    private let entries: [String: Entry]

    public init(path: String) throws {
        let fileName = (path as NSString).lastPathComponent
        self.fileName = fileName
        file = try MappedFile(path: path)
        try Self.refuseOtherFormats(file, fileName: fileName)
        let archive = try ZipArchive(file: file, fileName: fileName)
        guard let first = archive.entries.first?.name, let slash = first.firstIndex(of: "/") else {
            throw WeightsError.malformed(
                file: fileName, reason: "zip archive has no top-level folder: not a PyTorch checkpoint")
        }
        let prefix = String(first[..<slash])
        if let order = archive.entry(named: "\(prefix)/byteorder") {
            let value = String(decoding: try archive.checkedData(order), as: UTF8.self)
            guard value == "little" else {
                throw WeightsError.malformed(
                    file: fileName, reason: "byte order '\(value)' is not supported (little-endian only)")
            }
        }
        guard let pickleEntry = archive.entry(named: "\(prefix)/data.pkl") else {
            throw WeightsError.malformed(
                file: fileName, reason: "no '\(prefix)/data.pkl' in the archive: not a PyTorch checkpoint")
        }
        var unpickler = Unpickler(try archive.checkedData(pickleEntry)) {
            WeightsError.malformed(file: fileName, reason: "\(prefix)/data.pkl: \($0)")
        }
        let root = try unpickler.run(call: Self.call, persistentLoad: Self.persistentLoad)
        guard case .dict(let stateDict) = root else {
            throw WeightsError.malformed(file: fileName, reason: "data.pkl holds no dict of tensors (not a state dict)")
        }
        var entries: [String: Entry] = [:]
        for (key, value) in stateDict.items {
            guard case .string(let name) = key, case .tensor(let tensor) = value else { continue }
            entries[name] = try Self.entry(tensor, name: name, archive: archive, prefix: prefix, fileName: fileName)
        }
        self.entries = entries
    }

    public var tensorNames: [String] { entries.keys.sorted() }

    /// nil for absent tensors and for dtypes other than f32/f16/bf16/i64 (`float32` names the dtype).
    public func info(_ name: String) -> TensorInfo? {
        guard let entry = entries[name], case .success(let dtype) = entry.dtype else { return nil }
        return TensorInfo(name: name, dtype: dtype, shape: entry.shape)
    }

    public func float32(_ name: String) throws -> FloatTensor {
        guard let entry = entries[name] else { throw WeightsError.missingTensor(file: fileName, name: name) }
        let dtype = try entry.dtype.get()
        let count = entry.shape.reduce(1, *)
        let start = file.base + entry.start
        let contiguous = Self.isContiguous(entry.shape, entry.strides)
        if contiguous, dtype == .float32, count > 0, Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
            return FloatTensor(shape: entry.shape, pointer: start.assumingMemoryBound(to: Float.self), owner: file)
        }
        let values: [Float]
        if contiguous || count == 0 {
            values = convertToFloat32(start, count: count, dtype: dtype)
        } else {
            values = Self.gather(start, shape: entry.shape, strides: entry.strides, width: dtype.byteWidth) {
                convertToFloat32($0, count: count, dtype: dtype)
            }
        }
        let owned = OwnedFloats(values)
        return FloatTensor(shape: entry.shape, pointer: UnsafePointer(owned.storage.baseAddress!), owner: owned)
    }

    // MARK: - Opening

    /// Legacy (pre-1.6) checkpoints are a pickle (or a tar) without a zip around them.
    private static func refuseOtherFormats(_ file: MappedFile, fileName: String) throws {
        let head = UnsafeRawBufferPointer(start: file.base, count: min(file.size, 512))
        let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        let isTar = head.count >= 262 && Array(head[257..<262]) == Array("ustar".utf8)
        if head.starts(with: legacyMagic) || isTar {
            throw WeightsError.malformed(
                file: fileName,
                reason: "legacy (pre-1.6, non-zip) PyTorch format is not supported: re-save it with torch >= 1.6 "
                    + "(torch.save(torch.load(f), f)) or convert it to model.safetensors")
        }
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else {
            throw WeightsError.malformed(
                file: fileName, reason: "not a zip archive, so not a PyTorch (>= 1.6) checkpoint")
        }
    }

    static func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let fields) = pid, fields.count >= 3, case .string("storage") = fields[0],
            case .global(let typeName) = fields[1], PickleCallables.storageTypes.contains(typeName)
        else { throw PersistentIdError() }
        let key: String
        switch fields[2] {
        case .string(let text): key = text
        case .int(let number): key = String(number)
        default: throw PersistentIdError()
        }
        return .storage(TorchStorage(key: key, typeName: typeName))
    }

    private struct PersistentIdError: Error, CustomStringConvertible {
        var description: String { "persistent id is not a torch storage reference" }
    }

    private struct CallError: Error, CustomStringConvertible {
        var description: String
    }

    /// The allowed callables, applied to plain values; everything else was refused at GLOBAL.
    static func call(_ name: String, _ args: [PickleValue]) throws -> PickleValue {
        switch name {
        case "collections.OrderedDict":
            guard args.isEmpty else { throw CallError(description: "OrderedDict with arguments is not supported") }
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3":
            guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
                let size = ints(args[2]), let stride = ints(args[3]), size.count == stride.count
            else { throw CallError(description: "\(name) with unexpected arguments") }
            var dtypeName: String?
            if name.hasSuffix("v3") {
                guard args.count >= 7, case .global(let dtype) = args[6] else {
                    throw CallError(description: "\(name) without a dtype")
                }
                dtypeName = dtype
            }
            return .tensor(
                TorchTensor(storage: storage, offset: offset, size: size, stride: stride, dtypeName: dtypeName))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = args.first, case .tensor = data else {
                throw CallError(description: "\(name) of something other than a tensor")
            }
            return data
        case "torch._utils._rebuild_from_type_v2":
            guard args.count >= 3, case .global(let function) = args[0], case .global(let type) = args[1],
                PickleCallables.tensorBuilders.contains(function), PickleCallables.classes.contains(type),
                case .tuple(let inner) = args[2]
            else { throw CallError(description: "\(name) of an unsupported tensor type") }
            return try call(function, inner)
        default:
            throw CallError(description: "'\(name)' cannot be called")
        }
    }

    private static func ints(_ value: PickleValue) -> [Int]? {
        guard case .tuple(let items) = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .int(let number) = item else { return nil }
            result.append(number)
        }
        return result
    }

    /// The dtype, or the name torch gave the unsupported one.
    private static func dtype(of tensor: TorchTensor) -> (DType?, String) {
        if let name = tensor.dtypeName { return (nil, name) }
        switch tensor.storage.typeName {
        case "torch.FloatStorage": return (.float32, "")
        case "torch.HalfStorage": return (.float16, "")
        case "torch.BFloat16Storage": return (.bfloat16, "")
        case "torch.LongStorage": return (.int64, "")
        case let other: return (nil, other)
        }
    }

    /// Resolves a tensor's record and checks that every element of the view lies inside it.
    private static func entry(
        _ tensor: TorchTensor, name: String, archive: ZipArchive, prefix: String, fileName: String
    ) throws -> Entry {
        func fail(_ reason: String) -> WeightsError {
            .malformed(file: fileName, reason: "tensor '\(name)': \(reason)")
        }
        let (known, typeName) = Self.dtype(of: tensor)
        guard let dtype = known else {
            let error = WeightsError.unsupportedDType(file: fileName, name: name, dtype: typeName)
            return Entry(dtype: .failure(error), shape: tensor.size, strides: tensor.stride, start: 0)
        }
        let recordName = "\(prefix)/data/\(tensor.storage.key)"
        guard let record = archive.entry(named: recordName) else {
            throw fail("data record '\(recordName)' is missing from the archive")
        }
        guard tensor.offset >= 0, tensor.size.allSatisfy({ $0 >= 0 }), tensor.stride.allSatisfy({ $0 >= 0 }) else {
            throw fail("negative offset, size or stride")
        }
        var count = 1
        var last = tensor.offset
        for (size, stride) in zip(tensor.size, tensor.stride) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw fail("shape \(tensor.size) is too large") }
            count = product
            guard size > 0 else { continue }
            let (step, overflowStep) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflowSum) = last.addingReportingOverflow(step)
            guard !overflowStep, !overflowSum else { throw fail("strides \(tensor.stride) are too large") }
            last = sum
        }
        guard count <= Int.max / 16 else { throw fail("shape \(tensor.size) is too large") }
        let capacity = record.size / dtype.byteWidth
        if count > 0 {
            guard last < capacity else {
                throw fail(
                    "view (offset \(tensor.offset), shape \(tensor.size), strides \(tensor.stride)) runs past "
                        + "its storage '\(recordName)' of \(capacity) elements")
            }
        } else {
            guard tensor.offset <= capacity else { throw fail("offset \(tensor.offset) is past its storage") }
        }
        return Entry(
            dtype: .success(dtype), shape: tensor.size, strides: tensor.stride,
            start: record.dataOffset + tensor.offset * dtype.byteWidth)
    }

    // MARK: - Layout

    /// Row-major, ignoring the stride of size-1 dimensions (torch gives them any stride).
    private static func isContiguous(_ shape: [Int], _ strides: [Int]) -> Bool {
        var step = 1
        for axis in shape.indices.reversed() where shape[axis] != 1 {
            guard strides[axis] == step else { return false }
            step *= shape[axis]
        }
        return true
    }

    /// Copies a strided view into contiguous bytes (row-major), then converts them.
    private static func gather(
        _ start: UnsafeRawPointer, shape: [Int], strides: [Int], width: Int,
        convert: (UnsafeRawPointer) -> [Float]
    ) -> [Float] {
        let count = shape.reduce(1, *)
        var packed = [UInt8](repeating: 0, count: count * width)
        var index = [Int](repeating: 0, count: shape.count)
        var source = 0
        packed.withUnsafeMutableBytes { out in
            for element in 0..<count {
                out.baseAddress!.advanced(by: element * width).copyMemory(
                    from: start + source * width, byteCount: width)
                // Advance the multi-index like an odometer, last axis fastest.
                var axis = shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    source += strides[axis]
                    if index[axis] < shape[axis] { break }
                    source -= strides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return packed.withUnsafeBytes { convert($0.baseAddress!) }
    }
}
