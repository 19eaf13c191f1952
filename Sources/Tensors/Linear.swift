/// `y[n, out] = x[n, in] * W^T + bias` for a weight `W[out, in]` in any `WeightFormat`; `y` has row stride `out`.
///
/// Reference path: weights are widened to fp32 one tile of rows at a time and multiplied by OpenBLAS sgemm, so
/// memory holds the compact weights plus one small fp32 tile. Faster kernels plug in here by format and `n`.
public func linear(
    _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, bias: [Float]?,
    into y: UnsafeMutablePointer<Float>
) {
    let inner = weight.columns
    let outputs = weight.rows
    let tileRows = max(1, min(outputs, (1 << 20) / max(inner, 1)))
    let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * inner)
    defer { tile.deallocate() }
    var start = 0
    while start < outputs {
        let count = min(tileRows, outputs - start)
        weight.widenRows(start, count: count, into: tile)
        BLAS.sgemm(
            m: n, n: count, k: inner, a: x, lda: inner, b: tile, ldb: inner, transposeB: true,
            c: y + start, ldc: outputs)
        start += count
    }
    if let bias {
        precondition(bias.count == outputs)
        bias.withUnsafeBufferPointer { b in
            for r in 0..<n {
                let row = y + r * outputs
                for j in 0..<outputs { row[j] += b[j] }
            }
        }
    }
}
