import CKernels

/// Weight-only quantization as the official GLM-130B code does it (spec section 7; THUDM/GLM-130B
/// `quantization/layers.py` and `tools/convert_tp.py`, both the same three lines):
///
///     scale = (w.abs().max(dim=-1).values / (2 ** (bits - 1) - 1)).half()     # one fp16 scale per output row
///     q     = torch.round(w / scale[:, None]).to(torch.int8)                     # w is the fp16 LOCAL shard
///     if bits == 4: q = compress_int4_weight(q)                                  # [out, in/2] int8, 2i high nibble
///
/// With fp16 `w` every step is an fp16 tensor operation, which PyTorch computes in fp32 and rounds once to fp16:
/// - `scale = fp16(fp32(max|w_row|) / level)` with `level` 127 or 7 (fp32 then fp16 is the correctly rounded fp16
///   quotient: 24 >= 2 * 11 + 2 bits, so the double rounding is harmless);
/// - the quotient `w / scale` is itself rounded to fp16 BEFORE `torch.round` (round half to even) sees it, so
///   `w / scale = 126.51` becomes fp16 126.5 and then 126, not 127. `quantize` reproduces this exactly.
///
/// Guards the official code does not have (they never change a dequantized weight): a row whose scale is 0
/// (all zeros, or a maximum so small that `max / level` underflows fp16) gets levels 0 where PyTorch would cast
/// NaN or inf to int8; levels are clamped to `[-level, level]` (reachable only with subnormal scales).
public enum QuantizationScheme: String, Sendable, CaseIterable, Codable {
    case int8, int4

    /// 8 or 4.
    public var bits: Int {
        switch self {
        case .int8: 8
        case .int4: 4
        }
    }

    /// The largest level, `2^(bits-1) - 1`: 127 or 7. The range is symmetric, `[-level, level]`.
    public var level: Int { (1 << (bits - 1)) - 1 }

    /// The `WeightMatrix` format the scheme produces.
    public var format: WeightFormat {
        switch self {
        case .int8: .int8
        case .int4: .int4
        }
    }

    /// The scheme of `bits` (the official `--quantization-bit-width`), or nil unless 8 or 4.
    public init?(bits: Int) {
        switch bits {
        case 8: self = .int8
        case 4: self = .int4
        default: return nil
        }
    }
}

/// Pure functions of the official scheme (see `QuantizationScheme`). All results are bit-exact with the official
/// PyTorch code on fp16 weights.
public enum Quantization {
    /// `fp16(max|w_row| / level)`, the division in fp32 as PyTorch does for fp16 tensors.
    @inline(__always)
    public static func scale(maxAbs: Float, scheme: QuantizationScheme) -> Float16 {
        Float16(maxAbs / Float(scheme.level))
    }

    /// The level of one fp16 weight: `round_half_even(fp16(w / scale))`, clamped; 0 when `scale` is 0.
    @inline(__always)
    public static func level(_ weight: Float16, scale: Float16, scheme: QuantizationScheme) -> Int8 {
        level(quotient: Float(Float16(Float(weight) / Float(scale))), scale: scale, scheme: scheme)
    }

    /// The level of one fp32 weight as PyTorch computes it for an fp32 tensor: the quotient stays fp32 (no fp16
    /// rounding), `round_half_even(w / scale)`, clamped; 0 when `scale` is 0.
    @inline(__always)
    public static func level(_ weight: Float, scale: Float16, scheme: QuantizationScheme) -> Int8 {
        level(quotient: weight / Float(scale), scale: scale, scheme: scheme)
    }

    @inline(__always)
    private static func level(quotient: Float, scale: Float16, scheme: QuantizationScheme) -> Int8 {
        guard scale != 0, !quotient.isNaN else { return 0 }
        let limit = Float(scheme.level)
        return Int8(min(max(quotient.rounded(.toNearestOrEven), -limit), limit))
    }

    /// Levels (one `Int8` per element, not packed) and one scale per row of a row-major `[rows, columns]` fp16
    /// matrix: the official per-output-row quantization of a local shard. With `vectorised` (the default) finite
    /// rows go through the AVX2 + F16C kernel `ck_quantize_rows_f16` where the CPU has it (bit-exact with the
    /// scalar definition, ~10x faster); rows holding an infinity or NaN, and other CPUs, take the scalar path.
    public static func quantizeRows(
        _ values: UnsafeBufferPointer<Float16>, rows: Int, columns: Int, scheme: QuantizationScheme,
        vectorised: Bool = true
    ) -> (levels: [Int8], scales: [Float16]) {
        if vectorised, let result = vectorisedRows(values, rows: rows, columns: columns, scheme: scheme) {
            return result
        }
        return quantizeRows(values, rows: rows, columns: columns, scheme: scheme, magnitude: { abs(Float($0)) }) {
            level($0, scale: $1, scheme: scheme)
        }
    }

