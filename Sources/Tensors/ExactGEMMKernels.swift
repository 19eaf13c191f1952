import CKernels

/// Blocked, multithreaded GEMM over compact weights on the fp32 FMA units: the exact path for prefill and batches.
///
/// `y[n, out] = x[n, k] · W[out, k]^T`, all row-major, `y` with row stride `out`. Every weight is dequantised exactly
/// to fp32 (fp16 and bf16 widened; int8/int4 `q · scale`, which has at most 19 significant bits) in an L1-resident
/// panel, the activations stay fp32, and products accumulate in fp32: the official model's math, as the reference
/// path (weights widened tile by tile for OpenBLAS sgemm) computes it, differing only in summation order, so within
/// `k · 2^-24 · Σ_k |x_k w_k|` of the exact product. The C kernels (`ckernels_gemm_fma.h`) run the GotoBLAS loop
/// nest with a 12 × 32 (AVX-512) or 6 × 16 (AVX2) register-blocked microkernel, and split a batch's rows into
/// near-equal blocks (16 rows run as 8 + 8). Measured: docs/BENCHMARKS.md, 'Prefill'.
///
/// Threads split the output columns; x is packed once per call into the calling thread's scratch
/// (`ThreadScratch`), so a call allocates nothing.
public enum ExactGEMMKernels {
    /// The path this CPU runs (AVX-512 or AVX2), or nil where it has neither (then the reference path runs).
    public static var best: DecodeKernels.InstructionSet? { DecodeKernels.InstructionSet(rawValue: resolve(0)) }

    private static func resolve(_ isa: Int32) -> Int32 { ck_gemm_fma_resolve_isa(isa) }

    /// Computes `y = x W^T` (no bias) on `instructionSet` (the CPU's best by default; a path it lacks falls back to
    /// the one below) and returns true, or returns false where the CPU has no path.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>,
        instructionSet: DecodeKernels.InstructionSet? = nil, threads: Int = ComputeThreads.count
    ) -> Bool {
        let isa = resolve(instructionSet?.rawValue ?? 0)
        guard isa != 0 else { return false }
        let k = weight.columns
        let outputs = weight.rows
        guard n > 0, outputs > 0 else { return true }
        guard k > 0 else {
            y.update(repeating: 0, count: n * outputs)
            return true
        }
        let packed = ThreadScratch.current.buffer(of: Float.self, capacity: ck_gemm_fma_packed_x_count(n, k))
        let blocks = ck_gemm_fma_row_blocks(n, isa)
        ComputeThreads.parallelFor(blocks, threads: threads) { range in
            ck_gemm_fma_pack_x(x, n, k, range.lowerBound, range.upperBound, packed, isa)
        }
        let columnBlock = ck_gemm_fma_column_block(isa)
        let panels = (outputs + columnBlock - 1) / columnBlock
        // The C kernel only reads the weight storage and the packed rows, and writes disjoint columns of y.
        weight.withKernelOperands { format, w, scales, groups in
            let problem = ck_gemv_problem(
                format: format, x: x, n: n, k: k, w: w, scales: scales, groups: groups, y: y, ldy: outputs)
            ComputeThreads.parallelFor(panels, threads: threads) { range in
                ck_gemm_fma_columns(
                    problem, packed, range.lowerBound * columnBlock, min(outputs, range.upperBound * columnBlock),
                    isa)
            }
        }
        return true
    }
}
