/// LayerNorm over each row of `x[n, width]`: `(x - mean) / sqrt(var + eps) * weight + bias`, with the biased
/// variance as PyTorch computes it. Sums run in Double so long rows (12288) stay exact to fp32 precision.
public func layerNorm(
    _ x: UnsafePointer<Float>, rows n: Int, width: Int, weight: [Float], bias: [Float], epsilon: Float,
    into y: UnsafeMutablePointer<Float>
) {
    precondition(weight.count == width && bias.count == width)
    weight.withUnsafeBufferPointer { w in
        bias.withUnsafeBufferPointer { b in
            for r in 0..<n {
                let input = x + r * width
                let output = y + r * width
                var sum = 0.0
                for i in 0..<width { sum += Double(input[i]) }
                let mean = sum / Double(width)
                var squares = 0.0
                for i in 0..<width {
                    let d = Double(input[i]) - mean
                    squares += d * d
                }
                let inverse = Float(1.0 / (squares / Double(width) + Double(epsilon)).squareRoot())
                let meanF = Float(mean)
                for i in 0..<width { output[i] = (input[i] - meanF) * inverse * w[i] + b[i] }
            }
        }
    }
}
