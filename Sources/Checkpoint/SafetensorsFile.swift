import Basics
import FoundationEssentials

/// One `.safetensors` file (the format Hugging Face releases such as GLM-4 ship): an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range inside the data that follows, then the
/// data, every tensor dense and row-major. The file is memory-mapped; the header is checked against the file
/// before any tensor is read (its length, each range inside the data, sizes that match shape and dtype, no two
/// tensors overlapping), and a read copies only the box of the tensor it asks for.
public final class SafetensorsFile: Sendable {
    /// One tensor as the header describes it.
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var dtype: ScalarType
        public var shape: [Int]
        /// The tensor's bytes, as offsets into the file.
        public var bytes: Range<Int>
    }

    public var path: String { file.path }
    /// Every tensor, in the order of its data.
    public let tensors: [Tensor]
    /// `__metadata__`'s string fields (`format`, ...).
    public let metadata: [String: String]
    private let file: MappedFile
    private let index: [String: Int]

    /// The largest header the format allows (100 MB, as the reference implementation).
    static let maximumHeader = 100_000_000

    public convenience init(path: String) throws(CheckpointError) {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws(CheckpointError) {
        self.file = file
        func fail(_ detail: String, _ tensor: String? = nil) -> CheckpointError {
            .invalidSafetensors(path: file.path, tensor: tensor, detail: detail)
        }
        let bytes = file.bytes
        guard bytes.count >= 8 else { throw fail("\(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = Int(clamping: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
        guard headerLength <= Self.maximumHeader, headerLength <= bytes.count - 8 else {
            throw fail("a header of \(headerLength) bytes does not fit the \(bytes.count)-byte file")
        }
        let header = Data(UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)]))
        guard case .object(let fields)? = JSONValue.parse(header) else { throw fail("the header is not a JSON object") }
        if let (key, _) = JSONValue.firstDuplicateKey(in: header) {
            throw fail("\"\(key)\" appears twice in the header")
        }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var tensors: [Tensor] = []
        var metadata: [String: String] = [:]
        for (name, value) in fields {
            if name == "__metadata__" {
                guard case .object(let entries) = value else { throw fail("__metadata__ must be an object") }
                for (key, entry) in entries { metadata[key] = entry.stringValue }
                continue
            }
            guard case .object(let entry) = value, let code = entry["dtype"]?.stringValue,
                let shapeValues = entry["shape"]?.arrayValue, let offsets = entry["data_offsets"]?.arrayValue,
                offsets.count == 2
            else {
                throw fail("expected {\"dtype\", \"shape\", \"data_offsets\": [begin, end]}", name)
            }
            guard let dtype = Self.dtypes[code] else {
                throw fail(
                    "dtype \(code) is not supported (\(Self.dtypes.keys.sorted().joined(separator: ", ")))", name)
            }
            var shape: [Int] = []
            var count = 1
            for dimension in shapeValues {
                guard let size = dimension.numberValue, size >= 0, size.rounded() == size, size < 1e15 else {
                    throw fail("shape \(Self.render(shapeValues)) must hold non-negative integers", name)
                }
                shape.append(Int(size))
                let (product, overflow) = count.multipliedReportingOverflow(by: Int(size))
                guard !overflow, product <= dataSize else { throw fail("shape \(shape) is larger than the file", name) }
                count = product
            }
            guard let begin = offsets[0].numberValue, let end = offsets[1].numberValue, begin >= 0, end >= begin,
                end <= Double(dataSize), begin.rounded() == begin, end.rounded() == end
            else {
                throw fail("data_offsets \(Self.render(offsets)) must lie within the \(dataSize) bytes of data", name)
            }
            guard Int(end) - Int(begin) == count * dtype.byteCount else {
                throw fail(
                    "data_offsets hold \(Int(end) - Int(begin)) bytes, but shape \(shape) of \(code) needs "
                        + "\(count * dtype.byteCount)", name)
            }
            tensors.append(
                Tensor(name: name, dtype: dtype, shape: shape, bytes: (dataStart + Int(begin))..<(dataStart + Int(end)))
            )
        }
        tensors.sort { ($0.bytes.lowerBound, $0.name) < ($1.bytes.lowerBound, $1.name) }
        for (earlier, later) in zip(tensors, tensors.dropFirst())
        where earlier.bytes.upperBound > later.bytes.lowerBound {
            throw fail("the data of '\(earlier.name)' and '\(later.name)' overlap")
        }
        self.tensors = tensors
        self.metadata = metadata
        index = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($1.name, $0) })
    }

    /// A header array as its JSON text shows it (`[0, 8]`), for messages.
    static func render(_ values: [JSONValue]) -> String {
        let items = values.map { value -> String in
            switch value {
            case .integer(let number): String(number)
            case .number(let number): String(number)
            case .string(let text): "\"\(text)\""
            case .bool(let flag): String(flag)
            case .null: "null"
            case .array: "[...]"
            case .object: "{...}"
            }
        }
        return "[" + items.joined(separator: ", ") + "]"
    }

    /// The header's dtype codes.
    static let dtypes: [String: ScalarType] = [
        "F16": .float16, "BF16": .bfloat16, "F32": .float32, "F64": .float64, "I8": .int8, "U8": .uint8,
        "I32": .int32, "I64": .int64, "BOOL": .bool,
    ]

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let position = index[name] else { throw .missingKey(path: path, key: name) }
        return tensors[position]
    }

    /// A copy of the file's bytes in `range` (clamped to the file).
    func rawBytes(_ range: Range<Int>) -> [UInt8] {
        let bytes = file.bytes
        let clamped = range.clamped(to: 0..<bytes.count)
        return Array(bytes[clamped])
    }

    /// A row-major fp16 copy of the box `region` of the tensor (nil: all of it), converted from bf16 or fp32.
    public func float16(_ name: String, region: [Range<Int>]? = nil) throws(CheckpointError) -> [Float16] {
        let tensor = try tensor(named: name)
        switch tensor.dtype {
        case .float16:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                p.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self)
            }
        case .bfloat16:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                Float16(Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16))
            }
        case .float32:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                Float16(p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
            }
        default:
            throw .dtypeMismatch(path: path, key: name, expected: "F16, BF16 or F32", found: tensor.dtype.rawValue)
        }
    }

    /// A row-major copy of the box `region` of an int8 tensor (nil: all of it).
    public func int8(_ name: String, region: [Range<Int>]? = nil) throws(CheckpointError) -> [Int8] {
        let tensor = try tensor(named: name)
        guard tensor.dtype == .int8 else {
            throw .dtypeMismatch(path: path, key: name, expected: "I8", found: tensor.dtype.rawValue)
        }
        return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
            p.loadUnaligned(fromByteOffset: i, as: Int8.self)
        }
    }

    /// The stored bytes of tensor `name` (dense, row-major, little-endian), as the file holds them.
    public func storedBytes(_ name: String) throws(CheckpointError) -> [UInt8] {
        rawBytes(try tensor(named: name).bytes)
    }

    /// A row-major fp32 copy of the box `region` of the tensor (nil: all of it), converted from fp16 or bf16.
    public func float32(_ name: String, region: [Range<Int>]? = nil) throws(CheckpointError) -> [Float] {
        let tensor = try tensor(named: name)
        switch tensor.dtype {
        case .float16:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                Float(p.loadUnaligned(fromByteOffset: 2 * i, as: Float16.self))
            }
        case .bfloat16:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case .float32:
            return try gather(tensor, region) { (p: UnsafeRawPointer, i: Int) in
                p.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
            }
        default:
            throw .dtypeMismatch(path: path, key: name, expected: "F16, BF16 or F32", found: tensor.dtype.rawValue)
        }
    }

    /// The box `region` of a dense row-major tensor, element `i` of a run read by `load(start, i)`: each innermost
    /// run of the box is one contiguous stretch of the file.
    private func gather<Element>(
        _ tensor: Tensor, _ region: [Range<Int>]?, load: (UnsafeRawPointer, Int) -> Element
    ) throws(CheckpointError) -> [Element] {
        let box = region ?? tensor.shape.map { 0..<$0 }
        guard box.count == tensor.shape.count,
            zip(box, tensor.shape).allSatisfy({ $0.lowerBound >= 0 && $0.upperBound <= $1 })
        else {
            throw .storageOutOfBounds(
                path: path, key: tensor.name, detail: "region \(box) does not fit shape \(tensor.shape)")
        }
        let total = box.reduce(1) { $0 * $1.count }
        if total == 0 { return [] }
        let rank = box.count
        var strides = [Int](repeating: 1, count: rank)
        for dimension in stride(from: rank - 2, through: 0, by: -1) {
            strides[dimension] = strides[dimension + 1] * tensor.shape[dimension + 1]
        }
        let base = file.bytes.baseAddress! + tensor.bytes.lowerBound
        let itemSize = tensor.dtype.byteCount
        let run = rank == 0 ? 1 : box[rank - 1].count
        var index = box.map(\.lowerBound)
        return [Element](unsafeUninitializedCapacity: total) { buffer, initialized in
            var written = 0
            while written < total {
                var element = 0
                for dimension in 0..<rank { element += index[dimension] * strides[dimension] }
                let start = base + element * itemSize
                for i in 0..<run { buffer[written + i] = load(start, i) }
                written += run
                var dimension = rank - 2
                while dimension >= 0 {
                    index[dimension] += 1
                    if index[dimension] < box[dimension].upperBound { break }
                    index[dimension] = box[dimension].lowerBound
                    dimension -= 1
                }
            }
            initialized = total
        }
    }
}
