/// Multithreaded GEMV / small-batch GEMM over compact weights, for decoding (bandwidth-bound).
public enum DecodeKernels {
    /// Row counts up to this go to these kernels.
    public static let maximumRows = 8

    /// Computes `y = x W^T` (no bias) and returns true, or returns false when no kernel handles the format.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
    ) -> Bool {
        false
    }
}
