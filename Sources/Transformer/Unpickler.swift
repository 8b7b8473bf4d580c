import Foundation

/// A value on the unpickler's stack. Lists and dicts are reference types because the pickle memo
/// shares them: an APPEND or SETITEM through one reference must be seen through every other.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A whitelisted `module.name`; nothing is ever looked up or executed.
    case global(String)
    /// A persistent id resolved by the caller (a torch storage).
    case storage(TorchStorage)
    case tensor(TorchTensor)
}

final class PickleList {
    var items: [PickleValue] = []
}

final class PickleDict {
    /// Insertion order, as Python keeps it; string keys are indexed for replacement.
    private(set) var items: [(key: PickleValue, value: PickleValue)] = []
    private var stringKeys: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let name) = key {
            if let index = stringKeys[name] {
                items[index].value = value
                return
            }
            stringKeys[name] = items.count
        }
        items.append((key, value))
    }
}

/// The callables a pickle may name: what `torch.save` writes for a state dict of tensors. Any other
/// global is refused before anything else happens, like `torch.load(weights_only=True)` does.
enum PickleCallables {
    static let tensorBuilders: Set<String> = [
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state", "torch._utils._rebuild_from_type_v2",
    ]
    static let classes: Set<String> = [
        "collections.OrderedDict", "torch._tensor.Tensor", "torch.Tensor", "torch.nn.parameter.Parameter",
    ]
    static let storageTypes: Set<String> = [
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.LongStorage",
        "torch.DoubleStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage",
        "torch.BoolStorage", "torch.ComplexFloatStorage", "torch.ComplexDoubleStorage", "torch.UntypedStorage",
        "torch.storage.UntypedStorage",
    ]

    static func allows(_ name: String) -> Bool {
        if tensorBuilders.contains(name) || classes.contains(name) || storageTypes.contains(name) { return true }
        // dtypes passed to _rebuild_tensor_v3 (torch.uint16, torch.float8_e4m3fn, ...): plain names.
        if name.hasPrefix("torch."), !name.dropFirst(6).contains("."),
            name.dropFirst(6).allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
            name.dropFirst(6).first?.isLowercase == true
        {
            return true
        }
        return false
    }
}

/// A pickle virtual machine for the protocol-2..5 opcodes `torch.save` emits. It builds values, never
/// objects: `REDUCE` and `NEWOBJ` are handed to `call`, which knows the few allowed callables.
struct Unpickler {
    typealias Call = (_ callable: String, _ args: [PickleValue]) throws -> PickleValue
    typealias PersistentLoad = (_ pid: PickleValue) throws -> PickleValue

    private var bytes: UnsafeRawBufferPointer
    private var at = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let fail: (String) -> WeightsError

    init(_ bytes: UnsafeRawBufferPointer, fail: @escaping (String) -> WeightsError) {
        self.bytes = bytes
        self.fail = fail
    }

    mutating func run(call: Call, persistentLoad: PersistentLoad) throws -> PickleValue {
        while true {
            let position = at
            let op = try byte()
            do {
                if let result = try step(op, call: call, persistentLoad: persistentLoad) { return result }
            } catch let error as PickleFault {
                throw fail("\(error.reason) (opcode 0x\(String(op, radix: 16)) at byte \(position))")
            } catch let error as WeightsError {
                throw error
            } catch {
                throw fail("\(error) (opcode 0x\(String(op, radix: 16)) at byte \(position))")
            }
        }
    }

    private struct PickleFault: Error { var reason: String }

