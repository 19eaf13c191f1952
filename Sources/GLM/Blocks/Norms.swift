import Configuration
import Partitioning
import Tensors

/// The norms (LayerNorm, RMSNorm) with the model's epsilon, and the residual sums (DeepNorm's
/// `alpha * LN(x) + f(LN(x))`, pre-norm's `x + f(N(x))`).
extension GLMModel {
    /// `output = alpha * scaled + output` element-wise, in place (the DeepNorm residuals).
    static func residual(_ alpha: Float, _ scaled: [Float], into output: inout [Float]) {
        let count = scaled.count
        scaled.withUnsafeBufferPointer { a in
            output.withUnsafeMutableBufferPointer { y in
                VectorKernels.scaledAdd(alpha, a.baseAddress!, y.baseAddress!, into: y.baseAddress!, count: count)
            }
        }
    }

    /// The architecture's norm (LayerNorm, or RMSNorm without a bias) of `rows` rows of width h with the model's
    /// epsilon.
    func normalise(_ input: [Float], rows n: Int, weight: [Float], bias: [Float], into output: inout [Float]) {
        let h = configuration.hiddenSize
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                switch architecture.norm {
                case .layerNorm:
                    layerNorm(
                        x.baseAddress!, rows: n, width: h, weight: weight, bias: bias,
                        epsilon: configuration.layernormEpsilon, into: y.baseAddress!)
                case .rmsNorm:
                    precondition(weight.count == h, "an RMSNorm weight of \(weight.count) values for width \(h)")
                    weight.withUnsafeBufferPointer { w in
                        VectorKernels.rmsNorm(
                            x.baseAddress!, rows: n, width: h, weight: w.baseAddress!,
                            epsilon: configuration.layernormEpsilon, into: y.baseAddress!)
                    }
                }
            }
        }
    }
}
