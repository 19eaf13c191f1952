import CKernels

/// Blocked, multithreaded GEMM over compact weights for prefill and batches (compute-bound), on the fastest
/// dot-product unit present (AVX512-BF16, AVX512-VNNI).
///
/// `y[n, out] = x[n, k] · W[out, k]^T`, all row-major, `y` with row stride `out`. The kernels are in C
/// (`ckernels_gemm.h`): x is packed once per call (as bf16, or quantised to int8 per row) into the calling thread's
/// scratch, then each thread owns a contiguous range of output columns, packs 32 weight rows × one k block at a time
/// into an L1-resident panel and runs a 12 × 32 register-blocked microkernel over every row block of x.
///
/// - bf16 and fp16 weights: `vdpbf16ps`. Activations are rounded to bf16 (nearest even); fp16 weights are rounded
///   to bf16 in the panel (the stored weights are not converted), which is exact for bf16 weights only. Products
///   are exact in fp32 and accumulate in fp32. bf16 keeps 8 significant bits, so each rounded factor is off by at
///   most u = 2^-8 relative (half the 2^-7 spacing), and
///   `|y - x·W^T| <= (u + u_w + k · 2^-24) · Σ_k |x_k w_k|` with u_w = 0 for bf16 and 2^-8 for fp16 weights
///   (the last term is fp32 accumulation). The errors are unbiased, so over k they average down to about
///   `u / √3 · sqrt(Σ_k (x_k w_k)²)`. (vdpbf16ps flushes bf16 subnormals, below 1e-38, to zero.)
/// - int8 and int4 weights: `vpdpbusd`. Each activation row is quantised symmetrically, `q = round(x / s)` in
///   [-127, 127] with `s = max|x_row| / 127`, stored as `q + 128` (u8); the int32 dot product of each weight group
///   is corrected by `128 · Σ w_q` and scaled by `s · w_scale`. Weights are used exactly, so the only error is the
///   activation rounding, at most `s / 2` per element: `|y - x·W^T| <= s / 2 · Σ_k |w_k|` (plus fp32 rounding of
///   the per-group sums), on average `s / √12 · sqrt(Σ_k w_k²)`. int4 weights are unpacked to int8 in the panel.
/// - fp32 weights are left to OpenBLAS sgemm; other formats on CPUs without the units take the exact GEMM
///   (`ExactGEMMKernels`) or, without AVX2, the reference path.
public enum PrefillKernels {
    /// The instruction the int8 kernel multiplies on.
    public enum Int8Unit: String, Sendable, CaseIterable, CustomStringConvertible {
        /// `vpdpbusd` on 512-bit vectors: u8 × s8 quads into int32 in one instruction.
        case vnni = "vpdpbusd (AVX512-VNNI)"
        /// `vpsignb`, `vpmaddubsw`, `vpmaddwd` on 256-bit vectors, for CPUs without AVX512-VNNI.
        case avx2 = "vpmaddubsw (AVX2)"

        public var description: String { rawValue }

        /// Whether this CPU runs the unit.
        public var isSupported: Bool {
            let features = CPUFeatures.detected
            switch self {
            case .vnni: return features.avx512vnni != 0
            case .avx2: return features.avx2 != 0 && features.f16c != 0
            }
        }

        /// The unit `multiply` takes here: VNNI where present, else AVX2, else none.
        public static let detected: Int8Unit? = allCases.first { $0.isSupported }
    }

    /// Whether `multiply` has a kernel for `format` on this CPU.
    public static func handles(_ format: WeightFormat) -> Bool {
        switch format {
        case .float32: return false
        case .float16, .bfloat16: return CPUFeatures.detected.avx512bf16 != 0
        case .int8, .int4: return Int8Unit.detected != nil
        }
    }

    /// Whether `format`'s kernel here is also faster than the exact path (OpenBLAS sgemm on fp32 FMAs), so that
    /// `.fast` precision should take it.
    public static func isFastest(for format: WeightFormat) -> Bool {
        MatmulRoute.CPU.detected.fasterGEMMUnit(for: format) != nil
    }

    /// Whether `vdpbf16ps` outruns the fp32 FMA unit on this CPU (measured once, a few milliseconds); where it does
    /// not, fp16/bf16 weights take the exact path (OpenBLAS sgemm), which is then both faster and exact.
    ///
    /// vdpbf16ps does twice the products of an fp32 FMA per instruction, but Intel's AVX-512 cores (Emerald Rapids
    /// among them) issue it at a quarter of the FMA rate, so its peak is half that of `vfmadd231ps zmm` and the bf16
    /// kernel prefills more slowly than the sgemm path. Zen 4 double-pumps its zmm FMAs instead, so there vdpbf16ps
    /// peaks at twice the FMA rate and the bf16 kernel wins. The two differ by 2x either way, so the choice does not
    /// flip with noise (measured: docs/BENCHMARKS.md, 'Machine limits').
    public static let bf16OutrunsFP32: Bool = {
        guard CPUFeatures.detected.avx512bf16 != 0 else { return false }
        // The best of five short runs of each unit's peak loop on this thread.
        func rate(_ unit: MachineProbeKernels.DotProductUnit) -> Double {
            (0..<5).map { _ in unit.operationsPerSecond(iterations: 20_000) }.max()!
        }
        return rate(.bf16AVX512) > rate(.fmaAVX512)
    }()

