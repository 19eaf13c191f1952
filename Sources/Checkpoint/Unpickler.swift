/// A value produced by the restricted pickle machine. Containers are reference boxes: lists and dicts because pickle
/// memoizes an empty container and fills it afterwards (`EMPTY_DICT`, `BINPUT`, ..., `SETITEMS`), and all three so
/// that the machine can empty them one by one when it is done (`Unpickler.releaseAll`).
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// A reference to an allow-listed global; calling it (REDUCE/NEWOBJ) is interpreted, never executed.
    case global(AllowedGlobal)
    /// A persistent id `('storage', StorageType, key, location, numel)` resolved to a storage reference.
    case storage(StorageReference)
    /// The result of `torch._utils._rebuild_tensor_v2`.
    case tensor(TensorReference)

    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let global): "global \(global)"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// A container the machine built; `removeAll` drops its contents without releasing anything else.
protocol PickleContainer: AnyObject {
    func removeAll()
}

final class PickleTuple: PickleContainer {
    private(set) var items: [PickleValue]
    init(_ items: [PickleValue]) { self.items = items }
    func removeAll() { items = [] }
}

final class PickleList: PickleContainer {
    var items: [PickleValue] = []
    func removeAll() { items = [] }
}

final class PickleDict: PickleContainer {
    /// Insertion order is kept: state dicts are ordered and key order is part of the checkpoint.
    var entries: [(key: PickleValue, value: PickleValue)] = []
    private var positions: [String: Int] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        if case .string(let name) = key {
            if let position = positions[name] {
                entries[position].value = value
                return
            }
            positions[name] = entries.count
        }
        entries.append((key, value))
    }

    func value(forKey name: String) -> PickleValue? {
        positions[name].map { entries[$0].value }
    }

    func removeAll() {
        entries = []
        positions = [:]
    }
}

/// The only globals a checkpoint pickle may name. Anything else is refused when the opcode is read.
enum AllowedGlobal: Equatable, CustomStringConvertible {
    case rebuildTensorV2
    case rebuildTensor
    case rebuildParameter
    case orderedDict
    case storageType(ScalarType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor"): self = .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch", _):
            guard let type = ScalarType(storageTypeName: name) else { return nil }
            self = .storageType(type)
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .orderedDict: "collections.OrderedDict"
        case .storageType(let type): "torch.\(type.storageTypeName)"
        }
    }
}

struct StorageReference: Equatable {
    var scalarType: ScalarType
    /// The zip entry is `<prefix>/data/<key>`.
    var key: String
    var elementCount: Int
}

struct TensorReference {
    var storage: StorageReference
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A pickle virtual machine restricted to the opcodes torch.save emits (protocols 2 to 5). It builds plain values
/// and interprets the few allowed constructors itself: it never imports, calls or evaluates anything named in the
/// stream, so a malicious checkpoint can at worst produce an error.
struct Unpickler {
    let bytes: UnsafeRawBufferPointer
    /// The file the pickle came from, for error messages.
    let path: String

    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Every container built, in order. A hostile pickle can nest containers 100,000 deep, and releasing such a
    /// chain the ordinary way recurses once per level until the stack overflows; `releaseAll` empties each
    /// container while this list still holds them all, so each is then released on its own.
    private var containers: [any PickleContainer] = []

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Drops every value the machine built without recursing through nested containers. Call it (in a `defer`)
    /// once the result of `load` has been read; the values it returned are empty afterwards.
    mutating func releaseAll() {
        stack = []
        marks = []
        memo = [:]
        for container in containers { container.removeAll() }
        containers = []
    }

    /// Pushes a value, remembering it when it is a container.
    private mutating func push(_ value: PickleValue) {
        switch value {
        case .tuple(let tuple): containers.append(tuple)
        case .list(let list): containers.append(list)
        case .dict(let dict): containers.append(dict)
        default: break
        }
        stack.append(value)
    }

