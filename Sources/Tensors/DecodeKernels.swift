import CKernels
import Dispatch
import Glibc

/// Multithreaded GEMV / small-batch GEMM over compact weights, for decoding (bandwidth-bound).
///
/// The C kernels (`Sources/CKernels/gemv.c`) widen the compact weights to fp32 in registers and stream each weight
/// byte from memory once per call (per 4 activation rows on AVX-512, 2 on AVX2), processing 4 weight rows per pass.
/// Accumulation is fp32; quantized rows multiply each scale group's partial sum by its fp16 scale once.
public enum DecodeKernels {
    /// Row counts up to this go to these kernels (exact precision). Small batches stay here too: the kernels read
    /// each weight once per call and are FMA-bound from about 8 rows, while the reference path widens every weight
    /// to fp32 before its sgemm, which makes a decode step of 16 sequences about twice as slow (measured:
    /// docs/BENCHMARKS.md, 'Throughput').
    public static let maximumRows = 32

    /// With `.fast` precision, row counts above this go to the dot-product GEMM (`PrefillKernels`) instead. The
    /// same 32: below it the GEMM's 12-row blocks and per-call weight packing cost more than they save (a step of
    /// 16 sequences is slower there than in the exact fp16 GEMV; measured: docs/BENCHMARKS.md, 'Throughput').
    public static let fastPrecisionRows = 32

    /// Fewest weight rows a thread is given: below this the thread start-up costs more than it saves.
    public static let minimumRowsPerThread = 64

    /// The vector-instruction path of the kernels (`ck_isa` in C).
    public enum InstructionSet: Int32, Sendable, CaseIterable, CustomStringConvertible {
        /// Plain C, auto-vectorised at the build's baseline.
        case portable = 1
        /// AVX2 + FMA + F16C, 8 lanes, scalar tails.
        case avx2 = 2
        /// AVX-512 F/BW/VL/DQ, 16 lanes, masked tails.
        case avx512 = 3

        /// The widest path this CPU runs (what `multiply` uses unless told otherwise).
        public static var best: InstructionSet { InstructionSet(rawValue: ck_gemv_resolve_isa(0))! }

        /// Whether this CPU can run the path (forcing one it cannot run falls back to the widest below it).
        public var isSupported: Bool { rawValue <= InstructionSet.best.rawValue }

        public var description: String {
            switch self {
            case .portable: "portable"
            case .avx2: "AVX2"
            case .avx512: "AVX-512"
            }
        }
    }

    /// Computes `y[i, r] = sum_j x[i, j] * W[r, j]` (no bias) for `n` activation rows and returns true.
    ///
    /// - Parameters:
    ///   - x: fp32 activations `[n, weight.columns]`, row-major.
    ///   - n: activation rows, 1 ... `maximumRows` expected (any count works; larger ones re-read weights from cache).
    ///   - weight: `W[rows, columns]` in any `WeightFormat`.
    ///   - y: fp32 output `[n, weight.rows]`, row-major, fully overwritten.
    /// Weight rows are split into contiguous chunks (multiples of 4 rows, at least `minimumRowsPerThread`) across
    /// `ComputeThreads.count` threads.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
    ) -> Bool {
        multiply(x, rows: n, weight: weight, into: y, instructionSet: .best, threads: ComputeThreads.count)
    }

    /// `multiply` on a forced instruction-set path and thread count (tests, benchmarks).
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>,
        instructionSet: InstructionSet, threads: Int
    ) -> Bool {
        let k = weight.columns
        let rows = weight.rows
        guard n > 0, rows > 0 else { return true }
        let isa = instructionSet.rawValue
        // High nibbles are the even elements, low nibbles the odd ones: int4 meets x split once so each nibble
        // multiplies a contiguous activation vector (see ck_gemv_split_pairs). The split lives in a per-thread
        // scratch reused across calls (no allocation per decode step).
        var activations = x
        if case .int4 = weight.storage {
            let split = ThreadScratch.current.buffer(of: Float.self, capacity: n * k)
            ck_gemv_split_pairs(x, n, k, split)
            activations = UnsafePointer(split)
        }
        // The C kernels only read the weight storage and write disjoint columns of y.
        weight.withKernelOperands { format, w, scales, groups in
            let problem = ck_gemv_problem(
                format: format, x: activations, n: n, k: k, w: w, scales: scales, groups: groups, y: y, ldy: rows)
            let blocks = (rows + 3) / 4
            ComputeThreads.parallelFor(blocks, threads: threads, minimumChunk: max(1, minimumRowsPerThread / 4)) {
                range in
                ck_gemv(problem, range.lowerBound * 4, min(rows, range.upperBound * 4), isa)
            }
        }
        return true
    }
}