    /// `quantizeRows` through the C kernel, rows in parallel; nil when the CPU lacks AVX2/F16C.
    private static func vectorisedRows(
        _ values: UnsafeBufferPointer<Float16>, rows: Int, columns: Int, scheme: QuantizationScheme
    ) -> (levels: [Int8], scales: [Float16])? {
        precondition(values.count == rows * columns, "quantizeRows: \(values.count) values for \(rows)x\(columns)")
        // A call over no rows only asks whether the CPU has the kernel.
        guard rows > 0, columns > 0, ck_quantize_rows_f16(nil, 0, 0, 0, 1, nil, nil, nil) != 0 else { return nil }
        var scales = [Float16](repeating: 0, count: rows)
        var nonfinite = [UInt8](repeating: 0, count: rows)
        var levels = [Int8](unsafeUninitializedCapacity: rows * columns) { levels, initialized in
            scales.withUnsafeMutableBufferPointer { scales in
                nonfinite.withUnsafeMutableBufferPointer { nonfinite in
                    let pointers = UncheckedSendable(
                        (values.baseAddress!, levels.baseAddress!, scales.baseAddress!, nonfinite.baseAddress!))
                    let level = Int32(scheme.level)
                    ComputeThreads.parallelFor(rows, minimumChunk: max(1, (1 << 16) / columns)) { range in
                        let (w, q, s, flags) = pointers.value
                        _ = ck_quantize_rows_f16(
                            UnsafeRawPointer(w).assumingMemoryBound(to: UInt16.self), range.lowerBound,
                            range.upperBound, columns, level, q,
                            UnsafeMutableRawPointer(s).assumingMemoryBound(to: UInt16.self), flags)
                    }
                }
            }
            initialized = rows * columns  // non-finite rows are written below
        }
        // Rows with an infinity or NaN: the scalar definition, whatever it makes of them.
        for row in 0..<rows where nonfinite[row] != 0 {
            let part = UnsafeBufferPointer(rebasing: values[(row * columns)..<((row + 1) * columns)])
            let (rowLevels, rowScale) = quantizeRows(
                part, rows: 1, columns: columns, scheme: scheme, magnitude: { abs(Float($0)) }
            ) { level($0, scale: $1, scheme: scheme) }
            levels.replaceSubrange((row * columns)..<((row + 1) * columns), with: rowLevels)
            scales[row] = rowScale[0]
        }
        return (levels, scales)
    }

    /// As `quantizeRows` for fp32 weights, with PyTorch's fp32 semantics (the quotient is not rounded to fp16).
    public static func quantizeRows(
        _ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int, scheme: QuantizationScheme
    ) -> (levels: [Int8], scales: [Float16]) {
        quantizeRows(values, rows: rows, columns: columns, scheme: scheme, magnitude: { abs($0) }) {
            level($0, scale: $1, scheme: scheme)
        }
    }

    /// The per-row loop shared by both element types: the row's max magnitude gives its scale, then every
    /// element its level. Rows run in parallel; inlined into each caller so the closures specialise away.
    @inline(__always)
    private static func quantizeRows<Element>(
        _ values: UnsafeBufferPointer<Element>, rows: Int, columns: Int, scheme: QuantizationScheme,
        magnitude: (Element) -> Float, level: (Element, Float16) -> Int8
    ) -> (levels: [Int8], scales: [Float16]) {
        precondition(values.count == rows * columns, "quantizeRows: \(values.count) values for \(rows)x\(columns)")
        var scales = [Float16](repeating: 0, count: rows)
        let levels = [Int8](unsafeUninitializedCapacity: rows * columns) { levels, initialized in
            scales.withUnsafeMutableBufferPointer { scales in
                let source = UncheckedSendable((values.baseAddress, levels.baseAddress, scales.baseAddress))
                ComputeThreads.parallelFor(rows, minimumChunk: max(1, (1 << 16) / max(columns, 1))) { range in
                    let (input, output, rowScales) = source.value
                    for row in range {
                        let w = input! + row * columns
                        let q = output! + row * columns
                        var maxAbs: Float = 0
                        for j in 0..<columns { maxAbs = max(maxAbs, magnitude(w[j])) }
                        let s = scale(maxAbs: maxAbs, scheme: scheme)
                        rowScales![row] = s
                        for j in 0..<columns { q[j] = level(w[j], s) }
                    }
                }
            }
            initialized = rows * columns
        }
        return (levels, scales)
    }