    /// Runs the machine to `STOP` and returns the top of the stack.
    mutating func load() throws(CheckpointError) -> PickleValue {
        while true {
            let start = position
            let opcode = try readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try readByte()
                guard version <= 5 else { throw error(at: start, "unsupported pickle protocol \(version)") }
            case 0x95:  // FRAME: an 8-byte length hint; frames are just a chunking of the same stream.
                _ = try readInteger(8, signed: false)
            case 0x2E:  // STOP
                return try pop(start)
            case 0x7D: push(.dict(PickleDict()))  // EMPTY_DICT
            case 0x5D: push(.list(PickleList()))  // EMPTY_LIST
            case 0x29: push(.tuple(PickleTuple([])))  // EMPTY_TUPLE
            case 0x28: marks.append(stack.count)  // MARK
            case 0x74: push(.tuple(PickleTuple(try popMark(start))))  // TUPLE
            case 0x85: push(.tuple(PickleTuple(try popCount(1, start))))  // TUPLE1
            case 0x86: push(.tuple(PickleTuple(try popCount(2, start))))  // TUPLE2
            case 0x87: push(.tuple(PickleTuple(try popCount(3, start))))  // TUPLE3
            case 0x58: stack.append(.string(try readUTF8(count: try readLength(4), start)))  // BINUNICODE
            case 0x8C: stack.append(.string(try readUTF8(count: try readLength(1), start)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try readUTF8(count: try readLength(8), start)))  // BINUNICODE8
            case 0x54: stack.append(.string(try readLatin1(count: try readLength(4))))  // BINSTRING
            case 0x55: stack.append(.string(try readLatin1(count: try readLength(1))))  // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try readBytes(try readLength(4)))))  // BINBYTES
            case 0x43: stack.append(.bytes(Array(try readBytes(try readLength(1)))))  // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(Array(try readBytes(try readLength(8)))))  // BINBYTES8
            case 0x4A: stack.append(.int(try readInteger(4, signed: true)))  // BININT
            case 0x4B: stack.append(.int(try readInteger(1, signed: false)))  // BININT1
            case 0x4D: stack.append(.int(try readInteger(2, signed: false)))  // BININT2
            case 0x8A:  // LONG1
                let count = try readLength(1)
                guard count <= 8 else { throw error(at: start, "LONG1 of \(count) bytes does not fit in 64 bits") }
                stack.append(.int(count == 0 ? 0 : try readInteger(count, signed: true)))
            case 0x47:  // BINFLOAT: big-endian IEEE double
                let raw = try readBytes(8)
                var bits: UInt64 = 0
                for byte in raw { bits = bits << 8 | UInt64(byte) }
                stack.append(.float(Double(bitPattern: bits)))
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4E: stack.append(.none)  // NONE
            case 0x71: memo[try readInteger(1, signed: false)] = try top(start)  // BINPUT
            case 0x72: memo[try readInteger(4, signed: false)] = try top(start)  // LONG_BINPUT
            case 0x94: memo[memo.count] = try top(start)  // MEMOIZE
            case 0x68: stack.append(try memoValue(try readInteger(1, signed: false), start))  // BINGET
            case 0x6A: stack.append(try memoValue(try readInteger(4, signed: false), start))  // LONG_BINGET
            case 0x30: _ = try pop(start)  // POP
            case 0x31: _ = try popMark(start)  // POP_MARK
            case 0x32: stack.append(try top(start))  // DUP
            case 0x73:  // SETITEM
                let value = try pop(start)
                let key = try hashableKey(try pop(start), start)
                try dictOnTop(start).set(key, value)
            case 0x75:  // SETITEMS
                let items = try popMark(start)
                guard items.count % 2 == 0 else { throw error(at: start, "SETITEMS with an odd item count") }
                let dict = try dictOnTop(start)
                for pair in stride(from: 0, to: items.count, by: 2) {
                    dict.set(try hashableKey(items[pair], start), items[pair + 1])
                }
            case 0x61:  // APPEND
                let value = try pop(start)
                try listOnTop(start).items.append(value)
            case 0x65:  // APPENDS
                let values = try popMark(start)
                try listOnTop(start).items.append(contentsOf: values)
            case 0x63:  // GLOBAL: "module\nname\n"
                let module = try readLine(start)
                let name = try readLine(start)
                stack.append(.global(try allow(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(start)
                let module = try pop(start)
                guard case .string(let moduleName) = module, case .string(let globalName) = name else {
                    throw error(at: start, "STACK_GLOBAL needs two strings")
                }
                stack.append(.global(try allow(module: moduleName, name: globalName)))
            case 0x52:  // REDUCE
                let arguments = try pop(start)
                let callable = try pop(start)
                guard case .tuple(let values) = arguments else {
                    throw error(at: start, "REDUCE arguments are a \(arguments.kindName), not a tuple")
                }
                push(try call(callable, values.items, start))
            case 0x81:  // NEWOBJ
                let arguments = try pop(start)
                let type = try pop(start)
                guard case .tuple(let values) = arguments else {
                    throw error(at: start, "NEWOBJ arguments are a \(arguments.kindName), not a tuple")
                }
                push(try call(type, values.items, start))
            case 0x62:  // BUILD: set state on the object below. Only dict-into-dict updates mean anything here;
                // tensors' states (backward hooks, metadata) are dropped because they never affect the data.
                // Only string keys are taken: a state is attribute names, and other keys (which would append rather
                // than replace) let a few BUILDs of two dicts into each other double them without end.
                let state = try pop(start)
                let target = try top(start)
                if case .dict(let dict) = target, case .dict(let update) = state, update !== dict {
                    for entry in update.entries {
                        if case .string = entry.key { dict.set(entry.key, entry.value) }
                    }
                }
            case 0x51:  // BINPERSID
                let identifier = try pop(start)
                stack.append(.storage(try persistentLoad(identifier, start)))
            default:
                throw error(
                    at: start,
                    "opcode 0x\(String(opcode, radix: 16)) is not in the torch.save subset this reader accepts")
            }
        }
    }

    // MARK: - Interpreting the allowed globals

    private func allow(module: String, name: String) throws(CheckpointError) -> AllowedGlobal {
        guard let global = AllowedGlobal(module: module, name: name) else {
            throw .forbiddenGlobal(path: path, global: "\(module).\(name)")
        }
        return global
    }

    private func call(_ callable: PickleValue, _ arguments: [PickleValue], _ start: Int) throws(CheckpointError)
        -> PickleValue
    {
        guard case .global(let global) = callable else {
            throw error(at: start, "cannot call a \(callable.kindName)")
        }
        switch global {
        case .orderedDict:
            guard arguments.isEmpty else { throw error(at: start, "OrderedDict called with arguments") }
            return .dict(PickleDict())
        case .rebuildTensorV2, .rebuildTensor:
            // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
            guard arguments.count >= 4, case .storage(let storage) = arguments[0],
                case .int(let offset) = arguments[1]
            else { throw error(at: start, "\(global) needs (storage, offset, size, stride, ...)") }
            let shape = try integers(arguments[2], "size", start)
            let strides = try integers(arguments[3], "stride", start)
            guard shape.count == strides.count, offset >= 0, shape.allSatisfy({ $0 >= 0 }),
                strides.allSatisfy({ $0 >= 0 })
            else {
                throw error(at: start, "tensor has size \(shape), stride \(strides) and offset \(offset)")
            }
            return .tensor(
                TensorReference(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            // (data, requires_grad, backward_hooks): a Parameter is its data for our purposes.
            guard let data = arguments.first, case .tensor = data else {
                throw error(at: start, "_rebuild_parameter needs a tensor")
            }
            return data
        case .storageType:
            throw error(at: start, "\(global) is a storage type marker and cannot be called")
        }
    }

    private func integers(_ value: PickleValue, _ what: String, _ start: Int) throws(CheckpointError) -> [Int] {
        guard case .tuple(let tuple) = value else { throw error(at: start, "tensor \(what) is not a tuple") }
        var result: [Int] = []
        for value in tuple.items {
            guard case .int(let integer) = value else { throw error(at: start, "tensor \(what) holds a non-integer") }
            result.append(integer)
        }
        return result
    }

    private func persistentLoad(_ identifier: PickleValue, _ start: Int) throws(CheckpointError) -> StorageReference {
        guard case .tuple(let tuple) = identifier, case let fields = tuple.items, fields.count == 5,
            case .string("storage") = fields[0],
            case .global(.storageType(let scalarType)) = fields[1], case .int(let count) = fields[4], count >= 0
        else {
            throw error(at: start, "persistent id is not ('storage', StorageType, key, location, numel)")
        }
        let key: String
        switch fields[2] {
        case .string(let text): key = text
        case .int(let number): key = String(number)
        default: throw error(at: start, "storage key is a \(fields[2].kindName)")
        }
        guard !key.isEmpty, !key.contains("/"), !key.contains("..") else {
            throw error(at: start, "storage key '\(key)' is not a plain name")
        }
        return StorageReference(scalarType: scalarType, key: key, elementCount: count)
    }

    // MARK: - Stack

    private mutating func pop(_ start: Int) throws(CheckpointError) -> PickleValue {
        guard let value = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw error(at: start, "stack underflow")
        }
        return value
    }

    private func top(_ start: Int) throws(CheckpointError) -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw error(at: start, "stack underflow") }
        return value
    }

    private mutating func popMark(_ start: Int) throws(CheckpointError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw error(at: start, "no MARK on the stack") }
        let values = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return values
    }

