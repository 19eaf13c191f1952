import Foundation

/// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (not the tanh approximation: GLM-130B was trained with erf).
@inline(__always)
public func gelu(_ x: Float) -> Float {
    0.5 * x * (1 + erf(x * 0.7071067811865476))
}

/// Softmax of `count` values in place, shifted by the maximum for stability.
public func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, values[i]) }
    var sum: Float = 0
    for i in 0..<count {
        let e = expf(values[i] - maximum)
        values[i] = e
        sum += e
    }
    let inverse = 1 / sum
    for i in 0..<count { values[i] *= inverse }
}