    /// Computes `y = x W^T` (no bias) and returns true, or returns false when no kernel handles the format here.
    /// `int8Unit` forces the int8 kernel's unit (tests, benchmarks); one the CPU lacks declines the product.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>,
        int8Unit: Int8Unit? = nil
    ) -> Bool {
        guard n > 0, weight.rows > 0, weight.columns > 0, handles(weight.format) else { return false }
        let unit = int8Unit ?? Int8Unit.detected
        if weight.format == .int8 || weight.format == .int4 {
            guard let unit, unit.isSupported else { return false }
        }
        switch weight.storage {
        case .float32:
            return false
        case .bfloat16(let values):
            values.withUnsafeBytes { multiplyBFloat16(x, rows: n, weight: weight, values: $0, fp16: false, into: y) }
        case .float16(let values):
            values.withUnsafeBytes { multiplyBFloat16(x, rows: n, weight: weight, values: $0, fp16: true, into: y) }
        case .int8(let values, let scales, let groups):
            values.withUnsafeBytes { v in
                scales.withUnsafeBytes { s in
                    multiplyInt8(
                        x, rows: n, weight: weight, values: v, int4: false, scales: s, groups: groups, unit: unit!,
                        into: y)
                }
            }
        case .int4(let packed, let scales, let groups):
            packed.withUnsafeBytes { v in
                scales.withUnsafeBytes { s in
                    multiplyInt8(
                        x, rows: n, weight: weight, values: v, int4: true, scales: s, groups: groups, unit: unit!,
                        into: y)
                }
            }
        }
        return true
    }

    private static let rowBlock = CK_GEMM_ROW_BLOCK
    private static let columnBlock = CK_GEMM_COLUMN_BLOCK

    /// Runs `body(columnBegin, columnEnd)` over the output columns, split between the compute threads at
    /// multiples of the column block.
    private static func forColumnRanges(
        _ outputs: Int, columnBlock: Int = Self.columnBlock, _ body: (Int, Int) -> Void
    ) {
        let blocks = (outputs + columnBlock - 1) / columnBlock
        ComputeThreads.parallelFor(blocks) { range in
            body(range.lowerBound * columnBlock, min(outputs, range.upperBound * columnBlock))
        }
    }

    private static func multiplyBFloat16(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, values: UnsafeRawBufferPointer, fp16: Bool,
        into y: UnsafeMutablePointer<Float>
    ) {
        let k = weight.columns
        let outputs = weight.rows
        let packed = ThreadScratch.current.buffer(of: UInt32.self, capacity: ck_gemm_bf16_packed_x_count(n, k))
        let blocks = (n + rowBlock - 1) / rowBlock
        ComputeThreads.parallelFor(blocks) { range in
            ck_gemm_bf16_pack_x(x, n, k, range.lowerBound, range.upperBound, packed)
        }
        forColumnRanges(outputs) { begin, end in
            ck_gemm_bf16_columns(packed, n, k, values.baseAddress!, fp16 ? 1 : 0, begin, end, y, outputs)
        }
    }

    private static func multiplyInt8(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, values: UnsafeRawBufferPointer, int4: Bool,
        scales: UnsafeRawBufferPointer, groups: Int, unit: Int8Unit, into y: UnsafeMutablePointer<Float>
    ) {
        let k = weight.columns
        let outputs = weight.rows
        let scratch = ThreadScratch.current
        switch unit {
        case .vnni:
            let blocks = (n + rowBlock - 1) / rowBlock
            let packed = scratch.buffer(of: UInt32.self, capacity: ck_gemm_i8_packed_x_count(n, k, groups))
            let rowScales = scratch.buffer(of: Float.self, capacity: blocks * rowBlock, slot: .second)
            ComputeThreads.parallelFor(blocks) { range in
                ck_gemm_i8_pack_x(x, n, k, groups, range.lowerBound, range.upperBound, packed, rowScales)
            }
            forColumnRanges(outputs) { begin, end in
                ck_gemm_i8_columns(
                    packed, rowScales, n, k, groups, values.baseAddress!, int4 ? 1 : 0, scales.baseAddress!, begin,
                    end, y, outputs)
            }
        case .avx2:
            let rows = Int(CK_GEMM_AVX2_ROW_BLOCK)
            let blocks = (n + rows - 1) / rows
            let packed = scratch.buffer(of: UInt32.self, capacity: ck_gemm_i8_avx2_packed_x_count(n, k, groups))
            let rowScales = scratch.buffer(of: Float.self, capacity: blocks * rows, slot: .second)
            ComputeThreads.parallelFor(blocks) { range in
                ck_gemm_i8_avx2_pack_x(x, n, k, groups, range.lowerBound, range.upperBound, packed, rowScales)
            }
            forColumnRanges(outputs, columnBlock: Int(CK_GEMM_AVX2_COLUMN_BLOCK)) { begin, end in
                ck_gemm_i8_avx2_columns(
                    packed, rowScales, n, k, groups, values.baseAddress!, int4 ? 1 : 0, scales.baseAddress!, begin,
                    end, y, outputs)
            }
        }
    }
}