    private mutating func popCount(_ count: Int, _ start: Int) throws(CheckpointError) -> [PickleValue] {
        guard stack.count - count >= (marks.last ?? 0) else { throw error(at: start, "stack underflow") }
        let values = Array(stack[(stack.count - count)...])
        stack.removeLast(count)
        return values
    }

    /// A dict key as Python allows it: lists and dicts are unhashable (Python's own unpickler fails on them).
    private func hashableKey(_ key: PickleValue, _ start: Int) throws(CheckpointError) -> PickleValue {
        switch key {
        case .list, .dict: throw error(at: start, "a dict key is a \(key.kindName), which is unhashable")
        default: return key
        }
    }

    private func dictOnTop(_ start: Int) throws(CheckpointError) -> PickleDict {
        guard case .dict(let dict) = try top(start) else { throw error(at: start, "SETITEM target is not a dict") }
        return dict
    }

    private func listOnTop(_ start: Int) throws(CheckpointError) -> PickleList {
        guard case .list(let list) = try top(start) else { throw error(at: start, "APPEND target is not a list") }
        return list
    }

    private func memoValue(_ index: Int, _ start: Int) throws(CheckpointError) -> PickleValue {
        guard let value = memo[index] else { throw error(at: start, "memo entry \(index) is not set") }
        return value
    }

