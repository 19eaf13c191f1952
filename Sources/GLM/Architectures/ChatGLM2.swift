import Configuration

/// ChatGLM2-6B, ChatGLM3-6B and GLM-4-9B as their `modeling_chatglm.py` computes them (the three share it):
/// - RMSNorm before each sublayer and at the end, pre-norm residuals `x + f(RMSNorm(x))`;
/// - grouped multi-query attention: `multi_query_group_num` key/value heads, each shared by a group of query
///   heads; the fused QKV rows are all queries, then the groups' keys, then their values, with a bias;
/// - rotary on the first half of each head, pairs `(2i, 2i+1)` interleaved, base 10000 x `rope_ratio`, plain
///   positions `0, 1, 2, ...` (`RotaryPositions.interleavedHalf`), angles in fp32;
/// - causal attention over the whole sequence, prompt included;
/// - SwiGLU: `dense_h_to_4h` gives `[gate | up]`, `silu(gate) * up` goes to `dense_4h_to_h`; no other biases;
/// - a separate output layer (`output_layer`) over the padded vocabulary;
/// - quantization (`quantize`) of the whole model: each row's scale spans the whole row at any TP degree.
extension Architecture {
    public static let chatGLM2 = Architecture(
        kind: .chatGLM2, names: .chatGLM2, norm: .rmsNorm, residual: .preNorm, positions: .interleavedHalf,
        feedForward: .swiglu, queryKeyValue: .grouped, isCausal: true, residualScale: { _ in 1 },
        hasLinearBiases: false, quantizesWholeRows: true)
}

extension WeightNames {
    /// The keys of THUDM/chatglm2-6b, chatglm3-6b and glm-4-9b-chat.
    public static let chatGLM2 = WeightNames(
        wordEmbeddings: "transformer.embedding.word_embeddings.weight", outputLayer: "transformer.output_layer.weight",
        finalNorm: "transformer.encoder.final_layernorm", layerPrefix: "transformer.encoder.layers.",
        inputNorm: "input_layernorm", queryKeyValue: "self_attention.query_key_value",
        attentionDense: "self_attention.dense", postAttentionNorm: "post_attention_layernorm",
        denseHTo4H: "mlp.dense_h_to_4h", dense4HToH: "mlp.dense_4h_to_h")
}
