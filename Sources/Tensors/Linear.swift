/// `y[n, out] = x[n, in] * W^T + bias` for a weight `W[out, in]` in any `WeightFormat`; `y` has row stride `out`.
///
/// The kernel is a route chosen from the row count, the weight, the precision and the CPU (`MatmulRoute.choose`):
/// decode-sized products stream the compact weights once through the GEMV kernels, longer blocks take the exact
/// GEMM on the fp32 FMAs (OpenBLAS sgemm for fp32 weights), and with `.fast` precision the dot-product units'
/// kernels where they are faster.
public func linear(
    _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, bias: [Float]?,
    into y: UnsafeMutablePointer<Float>, precision: MatmulPrecision = .exact
) {
    MatmulRoute.choose(rows: n, weight: weight.routeWeight, precision: precision, cpu: .detected)
        .run(x, rows: n, weight: weight, into: y)
    if let bias { addBias(bias, rows: n, into: y) }
}

/// How much a matrix product may round its activations.
public enum MatmulPrecision: String, Sendable, CaseIterable, Codable {
    /// fp32 activations times exactly dequantized weights, fp32 accumulation: the official model's math (default).
    case exact
    /// Prefill and batches round activations to bf16 (fp16/bf16 weights) or quantise them per row to int8
    /// (int8/int4 weights) to run on vdpbf16ps / vpdpbusd; decoding with int8/int4 weights quantises activations
    /// per row too (`QuantizedDecodeKernels`), with fp32/fp16/bf16 weights it stays exact. See `PrefillKernels`
    /// for bounds.
    case fast
}

/// The reference path: widen a tile of weight rows to fp32, multiply with OpenBLAS sgemm, repeat. The route for
/// fp32 weights and for CPUs without AVX2; elsewhere the exact GEMM computes the same products without the copy.
public func referenceLinear(
    _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
) {
    let inner = weight.columns
    let outputs = weight.rows
    if case .float32(let values) = weight.storage {
        // fp32 weights need no widening: one sgemm straight from storage.
        values.withUnsafeBufferPointer { w in
            BLAS.sgemm(
                m: n, n: outputs, k: inner, a: x, lda: inner, b: w.baseAddress!, ldb: inner, transposeB: true,
                c: y, ldc: outputs)
        }
        return
    }
    let tileRows = max(1, min(outputs, (1 << 19) / max(inner, 1)))
    let tiles = (outputs + tileRows - 1) / tileRows
    // Each compute thread widens its own tiles and multiplies them with a one-thread sgemm. OpenBLAS's own threads
    // on one shared tile at a time spend much of a prefill synchronising and re-packing, while the widening runs
    // on one thread meanwhile (measured: docs/BENCHMARKS.md, 'Prefill').
    // One OpenBLAS thread per tile whatever the rank's setting, so a tile's bits do not depend on --threads.
    let savedBLASThreads = BLAS.threadCount
    if savedBLASThreads != 1 { BLAS.threadCount = 1 }
    defer { if savedBLASThreads != 1 { BLAS.threadCount = savedBLASThreads } }
    ComputeThreads.parallelFor(tiles) { range in
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * inner)
        defer { tile.deallocate() }
        for index in range {
            let start = index * tileRows
            let count = min(tileRows, outputs - start)
            weight.widenRows(start, count: count, into: tile)
            BLAS.sgemm(
                m: n, n: count, k: inner, a: x, lda: inner, b: tile, ldb: inner, transposeB: true,
                c: y + start, ldc: outputs)
        }
    }
}

/// Adds `bias` to each of `n` rows of width `bias.count`.
public func addBias(_ bias: [Float], rows n: Int, into y: UnsafeMutablePointer<Float>) {
    let outputs = bias.count
    bias.withUnsafeBufferPointer { b in
        for r in 0..<n {
            let row = y + r * outputs
            for j in 0..<outputs { row[j] += b[j] }
        }
    }
}
