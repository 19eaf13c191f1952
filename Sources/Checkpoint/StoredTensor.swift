/// Element types a torch checkpoint can store, named after torch dtypes.
public enum ScalarType: String, Sendable, CaseIterable {
    case float16, bfloat16, float32, float64, int8, uint8, int32, int64, bool

    /// Bytes per element on disk.
    public var byteCount: Int {
        switch self {
        case .int8, .uint8, .bool: 1
        case .float16, .bfloat16: 2
        case .float32, .int32: 4
        case .float64, .int64: 8
        }
    }

    /// The legacy storage class torch.save names in persistent ids, e.g. `HalfStorage`.
    public var storageTypeName: String {
        switch self {
        case .float16: "HalfStorage"
        case .bfloat16: "BFloat16Storage"
        case .float32: "FloatStorage"
        case .float64: "DoubleStorage"
        case .int8: "CharStorage"
        case .uint8: "ByteStorage"
        case .int32: "IntStorage"
        case .int64: "LongStorage"
        case .bool: "BoolStorage"
        }
    }

    public init?(storageTypeName: String) {
        guard let type = Self.allCases.first(where: { $0.storageTypeName == storageTypeName }) else { return nil }
        self = type
    }
}

/// A tensor as the checkpoint describes it: a strided view into a storage (a zip entry). Nothing is copied until
/// one of `TorchCheckpointFile`'s accessors is called.
public struct StoredTensor: Sendable, Equatable {
    public var name: String
    public var dtype: ScalarType
    public var shape: [Int]
    /// In elements, as torch records them.
    public var strides: [Int]
    /// In elements from the start of the storage.
    public var storageOffset: Int
    /// The storage's zip entry is `<prefix>/data/<storageKey>`.
    public var storageKey: String

    public var elementCount: Int { shape.reduce(1, *) }

    /// True when the view is row-major without gaps, so it can be copied as one block.
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            guard stride == expected else { return false }
            expected *= size
        }
        return true
    }
}

/// A dense row-major fp16 tensor: what the model consumes and what the writer stores.
public struct HalfTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float16]

    public init(shape: [Int], values: [Float16]) {
        precondition(
            shape.reduce(1, *) == values.count,
            "HalfTensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }
}

/// A dense row-major int8 tensor: a quantized weight as the official checkpoint stores it (int4 levels packed two
/// per byte, so a `[rows, columns]` int4 weight is a `[rows, columns / 2]` int8 tensor).
public struct Int8Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Int8]

    public init(shape: [Int], values: [Int8]) {
        precondition(
            shape.reduce(1, *) == values.count,
            "Int8Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }
}

/// A tensor the writers can store: fp16 (`torch.HalfStorage`), int8 (`torch.CharStorage`), or the bytes of any
/// element type as a file stored them (a copy that keeps bf16 as bf16).
public enum CheckpointTensor: Sendable, Equatable {
    case float16(HalfTensor)
    case int8(Int8Tensor)
    case raw(dtype: ScalarType, shape: [Int], bytes: [UInt8])

    public var shape: [Int] {
        switch self {
        case .float16(let t): t.shape
        case .int8(let t): t.shape
        case .raw(_, let shape, _): shape
        }
    }

    public var dtype: ScalarType {
        switch self {
        case .float16: .float16
        case .int8: .int8
        case .raw(let dtype, _, _): dtype
        }
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The raw little-endian bytes of the values.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .float16(let t): try t.values.withUnsafeBytes(body)
        case .int8(let t): try t.values.withUnsafeBytes(body)
        case .raw(_, _, let bytes): try bytes.withUnsafeBytes(body)
        }
    }
}

/// One tensor-parallel part of an official weight-only quantized weight (`tools/convert_tp.py
/// --quantization-bit-width 8|4`), as `ShardedCheckpoint.quantizedTensor` returns it.
///
/// `w[row, column] = level(row, column) * scales[row * groups + column / (columns / groups)]`. `groups` is 1 unless a
/// row-parallel weight (split by columns) was quantized per source shard at another MP degree than the partition
/// count: each group of columns then lies in one source shard and keeps that shard's scale.
public struct QuantizedTensor: Sendable, Equatable {
    /// The logical `[rows, columns]` (the int4 storage holds `columns / 2` bytes per row).
    public var shape: [Int]
    /// 8 or 4.
    public var bits: Int
    /// Row-major levels: one per element for 8 bits; for 4 bits two per byte, element 2i in the HIGH nibble.
    public var values: [Int8]
    /// fp16 scales, `rows * groups`.
    public var scales: [Float16]
    public var groups: Int

    public init(shape: [Int], bits: Int, values: [Int8], scales: [Float16], groups: Int) {
        precondition(shape.count == 2 && (bits == 8 || bits == 4) && groups >= 1 && shape[1] % groups == 0)
        precondition(values.count == shape[0] * shape[1] * bits / 8 && scales.count == shape[0] * groups)
        self.shape = shape
        self.bits = bits
        self.values = values
        self.scales = scales
        self.groups = groups
    }
}
