import Basics
import FoundationEssentials
import Glibc

/// Writes state dicts exactly as `torch.save({"module": state_dict}, path)` lays them out, so converted or
/// re-sharded checkpoints load in the official PyTorch stack and in this reader alike:
/// a zip of stored entries `archive/data.pkl` (pickle protocol 2), `archive/byteorder`, `archive/data/<key>`
/// (one storage per tensor, data aligned to 64 bytes like torch's writer) and `archive/version`. Tensors are fp16
/// (`torch.HalfStorage`) or int8 (`torch.CharStorage`, what official quantized checkpoints hold).
public enum TorchCheckpointWriter {
    /// Writes `tensors` (in this order) as `{"module": OrderedDict(name -> fp16 tensor)}` to `url`.
    public static func write(_ tensors: [(String, HalfTensor)], to url: URL) throws(CheckpointError) {
        try write(tensors.map { ($0.0, CheckpointTensor.float16($0.1)) }, to: url, forceZip64: false)
    }

    /// Writes `tensors` (in this order, fp16 or int8) as `{"module": OrderedDict(name -> tensor)}` to `url`.
    public static func write(_ tensors: [(String, CheckpointTensor)], to url: URL) throws(CheckpointError) {
        try write(tensors, to: url, forceZip64: false)
    }

    /// Writes `<dir>/latest` and `<dir>/<iteration>/mp_rank_XX_model_states.pt`, one file per element of `shards`.
    public static func writeCheckpointDirectory(
        shards: [[(String, HalfTensor)]], to directory: URL, iteration: Int
    ) throws(CheckpointError) {
        try writeCheckpointDirectory(
            shards: shards.map { $0.map { ($0.0, CheckpointTensor.float16($0.1)) } }, to: directory,
            iteration: iteration)
    }

    /// As above, for fp16 and int8 tensors.
    public static func writeCheckpointDirectory(
        shards: [[(String, CheckpointTensor)]], to directory: URL, iteration: Int
    ) throws(CheckpointError) {
        let folder = directory.appendingPathComponent(String(iteration))
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw .writeFailed(path: folder.path, reason: error.explanation)
        }
        for (rank, tensors) in shards.enumerated() {
            try write(tensors, to: folder.appendingPathComponent(CheckpointDirectory.shardName(rank: rank)))
        }
        let latest = directory.appendingPathComponent("latest")
        do {
            try Data(String(iteration).utf8).write(to: latest)
        } catch {
            throw .writeFailed(path: latest.path, reason: error.explanation)
        }
    }

    /// `forceZip64` writes ZIP64 records even for small files, so tests can cover the path real 32 GB shards take.
    static func write(_ tensors: [(String, HalfTensor)], to url: URL, forceZip64: Bool) throws(CheckpointError) {
        try write(tensors.map { ($0.0, CheckpointTensor.float16($0.1)) }, to: url, forceZip64: forceZip64)
    }

    static func write(
        _ tensors: [(String, CheckpointTensor)], to url: URL, forceZip64: Bool
    ) throws(CheckpointError) {
        let prefix = "archive"
        var zip = try ZipWriter(url: url, forceZip64: forceZip64)
        do {
            try zip.add("\(prefix)/data.pkl", Data(statePickle(tensors)))
            try zip.add("\(prefix)/byteorder", Data("little".utf8))
            for (key, (_, tensor)) in tensors.enumerated() {
                try tensor.withUnsafeBytes { bytes in
                    try zip.add("\(prefix)/data/\(key)", bytes)
                }
            }
            try zip.add("\(prefix)/version", Data("3\n".utf8))
            try zip.finish()
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .writeFailed(path: url.path, reason: error.explanation)
        }
    }

    /// The pickle torch.save writes for `{"module": OrderedDict(...)}` of fp16 tensors, storage `i` for tensor `i`:
    /// `_rebuild_tensor_v2(('storage', HalfStorage, 'i', 'cpu', numel), 0, shape, strides, False, OrderedDict())`.
    static func statePickle(_ tensors: [(String, HalfTensor)]) -> [UInt8] {
        statePickle(tensors.map { ($0.0, CheckpointTensor.float16($0.1)) })
    }

    /// As above for fp16 and int8 tensors (`HalfStorage` or `CharStorage`).
    static func statePickle(_ tensors: [(String, CheckpointTensor)]) -> [UInt8] {
        var pickle = PickleWriter()
        pickle.opcode(0x80, 2)  // PROTO 2
        pickle.opcode(0x7D)  // EMPTY_DICT
        pickle.string("module")
        pickle.global("collections", "OrderedDict")
        pickle.opcode(0x29, 0x52)  // EMPTY_TUPLE, REDUCE
        if !tensors.isEmpty {
            pickle.opcode(0x28)  // MARK
            for (key, (name, tensor)) in tensors.enumerated() {
                pickle.string(name)
                pickle.global("torch._utils", "_rebuild_tensor_v2")
                pickle.opcode(0x28, 0x28)  // MARK (arguments), MARK (persistent id)
                pickle.string("storage")
                pickle.global("torch", tensor.dtype.storageTypeName)
                pickle.string(String(key))
                pickle.string("cpu")
                pickle.integer(tensor.elementCount)
                pickle.opcode(0x74, 0x51)  // TUPLE, BINPERSID
                pickle.integer(0)  // storage offset
                pickle.tuple(tensor.shape)
                pickle.tuple(rowMajorStrides(tensor.shape))
                pickle.opcode(0x89)  // NEWFALSE: requires_grad
                pickle.global("collections", "OrderedDict")
                pickle.opcode(0x29, 0x52)  // OrderedDict(): backward hooks
                pickle.opcode(0x74, 0x52)  // TUPLE, REDUCE
            }
            pickle.opcode(0x75)  // SETITEMS
        }
        pickle.opcode(0x73, 0x2E)  // SETITEM, STOP
        return pickle.bytes
    }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for dimension in shape.indices.reversed() {
            strides[dimension] = running
            running *= shape[dimension]
        }
        return strides
    }
}