    /// Packs int4 levels two per byte as the official `compress_int4_weight` kernel does:
    /// `byte[i] = (q[2i] << 4) | (q[2i+1] & 0x0F)`: element 2i in the HIGH nibble, two's complement. Rows stay
    /// rows: a `[rows, columns]` matrix (even `columns`) becomes `rows * columns / 2` bytes.
    public static func packInt4(_ levels: [Int8]) -> [UInt8] {
        precondition(levels.count % 2 == 0, "packInt4: an odd number (\(levels.count)) of levels")
        return [UInt8](unsafeUninitializedCapacity: levels.count / 2) { bytes, initialized in
            levels.withUnsafeBufferPointer { q in
                for i in 0..<(levels.count / 2) {
                    bytes[i] = UInt8(bitPattern: q[2 * i]) << 4 | (UInt8(bitPattern: q[2 * i + 1]) & 0x0F)
                }
            }
            initialized = levels.count / 2
        }
    }

    /// The levels of packed int4 bytes (the official extraction: `high = byte >> 4`, `low = (byte << 4) >> 4`,
    /// arithmetic shifts), two per byte in element order.
    public static func unpackInt4(_ packed: [UInt8]) -> [Int8] {
        [Int8](unsafeUninitializedCapacity: packed.count * 2) { levels, initialized in
            for (i, byte) in packed.enumerated() {
                levels[2 * i] = Int8(bitPattern: byte) >> 4
                levels[2 * i + 1] = Int8(bitPattern: byte << 4) >> 4
            }
            initialized = packed.count * 2
        }
    }

    /// A `[rows, columns]` fp16 matrix quantized with `scheme`: `.int8` or `.int4` storage, one scale per row
    /// (groups 1).
    public static func quantize(
        _ values: [Float16], rows: Int, columns: Int, scheme: QuantizationScheme
    ) -> WeightMatrix {
        let (levels, scales) = values.withUnsafeBufferPointer {
            quantizeRows($0, rows: rows, columns: columns, scheme: scheme)
        }
        return matrix(levels: levels, scales: scales, rows: rows, columns: columns, scheme: scheme)
    }

    /// `matrix` quantized with `scheme` (groups 1). fp16 weights follow the official code bit for bit; fp32 and
    /// bf16 weights (widened to fp32) follow what the same PyTorch code computes on an fp32 tensor. A matrix
    /// already in `scheme`'s format is returned as it is; another quantized format is a programming error.
    public static func quantize(_ matrix: WeightMatrix, scheme: QuantizationScheme) -> WeightMatrix {
        let rows = matrix.rows
        let columns = matrix.columns
        switch matrix.storage {
        case .float16(let values):
            return quantize(values, rows: rows, columns: columns, scheme: scheme)
        case .float32(let values):
            let (levels, scales) = values.withUnsafeBufferPointer {
                quantizeRows($0, rows: rows, columns: columns, scheme: scheme)
            }
            return self.matrix(levels: levels, scales: scales, rows: rows, columns: columns, scheme: scheme)
        case .bfloat16:
            let widened = [Float](unsafeUninitializedCapacity: rows * columns) { buffer, initialized in
                matrix.widenRows(0, count: rows, into: buffer.baseAddress!)
                initialized = rows * columns
            }
            return quantize(
                WeightMatrix(rows: rows, columns: columns, storage: .float32(widened)), scheme: scheme)
        case .int8, .int4:
            precondition(
                matrix.format == scheme.format,
                "Quantization.quantize: a \(matrix.format) matrix cannot be re-quantized to \(scheme)")
            return matrix
        }
    }

    /// Wraps unpacked levels and per-row scales as a `WeightMatrix` of `scheme`'s format (groups 1).
    public static func matrix(
        levels: [Int8], scales: [Float16], rows: Int, columns: Int, scheme: QuantizationScheme
    ) -> WeightMatrix {
        switch scheme {
        case .int8:
            return WeightMatrix(rows: rows, columns: columns, storage: .int8(values: levels, scales: scales, groups: 1))
        case .int4:
            precondition(columns % 2 == 0, "int4 needs an even number of columns, got \(columns)")
            return WeightMatrix(
                rows: rows, columns: columns, storage: .int4(packed: packInt4(levels), scales: scales, groups: 1))
        }
    }
}

/// A quantization request that cannot be honoured (a checkpoint quantized with another bit width).
public struct QuantizationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}
