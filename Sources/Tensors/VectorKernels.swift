import CKernels

/// Row-wise activation kernels and the decode attention core (`ckernels_vector.h`), multithreaded over rows or
/// heads with `ComputeThreads`. Each takes an optional instruction set (nil picks the widest the CPU has;
/// tests force the others). All pointers are only used during the call; do not escape them.
public enum VectorKernels {
    public typealias InstructionSet = DecodeKernels.InstructionSet

    /// The path the vector kernels take for `instructionSet` (nil: the widest) on this CPU.
    public static func resolve(_ instructionSet: InstructionSet? = nil) -> InstructionSet {
        InstructionSet(rawValue: Int32(ck_vector_resolve_isa(instructionSet?.rawValue ?? 0))) ?? .portable
    }

    /// `y[i] = erf(x[i])` (fp32, absolute error below 2e-7); exposed to test the approximation GELU uses.
    public static func erf(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
        instructionSet: InstructionSet? = nil
    ) {
        ck_erf(x, y, count, (instructionSet?.rawValue ?? 0))
    }

    /// Exact GELU `0.5 x (1 + erf(x / sqrt 2))` of `count` values; `y` may be `x`. Threads over chunks.
    public static func gelu(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
        instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        ComputeThreads.parallelFor(count, minimumChunk: 4096) { range in
            ck_gelu(x + range.lowerBound, y + range.lowerBound, range.count, isa)
        }
    }

    /// The tanh GELU `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` of `count` values (ChatGLM-6B's MLP); `y` may
    /// be `x`. Threads over chunks.
    public static func geluTanh(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
        instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        ComputeThreads.parallelFor(count, minimumChunk: 4096) { range in
            ck_gelu_tanh(x + range.lowerBound, y + range.lowerBound, range.count, isa)
        }
    }

    /// GeGLU gating: for `u [rows, 2f]` (linear half, then gate half per row), `out[r, j] = u[r, j] * gelu(u[r, f+j])`
    /// into `out [rows, f]`. Threads over rows.
    public static func geglu(
        _ u: UnsafePointer<Float>, rows: Int, halfWidth f: Int, into out: UnsafeMutablePointer<Float>,
        instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        if rows == 1 {
            // One row (decode): split the columns instead.
            ComputeThreads.parallelFor(f, minimumChunk: 1024) { range in
                ck_geglu(u + range.lowerBound, u + f + range.lowerBound, out + range.lowerBound, range.count, isa)
            }
            return
        }
        ComputeThreads.parallelFor(rows) { range in
            for r in range { ck_geglu(u + r * 2 * f, u + r * 2 * f + f, out + r * f, f, isa) }
        }
    }

    /// GeGLU in place: `u [rows, 2f]` becomes `[rows, f]` packed at its start, row r's `u[r, j] * gelu(u[r, f+j])`
    /// at `u + r * f` (the rest of `u` is left over). Saves the `[rows, f]` output buffer of a long prefill.
    ///
    /// Row r writes `[r f, r f + f)`, which overlaps only the input of row `r / 2`, so rows run in waves
    /// `[1, 2), [2, 4), [4, 8), ...`: a wave overwrites the inputs of the wave before it, already gated, and
    /// reads `[2^k 2f, ...)`, beyond everything it writes. Row 0 (result over its own linear half) goes through
    /// a row-sized scratch buffer, as the C kernel's pointers must not alias.
    public static func gegluInPlace(
        _ u: UnsafeMutablePointer<Float>, rows: Int, halfWidth f: Int, instructionSet: InstructionSet? = nil
    ) {
        guard rows > 0, f > 0 else { return }
        let first = UnsafeMutablePointer<Float>.allocate(capacity: f)
        defer { first.deallocate() }
        geglu(u, rows: 1, halfWidth: f, into: first, instructionSet: instructionSet)
        u.update(from: first, count: f)
        let isa = (instructionSet?.rawValue ?? 0)
        var start = 1
        while start < rows {
            let end = min(2 * start, rows)
            ComputeThreads.parallelFor(end - start) { range in
                for r in (start + range.lowerBound)..<(start + range.upperBound) {
                    ck_geglu(u + r * 2 * f, u + r * 2 * f + f, u + r * f, f, isa)
                }
            }
            start = end
        }
    }

