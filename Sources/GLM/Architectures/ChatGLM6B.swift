import Configuration

/// ChatGLM-6B as THUDM/chatglm-6b's `modeling_chatglm.py` computes it: the GLM block of GLM-130B with
/// - 2D rotary positions: the position rotates the first half of each head, the block position the second
///   (`RotaryPositions.twoDimensional`), inverse frequencies rounded to fp16, angles in fp32;
/// - an ungated MLP with the tanh GELU (`dense_h_to_4h` is `[f, h]`);
/// - DeepNorm's alpha = sqrt(2 x 28) whatever the layer count: `GLMBlock` takes `num_layers` with a default of 28
///   and `ChatGLMModel` never passes it, so the release's own 28 layers fix alpha for every model of this code;
/// - the output layer tied to the word embeddings (the release also stores them as `lm_head.weight`, not loaded);
/// - quantization (`quantize`) of the whole model: each row's scale spans the whole row at any TP degree.
/// Its attention scaling by the layer index (`query_key_layer_scaling_coeff`) divides and multiplies back, the
/// plain `1/sqrt(d)` in fp32.
extension Architecture {
    public static let chatGLM6B = Architecture(
        kind: .chatGLM6B, names: .glmBlock, norm: .layerNorm, residual: .deepNorm, positions: .twoDimensional,
        feedForward: .geluTanh, queryKeyValue: .interleavedPerHead, isCausal: false,
        residualScale: { _ in Float((2.0 * 28.0).squareRoot()) },
        hasLinearBiases: true, quantizesWholeRows: true)
}
