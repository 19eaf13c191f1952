/// Which architecture computes a model: each has one file under `Sources/GLM/Architectures` that composes the
/// shared blocks, and a configuration type that reads its release's `config.json` into a `ModelConfiguration`.
public enum ArchitectureKind: String, Codable, Sendable, CaseIterable {
    /// GLM-130B (spec sections 2-5): 1D rotary over the whole head with fp16 tables, GeGLU (erf) MLP.
    case glm130B = "glm-130b"
    /// ChatGLM-6B: 2D rotary (position and block position on the two halves of each head), tanh-GELU MLP without
    /// gating, DeepNorm with the alpha of the release's 28 layers.
    case chatGLM6B = "chatglm-6b"
    /// ChatGLM2-6B, ChatGLM3-6B and GLM-4-9B: RMSNorm pre-norm, grouped multi-query attention, rotary on the first
    /// half of each head with interleaved pairs, SwiGLU, a separate output layer, causal attention throughout.
    case chatGLM2 = "chatglm2"
}
