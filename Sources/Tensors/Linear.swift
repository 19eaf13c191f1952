/// `y[n, out] = x[n, in] * W^T + bias` with fp16 weights `W[out, in]` (the PyTorch `nn.Linear` layout).
///
/// Weights are widened to fp32 one tile of rows at a time and multiplied by OpenBLAS sgemm, so memory holds the
/// fp16 weights plus one small fp32 tile. `y` has row stride `out`.
public func linear(
    _ x: UnsafePointer<Float>, rows n: Int, weight: HalfMatrix, bias: [Float]?,
    into y: UnsafeMutablePointer<Float>
) {
    let inner = weight.columns
    let outputs = weight.rows
    let tileRows = max(1, min(outputs, (1 << 20) / max(inner, 1)))
    let tile = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * inner)
    defer { tile.deallocate() }
    weight.values.withUnsafeBufferPointer { w in
        var start = 0
        while start < outputs {
            let count = min(tileRows, outputs - start)
            widen(w.baseAddress! + start * inner, into: tile, count: count * inner)
            BLAS.sgemm(
                m: n, n: count, k: inner, a: x, lda: inner, b: tile, ldb: inner, transposeB: true,
                c: y + start, ldc: outputs)
            start += count
        }
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
