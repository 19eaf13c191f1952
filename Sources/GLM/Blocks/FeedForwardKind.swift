/// The MLP between `dense_h_to_4h` and `dense_4h_to_h`.
public enum FeedForwardKind: Sendable {
    /// GLM-130B's GeGLU: `dense_h_to_4h` gives `[linear | gate]` halves of `f` columns each, and the product is
    /// `linear * gelu(gate)` with the exact (erf) GELU.
    case gegluErf
    /// ChatGLM-6B's ungated MLP: `dense_h_to_4h` gives `f` columns, then the tanh GELU.
    case geluTanh
    /// ChatGLM2's SwiGLU: `dense_h_to_4h` gives `[gate | up]` halves of `f` columns each, and the product is
    /// `silu(gate) * up`.
    case swiglu

    /// Rows of `dense_h_to_4h` per column of the inner size (2 for a gated MLP).
    public var projectionFactor: Int {
        switch self {
        case .gegluErf, .swiglu: 2
        case .geluTanh: 1
        }
    }
}
