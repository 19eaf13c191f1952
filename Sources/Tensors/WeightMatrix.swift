/// How a weight matrix is stored in memory. Activations are always fp32; weights stay compact and are widened
/// inside the kernels.
public enum WeightFormat: String, Sendable, CaseIterable, Codable {
    case float32, float16, bfloat16, int8, int4

    /// Bits per stored element, scales excluded.
    public var bits: Int {
        switch self {
        case .float32: 32
        case .float16, .bfloat16: 16
        case .int8: 8
        case .int4: 4
        }
    }
}

/// A linear layer's weight `[rows, columns]` = `[out, in]` (the PyTorch `nn.Linear` layout), row-major.
///
/// Quantized formats follow the official GLM-130B scheme (spec section 7): symmetric, an fp16 scale per output row,
/// `w = q * scale`. `groups` > 1 splits each row into that many equal column blocks with a scale each: what a
/// row-parallel layer quantized at one tensor-parallel degree looks like when merged or split to another.
public struct WeightMatrix: Sendable {
    public enum Storage: Sendable {
        case float32([Float])
        case float16([Float16])
        /// The upper 16 bits of fp32 values.
        case bfloat16([UInt16])
        /// `scales[row * groups + column / (columns / groups)]`.
        case int8(values: [Int8], scales: [Float16], groups: Int)
        /// Two values per byte, element 2i in the HIGH nibble and 2i+1 in the LOW nibble, two's complement in
        /// [-7, 7]; rows are `columns / 2` bytes.
        case int4(packed: [UInt8], scales: [Float16], groups: Int)
    }

    public let rows: Int
    public let columns: Int
    public let storage: Storage

    public init(rows: Int, columns: Int, storage: Storage) {
        self.rows = rows
        self.columns = columns
        self.storage = storage
        let count = rows * columns
        switch storage {
        case .float32(let v): precondition(v.count == count, "WeightMatrix: \(v.count) values for \(rows)x\(columns)")
        case .float16(let v): precondition(v.count == count, "WeightMatrix: \(v.count) values for \(rows)x\(columns)")
        case .bfloat16(let v): precondition(v.count == count, "WeightMatrix: \(v.count) values for \(rows)x\(columns)")
        case .int8(let v, let s, let g):
            precondition(v.count == count && s.count == rows * g && g >= 1 && columns % g == 0)
        case .int4(let p, let s, let g):
            precondition(columns % 2 == 0 && p.count == count / 2 && s.count == rows * g && g >= 1 && columns % g == 0)
        }
    }

    /// An fp16 matrix (the checkpoint's own format).
    public init(rows: Int, columns: Int, float16 values: [Float16]) {
        self.init(rows: rows, columns: columns, storage: .float16(values))
    }

    public var format: WeightFormat {
        switch storage {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int8: .int8
        case .int4: .int4
        }
    }

    /// Bytes held, scales included: what one pass over the matrix reads from memory.
    public var byteCount: Int {
        switch storage {
        case .float32(let v): v.count * 4
        case .float16(let v): v.count * 2
        case .bfloat16(let v): v.count * 2
        case .int8(let v, let s, _): v.count + s.count * 2
        case .int4(let p, let s, _): p.count + s.count * 2
        }
    }

    /// Rows `start ..< start + count` as fp32, row-major, into `destination` (`count * columns` values).
    public func widenRows(_ start: Int, count: Int, into destination: UnsafeMutablePointer<Float>) {
        let n = columns
        switch storage {
        case .float32(let v):
            v.withUnsafeBufferPointer { destination.update(from: $0.baseAddress! + start * n, count: count * n) }
        case .float16(let v):
            v.withUnsafeBufferPointer { widen($0.baseAddress! + start * n, into: destination, count: count * n) }
        case .bfloat16(let v):
            v.withUnsafeBufferPointer { source in
                let first = source.baseAddress! + start * n
                for i in 0..<(count * n) { destination[i] = Float(bitPattern: UInt32(first[i]) << 16) }
            }
        case .int8(let v, let s, let groups):
            // Per group, so the loop body is one convert and one multiply (it vectorises); q * scale is exact in fp32.
            let groupSize = n / groups
            v.withUnsafeBufferPointer { q in
                s.withUnsafeBufferPointer { scales in
                    for r in 0..<count {
                        let row = start + r
                        for g in 0..<groups {
                            let scale = Float(scales[row * groups + g])
                            let source = q.baseAddress! + row * n + g * groupSize
                            let out = destination + r * n + g * groupSize
                            for j in 0..<groupSize { out[j] = Float(source[j]) * scale }
                        }
                    }
                }
            }
        case .int4(let p, let s, let groups):
            // Both nibbles of each byte unscaled first (element 2i is the high nibble), then each group scaled: two
            // loops that vectorise, where a per-element group lookup does not. Odd group sizes work the same.
            let groupSize = n / groups
            p.withUnsafeBufferPointer { bytes in
                s.withUnsafeBufferPointer { scales in
                    for r in 0..<count {
                        let row = start + r
                        let source = bytes.baseAddress! + row * (n / 2)
                        let out = destination + r * n
                        for i in 0..<(n / 2) {
                            let byte = source[i]
                            out[2 * i] = Float(Int8(bitPattern: byte & 0xF0) >> 4)  // sign-extend 4 bits
                            out[2 * i + 1] = Float(Int8(bitPattern: byte << 4) >> 4)
                        }
                        for g in 0..<groups {
                            let scale = Float(scales[row * groups + g])
                            let group = out + g * groupSize
                            for j in 0..<groupSize { group[j] *= scale }
                        }
                    }
                }
            }
        }
    }

    /// Row `index` as fp32.
    public func row(_ index: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: columns) { buffer, initialized in
            widenRows(index, count: 1, into: buffer.baseAddress!)
            initialized = columns
        }
    }
}

/// Converts `count` fp16 values to fp32. With a Haswell or later target this compiles to `vcvtph2ps`.
@inline(__always)
public func widen(_ source: UnsafePointer<Float16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { destination[i] = Float(source[i]) }
}
