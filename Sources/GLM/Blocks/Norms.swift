import Configuration
import Partitioning
import Tensors

/// LayerNorm with the model's epsilon, and DeepNorm's residual `alpha * LN(x) + f(LN(x))`.
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

    /// LayerNorm of `rows` rows of width h with the model's epsilon.
    func normalise(_ input: [Float], rows n: Int, weight: [Float], bias: [Float], into output: inout [Float]) {
        let h = configuration.hiddenSize
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                layerNorm(
                    x.baseAddress!, rows: n, width: h, weight: weight, bias: bias,
                    epsilon: configuration.layernormEpsilon, into: y.baseAddress!)
            }
        }
    }
}
