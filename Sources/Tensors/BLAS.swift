import CBLAS

/// The few OpenBLAS entry points GLMCluster uses, with Swift names and row-major shapes.
public enum BLAS {
    /// `C[m, n] = alpha * A[m, k] * op(B) + beta * C`, all row-major. `transposeB` reads B as `[n, k]`.
    /// `lda`, `ldb`, `ldc` are row strides in elements.
    @inline(__always)
    public static func sgemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Threads OpenBLAS may use inside one call; pinned per rank so ranks do not oversubscribe cores.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}

extension BLAS {
    /// The name of the kernel set OpenBLAS chose when it loaded ("SkylakeX", "Haswell", "Zen", ... or a fallback
    /// such as "Prescott" on CPUs newer than the library).
    public static var kernelName: String { String(cString: openblas_get_corename()) }
}
