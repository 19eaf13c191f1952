import Configuration

/// GLM-130B as the official code computes it (`../shared/spec/glm-130b.md`): DeepNorm with alpha = sqrt(2 L) on the
/// LayerNorm output, 1D rotary positions over the whole head with fp16 tables (`[MASK]` gives `<sop>` and the
/// answer the mask's position, `[gMASK]` plain positions), GeGLU with the exact GELU, output layer tied to the word
/// embeddings.
extension Architecture {
    public static let glm130B = Architecture(
        kind: .glm130B, names: .glmBlock, norm: .layerNorm, residual: .deepNorm, positions: .wholeHead,
        feedForward: .gegluErf, queryKeyValue: .interleavedPerHead, isCausal: false,
        residualScale: { c in Float((2.0 * Double(c.numLayers)).squareRoot()) },
        hasLinearBiases: true, quantizesWholeRows: false)
}
