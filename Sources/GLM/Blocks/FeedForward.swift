import Configuration
import Partitioning
import Tensors

/// The MLP on this rank's FFN columns: `dense_h_to_4h` (column-parallel), the architecture's activation
/// (`FeedForwardKind`), `dense_4h_to_h` (row-parallel; its allreduce and bias are `finishRowParallel`'s).
extension GLMModel {
    /// The MLP's partial output before `finishRowParallel` (reduction, then `+ b2`), over the pass's row chunks
    /// (`rowChunks`): GeGLU `(u1 * gelu(u2)) W2^T` where `u = m W1^T + b1` is this rank's `[linear | gelu]` halves,
    /// the ungated `gelu_tanh(u) W2^T`, or SwiGLU `(silu(u1) * u2) W2^T`.
    func feedForward(
        weights w: LayerWeights, input: [Float], chunks: [Range<Int>], into output: UnsafeMutableBufferPointer<Float>
    ) {
        let (h, f) = (configuration.hiddenSize, localInner)
        let kind = architecture.feedForward
        var u = [Float](repeating: 0, count: chunks.map(\.count).max()! * kind.projectionFactor * f)
        input.withUnsafeBufferPointer { m in
            u.withUnsafeMutableBufferPointer { u in
                for chunk in chunks {
                    profile.measure(.matmul) {
                        linear(
                            m.baseAddress! + chunk.lowerBound * h, rows: chunk.count, weight: w.denseHTo4H,
                            bias: w.denseHTo4HBias, into: u.baseAddress!, precision: precision)
                    }
                    // The activated `[rows, f]` takes the front of `u` (no second buffer).
                    let gated = u.baseAddress!
                    switch kind {
                    case .gegluErf: VectorKernels.gegluInPlace(gated, rows: chunk.count, halfWidth: f)
                    case .geluTanh: VectorKernels.geluTanh(gated, into: gated, count: chunk.count * f)
                    case .swiglu: VectorKernels.swigluInPlace(gated, rows: chunk.count, halfWidth: f)
                    }
                    profile.measure(.matmul) {
                        linear(
                            gated, rows: chunk.count, weight: w.dense4HToH, bias: nil,
                            into: output.baseAddress! + chunk.lowerBound * h, precision: precision)
                    }
                }
            }
        }
    }
}