    // MARK: - Reading bytes

    private mutating func readBytes(_ count: Int) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw error(at: position, "pickle ends inside an operand (\(count) bytes wanted)")
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
        position += count
        return slice
    }

    private mutating func readByte() throws(CheckpointError) -> UInt8 {
        guard position < bytes.count else { throw error(at: position, "pickle ends without STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian integer of `count` bytes (at most 8).
    private mutating func readInteger(_ count: Int, signed: Bool) throws(CheckpointError) -> Int {
        let raw = try readBytes(count)
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        if signed, count < 8, raw[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
        if !signed, value > UInt64(Int.max) { throw error(at: position - count, "integer too large") }
        return Int(bitPattern: UInt(value))
    }

    private mutating func readLength(_ count: Int) throws(CheckpointError) -> Int {
        let length = try readInteger(count, signed: false)
        guard length <= bytes.count - position else {
            throw error(at: position, "operand of \(length) bytes runs past the end of the pickle")
        }
        return length
    }

    private mutating func readUTF8(count: Int, _ start: Int) throws(CheckpointError) -> String {
        let raw = try readBytes(count)
        guard let text = String(validating: raw, as: UTF8.self) else { throw error(at: start, "invalid UTF-8") }
        return text
    }

    private mutating func readLatin1(count: Int) throws(CheckpointError) -> String {
        String(decoding: try readBytes(count).map { UInt16($0) }, as: UTF16.self)
    }

    private mutating func readLine(_ start: Int) throws(CheckpointError) -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
            throw error(at: start, "GLOBAL operand without a newline")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<newline]), as: UTF8.self)
        position = newline + 1
        return text
    }

    private func error(at offset: Int, _ detail: String) -> CheckpointError {
        .malformedPickle(path: path, offset: offset, detail: detail)
    }
}
