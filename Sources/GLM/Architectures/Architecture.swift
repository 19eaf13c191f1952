import Configuration
import Partitioning

/// What one architecture decides inside the shared GLM block (`GLMModel`): the tensors it stores and how they split,
/// how positions rotate queries and keys, which MLP runs, and the residual scale. Everything else - tensor-parallel
/// linears with their allreduce, attention over the KV cache, LayerNorm, the tied output layer, sampling, batching,
/// quantization - is shared. Each architecture is one file in this folder defining a static value; adding one
/// means adding such a file, a case of `ArchitectureKind`, and a configuration type that reads its release's
/// `config.json` (`Sources/Configuration/Releases`).
public struct Architecture: Sendable {
    public let kind: ArchitectureKind
    public let positions: RotaryPositions.Scheme
    public let feedForward: FeedForwardKind
    /// DeepNorm's alpha: the sublayer output is added to `alpha * LN(x)`.
    public let residualScale: @Sendable (ModelConfiguration) -> Float
    /// Every stored tensor in state-dict order, with global (unsplit) shapes and split layouts.
    public let weightSpecs: @Sendable (ModelConfiguration) -> [WeightSpec]
    /// Whether load-time quantization takes each row's scale over the whole row (ChatGLM's `quantize` of the
    /// unsplit model), or over the rank's local shard of it (GLM-130B's `quantize` of each model-parallel shard):
    /// the two differ for the row-parallel matrices, whose rows are split across ranks.
    public let quantizesWholeRows: Bool

    /// The architecture that computes `configuration`.
    public static func of(_ configuration: ModelConfiguration) -> Architecture {
        switch configuration.architecture {
        case .glm130B: .glm130B
        case .chatGLM6B: .chatGLM6B
        }
    }

    /// The keys of the GLM block family (GLM-130B, ChatGLM-6B): word embeddings (also the output layer), per layer
    /// the input LayerNorm, the fused per-head `[q | k | v]` projection, the attention output, the post-attention
    /// LayerNorm and the two MLP matrices, then the final LayerNorm. A gated MLP stores both halves in
    /// `dense_h_to_4h` (split per half across ranks). The official quantized layers are marked quantizable.
    static func glmBlockSpecs(_ c: ModelConfiguration, feedForward: FeedForwardKind) -> [WeightSpec] {
        let h = c.hiddenSize
        let f = c.innerHiddenSize
        let projection = feedForward.projectionFactor * f
        let projectionLayout: ShardLayout = feedForward.projectionFactor == 2 ? .rowsGLU : .rows
        var specs = [WeightSpec(key: "transformer.word_embeddings.weight", shape: [c.vocabSize, h], layout: .rows)]
        for i in 0..<c.numLayers {
            let p = "transformer.layers.\(i)."
            specs += [
                WeightSpec(key: p + "input_layernorm.weight", shape: [h], layout: .replicated),
                WeightSpec(key: p + "input_layernorm.bias", shape: [h], layout: .replicated),
                WeightSpec(key: p + "attention.query_key_value.weight", shape: [3 * h, h], layout: .rows),
                WeightSpec(key: p + "attention.query_key_value.bias", shape: [3 * h], layout: .rows),
                WeightSpec(key: p + "attention.dense.weight", shape: [h, h], layout: .columns),
                WeightSpec(key: p + "attention.dense.bias", shape: [h], layout: .replicated),
                WeightSpec(key: p + "post_attention_layernorm.weight", shape: [h], layout: .replicated),
                WeightSpec(key: p + "post_attention_layernorm.bias", shape: [h], layout: .replicated),
                WeightSpec(key: p + "mlp.dense_h_to_4h.weight", shape: [projection, h], layout: projectionLayout),
                WeightSpec(key: p + "mlp.dense_h_to_4h.bias", shape: [projection], layout: projectionLayout),
                WeightSpec(key: p + "mlp.dense_4h_to_h.weight", shape: [h, f], layout: .columns),
                WeightSpec(key: p + "mlp.dense_4h_to_h.bias", shape: [h], layout: .replicated),
            ]
        }
        specs += [
            WeightSpec(key: "transformer.final_layernorm.weight", shape: [h], layout: .replicated),
            WeightSpec(key: "transformer.final_layernorm.bias", shape: [h], layout: .replicated),
        ]
        return specs.map {
            WeightSpec(key: $0.key, shape: $0.shape, layout: $0.layout, isQuantizable: isOfficiallyQuantized($0.key))
        }
    }

    /// The official quantized layers (`QUANTIZED_LAYERS` of GLM-130B's `tools/convert_tp.py`, the layers
    /// ChatGLM-6B's `quantize` replaces): the QKV, attention.dense, dense_h_to_4h and dense_4h_to_h weights.
    /// Embeddings, LayerNorms and biases stay fp16.
    public static let quantizedLayerNames = [
        "attention.dense.weight", "attention.query_key_value.weight", "mlp.dense_h_to_4h.weight",
        "mlp.dense_4h_to_h.weight",
    ]

    private static func isOfficiallyQuantized(_ key: String) -> Bool {
        key.hasPrefix("transformer.layers.") && quantizedLayerNames.contains { key.hasSuffix("." + $0) }
    }
}

extension WeightSpec {
    /// Every key of `c`'s model in state-dict order, as its architecture stores them.
    public static func all(for c: ModelConfiguration) -> [WeightSpec] {
        Architecture.of(c).weightSpecs(c)
    }
}
