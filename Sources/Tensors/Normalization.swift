/// LayerNorm over each row of `x[n, width]`: `(x - mean) / sqrt(var + eps) * weight + bias`, with the biased
/// variance as PyTorch computes it. Sums run in Double so long rows (12288) stay exact to fp32 precision; rows are
/// vectorised and spread over `ComputeThreads` (`VectorKernels.layerNorm`).
public func layerNorm(
    _ x: UnsafePointer<Float>, rows n: Int, width: Int, weight: [Float], bias: [Float], epsilon: Float,
    into y: UnsafeMutablePointer<Float>
) {
    precondition(weight.count == width && bias.count == width)
    weight.withUnsafeBufferPointer { w in
        bias.withUnsafeBufferPointer { b in
            VectorKernels.layerNorm(
                x, rows: n, width: width, weight: w.baseAddress!, bias: b.baseAddress!, epsilon: epsilon, into: y)
        }
    }
}