    private mutating func step(_ op: UInt8, call: Call, persistentLoad: PersistentLoad) throws -> PickleValue? {
        switch op {
        case 0x80: _ = try byte()  // PROTO
        case 0x95: _ = try read(8)  // FRAME: a length hint only
        case 0x2E: return try pop()  // STOP
        case 0x28: marks.append(stack.count)  // MARK
        case 0x30: _ = try pop()  // POP
        case 0x31: _ = try popMark()  // POP_MARK
        case 0x32: stack.append(try top())  // DUP
        case 0x4E: stack.append(.none)
        case 0x88: stack.append(.bool(true))
        case 0x89: stack.append(.bool(false))
        case 0x4B: stack.append(.int(Int(try byte())))  // BININT1
        case 0x4D: stack.append(.int(Int(try uint(2))))  // BININT2
        case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
        case 0x8A: stack.append(.int(try long(count: Int(try byte()))))  // LONG1
        case 0x8B: stack.append(.int(try long(count: try length(4))))  // LONG4
        case 0x47:  // BINFLOAT, big-endian
            stack.append(.float(Double(bitPattern: try read(8).reduce(0) { $0 << 8 | UInt64($1) })))
        case 0x58: stack.append(.string(try text(try length(4))))  // BINUNICODE
        case 0x8C: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINUNICODE
        case 0x8D: stack.append(.string(try text(try length(8))))  // BINUNICODE8
        case 0x54: stack.append(.string(try text(try length(4))))  // BINSTRING (protocol 1 str)
        case 0x55: stack.append(.string(try text(Int(try byte()))))  // SHORT_BINSTRING
        case 0x42: stack.append(.bytes(Array(try read(try length(4)))))  // BINBYTES
        case 0x43: stack.append(.bytes(Array(try read(Int(try byte())))))  // SHORT_BINBYTES
        case 0x8E: stack.append(.bytes(Array(try read(try length(8)))))  // BINBYTES8
        case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
        case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
        case 0x85, 0x86, 0x87:  // TUPLE1..3
            let count = Int(op - 0x84)
            guard stack.count - (marks.last ?? 0) >= count else { throw PickleFault(reason: "pickle stack underflow") }
            let items = Array(stack.suffix(count))
            stack.removeLast(count)
            stack.append(.tuple(items))
        case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
        case 0x6C:  // LIST
            let list = PickleList()
            list.items = try popMark()
            stack.append(.list(list))
        case 0x61:  // APPEND
            let item = try pop()
            try asList(try top()).items.append(item)
        case 0x65:  // APPENDS
            let items = try popMark()
            try asList(try top()).items.append(contentsOf: items)
        case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
        case 0x64:  // DICT
            let dict = PickleDict()
            try setItems(dict, try popMark())
            stack.append(.dict(dict))
        case 0x73:  // SETITEM
            let value = try pop()
            let key = try pop()
            try asDict(try top()).set(key, value)
        case 0x75:  // SETITEMS
            let items = try popMark()
            try setItems(try asDict(try top()), items)
        case 0x71: memo[Int(try byte())] = try top()  // BINPUT
        case 0x72: memo[Int(try uint(4))] = try top()  // LONG_BINPUT
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case 0x68: stack.append(try memoized(Int(try byte())))  // BINGET
        case 0x6A: stack.append(try memoized(Int(try uint(4))))  // LONG_BINGET
        case 0x63:  // GLOBAL: "module\nname\n"
            let module = try line()
            stack.append(try global(module, try line()))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard case .string(let m) = module, case .string(let n) = name else {
                throw PickleFault(reason: "STACK_GLOBAL needs two strings")
            }
            stack.append(try global(m, n))
        case 0x51: stack.append(try persistentLoad(try pop()))  // BINPERSID
        case 0x52:  // REDUCE
            let args = try pop()
            let callable = try pop()
            stack.append(try invoke(callable, args, call: call))
        case 0x81:  // NEWOBJ: cls.__new__(cls, *args)
            let args = try pop()
            let cls = try pop()
            stack.append(try invoke(cls, args, call: call))
        case 0x62:  // BUILD: an object's __setstate__; only the state of dicts and tensors, which is dropped
            let state = try pop()
            switch (try top(), state) {
            case (.dict, _), (.tensor, _): break
            default: throw PickleFault(reason: "BUILD on an unsupported object")
            }
        default:
            throw PickleFault(reason: "unsupported or unknown pickle opcode")
        }
        return nil
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        let qualified = "\(module).\(name)"
        guard PickleCallables.allows(qualified) else {
            throw PickleFault(
                reason: "refusing global '\(qualified)': only state dicts of tensors are read, nothing is executed")
        }
        return .global(qualified)
    }

    private func invoke(_ callable: PickleValue, _ args: PickleValue, call: Call) throws -> PickleValue {
        guard case .global(let name) = callable else { throw PickleFault(reason: "call of a non-callable value") }
        guard case .tuple(let arguments) = args else { throw PickleFault(reason: "call of '\(name)' without a tuple") }
        do {
            return try call(name, arguments)
        } catch let error as WeightsError {
            throw error
        } catch {
            throw PickleFault(reason: "\(error)")
        }
    }

    private func setItems(_ dict: PickleDict, _ items: [PickleValue]) throws {
        guard items.count % 2 == 0 else { throw PickleFault(reason: "odd number of items for a dict") }
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
    }

    private func asList(_ value: PickleValue) throws -> PickleList {
        guard case .list(let list) = value else { throw PickleFault(reason: "APPEND to a non-list") }
        return list
    }

    private func asDict(_ value: PickleValue) throws -> PickleDict {
        guard case .dict(let dict) = value else { throw PickleFault(reason: "SETITEM on a non-dict") }
        return dict
    }

    private func memoized(_ key: Int) throws -> PickleValue {
        guard let value = memo[key] else { throw PickleFault(reason: "memo key \(key) was never stored") }
        return value
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw PickleFault(reason: "pickle stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let value = stack.last else {
            throw PickleFault(reason: "pickle stack underflow")
        }
        return value
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw PickleFault(reason: "pickle stack underflow (no MARK)") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func read(_ count: Int) throws -> UnsafeRawBufferPointer.SubSequence {
        guard count >= 0, count <= bytes.count - at else {
            throw fail("pickle ends in the middle of an opcode at byte \(at) (truncated?)")
        }
        defer { at += count }
        return bytes[at..<at + count]
    }

    private mutating func byte() throws -> UInt8 { try read(1).first! }

    private mutating func uint(_ count: Int) throws -> UInt64 {
        try read(count).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    private mutating func length(_ count: Int) throws -> Int {
        guard let value = Int(exactly: try uint(count)) else { throw PickleFault(reason: "length out of range") }
        return value
    }

    /// Two's complement little-endian, as LONG1/LONG4 store it; beyond 64 bits is refused.
    private mutating func long(count: Int) throws -> Int {
        guard count <= 8 else { throw PickleFault(reason: "integer wider than 64 bits") }
        let raw = try read(count)
        guard count > 0 else { return 0 }
        var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if count < 8, raw.last! & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func text(_ count: Int) throws -> String {
        String(decoding: try read(count), as: UTF8.self)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[at...].firstIndex(of: 0x0A) else {
            throw fail("pickle ends in the middle of a GLOBAL at byte \(at) (truncated?)")
        }
        defer { at = end + 1 }
        return String(decoding: bytes[at..<end], as: UTF8.self)
    }
}