/// Emits pickle opcodes (protocol 2 subset).
struct PickleWriter {
    var bytes: [UInt8] = []

    mutating func opcode(_ codes: UInt8...) { bytes.append(contentsOf: codes) }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58)  // BINUNICODE
        append(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)  // GLOBAL
        bytes.append(contentsOf: Array("\(module)\n\(name)\n".utf8))
    }

    mutating func integer(_ value: Int) {
        switch value {
        case 0..<256: opcode(0x4B, UInt8(value))  // BININT1
        case 256..<65536:
            bytes.append(0x4D)  // BININT2
            append(UInt16(value))
        case Int(Int32.min)...Int(Int32.max):
            bytes.append(0x4A)  // BININT
            append(UInt32(bitPattern: Int32(value)))
        default:
            opcode(0x8A, 8)  // LONG1, 8 bytes two's complement
            append(UInt64(bitPattern: Int64(value)))
        }
    }

    mutating func tuple(_ values: [Int]) {
        switch values.count {
        case 0: opcode(0x29)  // EMPTY_TUPLE
        case 1...3:
            for value in values { integer(value) }
            opcode([0x85, 0x86, 0x87][values.count - 1])  // TUPLE1/2/3
        default:
            opcode(0x28)
            for value in values { integer(value) }
            opcode(0x74)  // MARK ... TUPLE
        }
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Streams stored zip entries to a file, with 64-byte-aligned data (torch pads the local extra field with a
/// 0x4246 "FB" record) and ZIP64 records when an offset or size needs them. It owns the file's descriptor (closed
/// by `finish`, or when the writer goes away after a failure), hence noncopyable.
struct ZipWriter: ~Copyable {
    private struct Record {
        var name: [UInt8]
        var crc: UInt32
        var size: Int
        var offset: Int
    }

    let path: String
    let forceZip64: Bool
    private var descriptor: Int32
    private var position = 0
    private var records: [Record] = []

    init(url: URL, forceZip64: Bool) throws(CheckpointError) {
        let descriptor =
            FileManager.default.createFile(atPath: url.path, contents: nil) ? open(url.path, O_WRONLY | O_CLOEXEC) : -1
        guard descriptor >= 0 else { throw .writeFailed(path: url.path, reason: "cannot create the file") }
        self.path = url.path
        self.forceZip64 = forceZip64
        self.descriptor = descriptor
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    mutating func add(_ name: String, _ data: Data) throws {
        try data.withUnsafeBytes { try add(name, $0) }
    }

    mutating func add(_ name: String, _ data: UnsafeRawBufferPointer) throws {
        let nameBytes = Array(name.utf8)
        let crc = CRC32.checksum(data)
        let zip64 = forceZip64 || data.count >= 0xFFFF_FFFF
        var header = LittleEndianBytes()
        header.u32(0x0403_4b50)
        header.u16(zip64 ? 45 : 20)  // version needed
        header.u16(0)  // flags
        header.u16(0)  // method: stored
        header.u16(0)  // time
        header.u16(0x21)  // date: 1980-01-01
        header.u32(crc)
        header.u32(zip64 ? 0xFFFF_FFFF : UInt32(data.count))
        header.u32(zip64 ? 0xFFFF_FFFF : UInt32(data.count))
        header.u16(UInt16(nameBytes.count))
        let zip64Length = zip64 ? 20 : 0
        let unpadded = position + 30 + nameBytes.count + zip64Length + 4
        let padding = (64 - unpadded % 64) % 64
        header.u16(UInt16(zip64Length + 4 + padding))
        header.bytes.append(contentsOf: nameBytes)
        if zip64 {
            header.u16(0x0001)
            header.u16(16)
            header.u64(UInt64(data.count))
            header.u64(UInt64(data.count))
        }
        header.u16(0x4246)
        header.u16(UInt16(padding))
        header.bytes.append(contentsOf: repeatElement(0, count: padding))
        records.append(Record(name: nameBytes, crc: crc, size: data.count, offset: position))
        try emit(header.bytes)
        try emit(data)
    }

    mutating func finish() throws {
        let directoryOffset = position
        for record in records {
            let zip64 = forceZip64 || record.size >= 0xFFFF_FFFF || record.offset >= 0xFFFF_FFFF
            var entry = LittleEndianBytes()
            entry.u32(0x0201_4b50)
            entry.u16(zip64 ? 45 : 20)  // version made by
            entry.u16(zip64 ? 45 : 20)  // version needed
            entry.u16(0)
            entry.u16(0)
            entry.u16(0)
            entry.u16(0x21)
            entry.u32(record.crc)
            entry.u32(zip64 ? 0xFFFF_FFFF : UInt32(record.size))
            entry.u32(zip64 ? 0xFFFF_FFFF : UInt32(record.size))
            entry.u16(UInt16(record.name.count))
            entry.u16(zip64 ? 28 : 0)
            entry.u16(0)  // comment
            entry.u16(0)  // disk
            entry.u16(0)  // internal attributes
            entry.u32(0)  // external attributes
            entry.u32(zip64 ? 0xFFFF_FFFF : UInt32(record.offset))
            entry.bytes.append(contentsOf: record.name)
            if zip64 {
                entry.u16(0x0001)
                entry.u16(24)
                entry.u64(UInt64(record.size))
                entry.u64(UInt64(record.size))
                entry.u64(UInt64(record.offset))
            }
            try emit(entry.bytes)
        }
        let directorySize = position - directoryOffset
        let zip64 =
            forceZip64 || records.count >= 0xFFFF || directoryOffset >= 0xFFFF_FFFF
            || directorySize >= 0xFFFF_FFFF
        var end = LittleEndianBytes()
        if zip64 {
            let zip64EndOffset = position
            end.u32(0x0606_4b50)
            end.u64(44)  // size of the rest of this record
            end.u16(45)
            end.u16(45)
            end.u32(0)
            end.u32(0)
            end.u64(UInt64(records.count))
            end.u64(UInt64(records.count))
            end.u64(UInt64(directorySize))
            end.u64(UInt64(directoryOffset))
            end.u32(0x0706_4b50)  // locator
            end.u32(0)
            end.u64(UInt64(zip64EndOffset))
            end.u32(1)
        }
        end.u32(0x0605_4b50)
        end.u16(0)
        end.u16(0)
        end.u16(zip64 ? 0xFFFF : UInt16(records.count))
        end.u16(zip64 ? 0xFFFF : UInt16(records.count))
        end.u32(zip64 ? 0xFFFF_FFFF : UInt32(directorySize))
        end.u32(zip64 ? 0xFFFF_FFFF : UInt32(directoryOffset))
        end.u16(0)  // comment
        try emit(end.bytes)
        let status = close(descriptor)
        descriptor = -1
        guard status == 0 else {
            throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(errno)))
        }
    }

    private mutating func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private mutating func emit(_ data: UnsafeRawBufferPointer) throws {
        let failure = writeFully(descriptor, data)
        guard failure == 0 else {
            throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(failure)))
        }
        position += data.count
    }
}

struct LittleEndianBytes {
    var bytes: [UInt8] = []
    mutating func u16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
}
