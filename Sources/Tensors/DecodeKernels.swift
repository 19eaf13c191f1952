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
        // The C kernels only read the weight storage and write disjoint columns of y; each closure below runs
        // within the `withUnsafeBufferPointer` scopes, so no pointer escapes.
        func run(
            _ format: ck_gemv_format, _ activations: UnsafePointer<Float>, _ w: UnsafeRawPointer,
            _ scales: UnsafePointer<UInt16>?, _ groups: Int
        ) {
            let problem = ck_gemv_problem(
                format: format, x: activations, n: n, k: k, w: w, scales: scales, groups: groups, y: y, ldy: rows)
            let blocks = (rows + 3) / 4
            parallelFor(blocks, threads: threads, minimumChunk: max(1, minimumRowsPerThread / 4)) { range in
                ck_gemv(problem, range.lowerBound * 4, min(rows, range.upperBound * 4), isa)
            }
        }
        switch weight.storage {
        case .float32(let v):
            v.withUnsafeBytes { run(CK_GEMV_F32, x, $0.baseAddress!, nil, 1) }
        case .float16(let v):
            v.withUnsafeBytes { run(CK_GEMV_F16, x, $0.baseAddress!, nil, 1) }
        case .bfloat16(let v):
            v.withUnsafeBytes { run(CK_GEMV_BF16, x, $0.baseAddress!, nil, 1) }
        case .int8(let v, let s, let groups):
            v.withUnsafeBytes { w in
                s.withUnsafeBytes { scales in
                    run(CK_GEMV_I8, x, w.baseAddress!, scales.bindMemory(to: UInt16.self).baseAddress!, groups)
                }
            }
        case .int4(let p, let s, let groups):
            // High nibbles are the even elements, low nibbles the odd ones: split x once so each meets a
            // contiguous activation vector (see ck_gemv_split_pairs).
            // The split lives in a per-thread scratch reused across calls (no allocation per decode step).
            let split = SplitScratch.current.buffer(capacity: n * k)
            ck_gemv_split_pairs(x, n, k, split)
            p.withUnsafeBytes { w in
                s.withUnsafeBytes { scales in
                    run(CK_GEMV_I4, split, w.baseAddress!, scales.bindMemory(to: UInt16.self).baseAddress!, groups)
                }
            }
        }
        return true
    }

    /// `ComputeThreads.parallelFor` with an explicit thread count.
    private static func parallelFor(
        _ total: Int, threads: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void
    ) {
        if threads == ComputeThreads.count {
            ComputeThreads.parallelFor(total, minimumChunk: minimumChunk, body)
            return
        }
        let chunks = max(1, min(threads, total / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<total)
            return
        }
        // As in ComputeThreads.parallelFor: disjoint chunks, body outlives no call.
        ComputeThreads.runChunks(chunks) { chunk in body(total * chunk / chunks..<total * (chunk + 1) / chunks) }
    }
}

/// A per-thread fp32 buffer for the int4 activation split, grown on demand and kept for the thread's lifetime.
/// Only the calling thread writes it, and only before the kernels (which read it) start; `multiply` does not
/// re-enter itself, so one buffer per thread suffices.
final class SplitScratch {
    private var storage: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// The calling thread's scratch.
    static var current: SplitScratch {
        if let stored = pthread_getspecific(key) {
            return Unmanaged<SplitScratch>.fromOpaque(stored).takeUnretainedValue()
        }
        let scratch = SplitScratch()
        pthread_setspecific(key, Unmanaged.passRetained(scratch).toOpaque())
        return scratch
    }

    /// Each thread's scratch, retained, and released when the thread exits, as `Thread.current.threadDictionary`
    /// kept it (that needs full Foundation, which is not linked: about 6 MiB resident per rank).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { stored in Unmanaged<SplitScratch>.fromOpaque(stored!).release() }
        return key
    }()

    /// A buffer of at least `count` floats, valid until the next call on this thread.
    func buffer(capacity count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            storage?.deallocate()
            capacity = max(count, 2 * capacity)
            storage = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        }
        return storage!
    }

    deinit { storage?.deallocate() }
}

extension DecodeKernels {
    /// STREAM triad `a[i] = b[i] + 3 c[i]` over `elements` fp32 values split across `threads`: memory bandwidth in
    /// GB/s (best of `repeats`), counted the STREAM way as 12 bytes per element (write-allocate traffic not
    /// counted), for reading kernel bandwidth as a ratio to what the machine streams in the same run.
    public static func triadBandwidth(elements: Int = 1 << 25, threads: Int, repeats: Int = 10) -> Double {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        // First touch from the threads that will stream the arrays.
        parallelFor(elements, threads: threads, minimumChunk: 1 << 16) { range in
            (a + range.lowerBound).initialize(repeating: 0, count: range.count)
            (b + range.lowerBound).initialize(repeating: 1, count: range.count)
            (c + range.lowerBound).initialize(repeating: 2, count: range.count)
        }
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = ContinuousClock.now
            parallelFor(elements, threads: threads, minimumChunk: 1 << 16) { range in
                ck_triad(a, b, c, 3, range.lowerBound, range.upperBound)
            }
            let elapsed = ContinuousClock.now - start
            best = min(best, Double(elapsed.components.attoseconds) * 1e-18 + Double(elapsed.components.seconds))
        }
        return Double(12 * elements) / best / 1e9
    }

    /// The plain Swift SIMD loop the C kernels were measured against (fp16 weights, one activation row, 4 weight
    /// rows per pass, `SIMD16` accumulators, lane-loop conversion): `y[r] = sum_j x[j] * W[r, j]`. Kept so the
    /// comparison (docs/BENCHMARKS.md, 'Decode kernels') can be re-run (`GEMV_BENCH=1`); not used by the model.
    public static func swiftBaselineFloat16(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float16>, rows: Int, columns k: Int,
        into y: UnsafeMutablePointer<Float>
    ) {
        @inline(__always) func widen16(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
            var v = SIMD16<Float>()
            for l in 0..<16 { v[l] = Float(p[l]) }
            return v
        }
        var r = 0
        while r < rows {
            let count = min(4, rows - r)
            var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
            var j = 0
            if count == 4 {
                while j + 16 <= k {
                    let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
                    acc.0 = acc.0.addingProduct(widen16(w + r * k + j), xv)
                    acc.1 = acc.1.addingProduct(widen16(w + (r + 1) * k + j), xv)
                    acc.2 = acc.2.addingProduct(widen16(w + (r + 2) * k + j), xv)
                    acc.3 = acc.3.addingProduct(widen16(w + (r + 3) * k + j), xv)
                    j += 16
                }
            }
            let sums = [acc.0.sum(), acc.1.sum(), acc.2.sum(), acc.3.sum()]
            for rr in 0..<count {
                var s = sums[rr]
                for t in j..<k { s += Float(w[(r + rr) * k + t]) * x[t] }
                y[r + rr] = s
            }
            r += count
        }
    }
}
