import Glibc

/// Exact GELU, `0.5 x (1 + erf(x / sqrt 2))` (not the tanh approximation: GLM-130B was trained with erf).
@inline(__always)
public func gelu(_ x: Float) -> Float {
    0.5 * x * (1 + erf(x * 0.7071067811865476))
}

/// Softmax of `count` values in place, shifted by the maximum for stability (the vectorised kernel of
/// `VectorKernels.maskedSoftmax`, with no mask).
public func softmaxInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    VectorKernels.maskedSoftmax(
        values, rows: 1, columns: count, stride: count, firstQuery: 0, bidirectionalPrefix: count)
}
