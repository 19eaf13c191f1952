import CKernels

/// Decode GEMV for int8 / int4 weights under `--precision fast`: each activation row is quantised to int8 (as the
/// prefill int8 kernels do) and multiplied with integer dot products (`Sources/CKernels/gemv_q8.c`): AVX512-VNNI
/// `vpdpbusd` where present, else AVX2 `vpmaddubsw` + `vpmaddwd`. Both paths compute the same exact int32 sums.
///
/// Why: the exact int8/int4 kernels widen every weight to fp32 and are compute-bound (about 15 GB/s of int4 weights
/// per core with AVX-512, less with AVX2), below what memory delivers; here a weight line costs a few integer
/// instructions, so decoding runs closer to memory speed. The weights are used exactly; the only rounding is the
/// activations', at most `s / 2` per element with `s = max|x_row| / 127`, so `|y - x·W^T| <= s / 2 · Σ_k |w_k|`
/// (the `PrefillKernels` int8 bound).
public enum QuantizedDecodeKernels {
    /// Whether this CPU has a path (AVX512-VNNI or AVX2).
    public static var isAvailable: Bool { ck_gemv_q8_resolve_isa(0) != 0 }

    /// Whether `multiply` takes this weight on this CPU (int8, or int4 with an even group size, and a path).
    public static func handles(_ weight: WeightMatrix) -> Bool {
        isAvailable && supports(weight.routeWeight)
    }

    /// Whether the kernels take a weight of this format and layout on a CPU that has a path: int8, or int4 whose
    /// scale groups split into whole bytes. Depends on the weight alone.
    public static func supports(_ weight: MatmulRoute.Weight) -> Bool {
        switch weight.format {
        case .int8: ck_gemv_q8_supported(Int32(CK_GEMV_I8.rawValue), weight.columns, weight.groups) != 0
        case .int4: ck_gemv_q8_supported(Int32(CK_GEMV_I4.rawValue), weight.columns, weight.groups) != 0
        default: false
        }
    }

    /// Computes `y = x W^T` (no bias, `y` row stride `weight.rows`) and returns true, or returns false when the
    /// weight or CPU is not handled (the caller then takes the exact kernels).
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
    ) -> Bool {
        multiply(x, rows: n, weight: weight, into: y, instructionSet: .avx512)
    }

    /// `multiply` on a forced path: `.avx512` is the VNNI path, `.avx2` the vpmaddubsw path (tests, benchmarks);
    /// a path this CPU lacks falls back to the widest one it has; `.portable` returns false.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>,
        instructionSet: DecodeKernels.InstructionSet
    ) -> Bool {
        let isa = instructionSet.rawValue
        // `.portable` has no integer path: decline, and the caller takes the exact kernels.
        guard n > 0, weight.rows > 0, handles(weight), ck_gemv_q8_resolve_isa(isa) != 0 else { return false }
        let k = weight.columns
        let rows = weight.rows
        // Quantised activations, their scales and per-group sums: small (n · k bytes), written once per call
        // before the threads start and only read by them.
        func run(_ format: ck_gemv_format, _ w: UnsafeRawPointer, _ scales: UnsafeRawBufferPointer, _ groups: Int) {
            let quantized = UnsafeMutablePointer<Int8>.allocate(capacity: n * k)
            let xScales = UnsafeMutablePointer<Float>.allocate(capacity: n)
            let xSums = UnsafeMutablePointer<Int32>.allocate(capacity: n * groups)
            defer {
                quantized.deallocate()
                xScales.deallocate()
                xSums.deallocate()
            }
            ck_gemv_q8_pack_x(x, n, k, groups, format == CK_GEMV_I4 ? 1 : 0, quantized, xScales, xSums)
            let problem = ck_gemv_q8_problem(
                format: Int32(format.rawValue), xq: quantized, x_scales: xScales, x_sums: xSums, n: n, k: k, w: w,
                scales: scales.bindMemory(to: UInt16.self).baseAddress!, groups: groups, y: y, ldy: rows)
            ComputeThreads.parallelFor(rows, minimumChunk: DecodeKernels.minimumRowsPerThread) { range in
                ck_gemv_q8_on(problem, range.lowerBound, range.upperBound, isa)
            }
        }
        switch weight.storage {
        case .int8(let values, let scales, let groups):
            values.withUnsafeBytes { w in scales.withUnsafeBytes { run(CK_GEMV_I8, w.baseAddress!, $0, groups) } }
        case .int4(let packed, let scales, let groups):
            packed.withUnsafeBytes { w in scales.withUnsafeBytes { run(CK_GEMV_I4, w.baseAddress!, $0, groups) } }
        default:
            return false
        }
        return true
    }
}