    /// SwiGLU in place: `u [rows, 2f]` (gate half, then up half per row) becomes `[rows, f]` packed at its start,
    /// row r's `silu(u[r, j]) * u[r, f+j]` at `u + r * f`, in the row waves of `gegluInPlace`.
    public static func swigluInPlace(
        _ u: UnsafeMutablePointer<Float>, rows: Int, halfWidth f: Int, instructionSet: InstructionSet? = nil
    ) {
        guard rows > 0, f > 0 else { return }
        let isa = (instructionSet?.rawValue ?? 0)
        let first = UnsafeMutablePointer<Float>.allocate(capacity: f)
        defer { first.deallocate() }
        ComputeThreads.parallelFor(f, minimumChunk: 1024) { range in
            ck_swiglu(u + range.lowerBound, u + f + range.lowerBound, first + range.lowerBound, range.count, isa)
        }
        u.update(from: first, count: f)
        var start = 1
        while start < rows {
            let end = min(2 * start, rows)
            ComputeThreads.parallelFor(end - start) { range in
                for r in (start + range.lowerBound)..<(start + range.upperBound) {
                    ck_swiglu(u + r * 2 * f, u + r * 2 * f + f, u + r * f, f, isa)
                }
            }
            start = end
        }
    }

    /// RMSNorm of `rows` rows of `width` (see `ck_rms_norm_rows`); threads over rows.
    public static func rmsNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, epsilon: Float,
        into y: UnsafeMutablePointer<Float>, instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        ComputeThreads.parallelFor(rows, minimumChunk: max(1, 8192 / max(width, 1))) { range in
            ck_rms_norm_rows(x, width, weight, epsilon, y, range.lowerBound, range.upperBound, isa)
        }
    }

    /// Masked softmax in place over `rows` rows of `scores` (row stride `stride`, `columns` values each): row r is
    /// query `firstQuery + r`; columns `SequenceLayout.allows` forbids (`c >= max(bidirectionalPrefix, query + 1)`)
    /// become -10000 before the max-shifted softmax. `bidirectionalPrefix >= columns` masks nothing.
    public static func maskedSoftmax(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int, firstQuery: Int,
        bidirectionalPrefix: Int, instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        ComputeThreads.parallelFor(rows, minimumChunk: max(1, 16384 / max(columns, 1))) { range in
            ck_softmax_rows(
                scores, stride, columns, range.lowerBound, range.upperBound, firstQuery, bidirectionalPrefix, isa)
        }
    }

    /// `maskedSoftmax` on the calling thread alone, for callers that already run in parallel.
    public static func maskedSoftmaxOnThisThread(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int, firstQuery: Int,
        bidirectionalPrefix: Int
    ) {
        ck_softmax_rows(scores, stride, columns, 0, rows, firstQuery, bidirectionalPrefix, 0)
    }

    /// LayerNorm over each row of `x [rows, width]` into `y` (mean and variance accumulated in double).
    public static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        epsilon: Float, into y: UnsafeMutablePointer<Float>, instructionSet: InstructionSet? = nil
    ) {
        let isa = (instructionSet?.rawValue ?? 0)
        ComputeThreads.parallelFor(rows, minimumChunk: max(1, 8192 / max(width, 1))) { range in
            ck_layer_norm_rows(x, width, weight, bias, epsilon, y, range.lowerBound, range.upperBound, isa)
        }
    }

    /// Attention of one decode step for `n` query heads sharing one key/value head (`ck_attention_group`): keys
    /// and values (fp32, or fp16 bits with `half`) read once for all of them. Single-threaded: callers run groups in
    /// parallel.
    @inline(__always)
    public static func attentionGroup(
        queries: UnsafePointer<Float>, heads n: Int, queryStride: Int, headDimension d: Int, keys: UnsafeRawPointer,
        values: UnsafeRawPointer, total: Int, scale: Float, half: Bool, scores: UnsafeMutablePointer<Float>,
        into out: UnsafeMutablePointer<Float>, outStride: Int, instructionSet: InstructionSet? = nil
    ) {
        ck_attention_group(
            queries, n, queryStride, d, keys, values, total, scale, scores, out, outStride, half ? 1 : 0,
            (instructionSet?.rawValue ?? 0))
    }

    /// Attention of `n` query rows of one head against `total` cached tokens without BLAS: scaled dot products
    /// with `keys [total, d]`, the masked softmax of `maskedSoftmax` (query i is `firstQuery + i`), then the
    /// weighted sum of `values [total, d]` into `out[i * outStride ..< + d]`. `scores` is scratch of `n * total`.
    /// Single-threaded: callers run heads in parallel.
    @inline(__always)
    public static func attentionHead(
        queries: UnsafePointer<Float>, rows n: Int, headDimension d: Int, keys: UnsafePointer<Float>,
        values: UnsafePointer<Float>, total: Int, scale: Float, firstQuery: Int, bidirectionalPrefix: Int,
        scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, outStride: Int,
        instructionSet: InstructionSet? = nil
    ) {
        ck_attention_head(
            queries, n, d, keys, values, total, scale, firstQuery, bidirectionalPrefix, scores, out, outStride,
            (instructionSet?.rawValue ?? 0))
    }

    /// `attentionHead` with keys and values stored as IEEE fp16 bits (the fp16 KV cache), widened as they are read.
    public static func attentionHead(
        queries: UnsafePointer<Float>, rows n: Int, headDimension d: Int, halfKeys keys: UnsafePointer<UInt16>,
        values: UnsafePointer<UInt16>, total: Int, scale: Float, firstQuery: Int, bidirectionalPrefix: Int,
        scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, outStride: Int,
        instructionSet: InstructionSet? = nil
    ) {
        ck_attention_head_f16(
            queries, n, d, keys, values, total, scale, firstQuery, bidirectionalPrefix, scores, out, outStride,
            (instructionSet?.rawValue ?? 0))
    }

    /// `y[i]` = `x[i]` as IEEE fp16 bits, rounded to nearest even (single-threaded: one cache row at a time).
    public static func narrowToHalf(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<UInt16>, count: Int,
        instructionSet: InstructionSet? = nil
    ) {
        ck_narrow_to_f16(x, y, count, instructionSet?.rawValue ?? 0)
    }

    /// The index of the first NaN or infinite value among `count` fp16 bit patterns, or nil when all are finite.
    public static func firstNonFiniteHalf(_ values: UnsafePointer<UInt16>, count: Int) -> Int? {
        let index = ck_f16_first_nonfinite(values, count)
        return index < 0 ? nil : index
    }

    /// `y[i]` = the fp16 bits `x[i]` as fp32 (exact; single-threaded).
    public static func widenHalf(
        _ x: UnsafePointer<UInt16>, into y: UnsafeMutablePointer<Float>, count: Int,
        instructionSet: InstructionSet? = nil
    ) {
        ck_widen_f16(x, y, count, instructionSet?.rawValue ?? 0)
    }

    /// `y[i] = alpha * a[i] + b[i]` (the residual updates); `y` may be `a` or `b`. Threads over chunks.
    public static func scaledAdd(
        _ alpha: Float, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        ComputeThreads.parallelFor(count, minimumChunk: 16384) { range in
            for i in range { y[i] = alpha * a[i] + b[i] }
        }
    }

    /// Adds `bias [width]` to every row of `y [rows, width]`. Threads over rows.
    public static func addBias(_ bias: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        ComputeThreads.parallelFor(rows, minimumChunk: max(1, 16384 / max(width, 1))) { range in
            for r in range {
                let row = y + r * width
                for j in 0..<width { row[j] += bias[j] }
            }
        }
    }
}
