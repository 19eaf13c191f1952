/// A row-major `[rows, columns]` matrix of fp16 values: how GLM weights stay in memory (half the bytes of fp32).
/// Kernels widen to fp32 on the fly; activations are always fp32.
public struct HalfMatrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var values: [Float16]

    public init(rows: Int, columns: Int, values: [Float16]) {
        precondition(values.count == rows * columns, "HalfMatrix: \(values.count) values for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Row `index` widened to fp32.
    public func row(_ index: Int) -> [Float] {
        values.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: columns) { destination, count in
                widen(source.baseAddress! + index * columns, into: destination.baseAddress!, count: columns)
                count = columns
            }
        }
    }
}

/// Converts `count` fp16 values to fp32. With a Haswell or later target this compiles to `vcvtph2ps`.
@inline(__always)
public func widen(_ source: UnsafePointer<Float16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { destination[i] = Float(source[i]) }
}
