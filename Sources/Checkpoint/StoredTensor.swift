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
