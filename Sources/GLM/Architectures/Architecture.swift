import Configuration
import Partitioning

/// What one architecture decides inside the shared GLM block (`GLMModel`): the tensors it stores, their names and
/// how they split, the norm and the residual, how positions rotate queries and keys, which MLP runs, how QKV rows
/// are laid out and whether the context attends bidirectionally. Everything else - tensor-parallel linears with
/// their allreduce, attention over the KV cache, the vocabulary-parallel output layer, sampling, batching,
/// quantization - is shared. Each architecture is one file in this folder defining a static value; adding one
/// means adding such a file, a case of `ArchitectureKind`, and a configuration type that reads its release's
/// `config.json` (`Sources/Configuration/Releases`).
public struct Architecture: Sendable {
    public let kind: ArchitectureKind
    public let names: WeightNames
    public let norm: NormKind
    public let residual: ResidualKind
    public let positions: RotaryPositions.Scheme
    public let feedForward: FeedForwardKind
    public let queryKeyValue: QueryKeyValueLayout
    /// Whether every token attends only to itself and earlier ones (ChatGLM2 on), rather than the context
    /// bidirectionally (GLM's blank infilling).
    public let isCausal: Bool
    /// DeepNorm's alpha: the sublayer output is added to `alpha * LN(x)` (`ResidualKind.deepNorm` only).
    public let residualScale: @Sendable (ModelConfiguration) -> Float
    /// Whether the attention output and both MLP matrices carry biases (the QKV projection always does).
    public let hasLinearBiases: Bool
    /// Whether load-time quantization takes each row's scale over the whole row (ChatGLM's `quantize` of the
    /// unsplit model), or over the rank's local shard of it (GLM-130B's `quantize` of each model-parallel shard):
    /// the two differ for the row-parallel matrices, whose rows are split across ranks.
    public let quantizesWholeRows: Bool

    /// The architecture that computes `configuration`.
    public static func of(_ configuration: ModelConfiguration) -> Architecture {
        switch configuration.architecture {
        case .glm130B: .glm130B
        case .chatGLM6B: .chatGLM6B
        case .chatGLM2: .chatGLM2
        }
    }

    /// Every stored tensor in state-dict order, with global (unsplit) shapes and split layouts. The keys of an
    /// architecture's block: word embeddings, per layer the input norm, the fused QKV projection
    /// (`queryKeyValue`'s layout), the attention output, the post-attention norm and the two MLP matrices, then
    /// the final norm and, where it is not tied to the embeddings, the output layer. A gated MLP stores both halves
    /// in `dense_h_to_4h` (split per half across ranks). Biases and norm biases are listed where the architecture
    /// has them; the official quantized layers are marked quantizable (the QKV, attention dense, dense_h_to_4h and
    /// dense_4h_to_h weights: `QUANTIZED_LAYERS` of GLM-130B's `convert_tp.py`, the layers ChatGLM's `quantize`
    /// replaces).
    public func weightSpecs(_ c: ModelConfiguration) -> [WeightSpec] {
        let h = c.hiddenSize
        let d = c.headDimension
        let f = c.innerHiddenSize
        let projection = feedForward.projectionFactor * f
        let projectionLayout: ShardLayout = feedForward.projectionFactor == 2 ? .rowsGLU : .rows
        let (qkvRows, qkvLayout): (Int, ShardLayout) =
            switch queryKeyValue {
            case .interleavedPerHead: (3 * h, .rows)
            case .grouped:
                (
                    (c.numAttentionHeads + 2 * c.keyValueHeads) * d,
                    .groupedQueryKeyValue(heads: c.numAttentionHeads, groups: c.keyValueHeads)
                )
            }
        let n = names
        var specs = [WeightSpec(key: n.wordEmbeddings, shape: [c.vocabSize, h], layout: .rows)]
        for i in 0..<c.numLayers {
            let p = n.layer(i)
            var layer = [WeightSpec(key: p + n.inputNorm + ".weight", shape: [h], layout: .replicated)]
            if norm == .layerNorm {
                layer.append(WeightSpec(key: p + n.inputNorm + ".bias", shape: [h], layout: .replicated))
            }
            layer += [
                WeightSpec(
                    key: p + n.queryKeyValue + ".weight", shape: [qkvRows, h], layout: qkvLayout, isQuantizable: true),
                WeightSpec(key: p + n.queryKeyValue + ".bias", shape: [qkvRows], layout: qkvLayout),
                WeightSpec(
                    key: p + n.attentionDense + ".weight", shape: [h, h], layout: .columns, isQuantizable: true),
            ]
            if hasLinearBiases {
                layer.append(WeightSpec(key: p + n.attentionDense + ".bias", shape: [h], layout: .replicated))
            }
            layer.append(WeightSpec(key: p + n.postAttentionNorm + ".weight", shape: [h], layout: .replicated))
            if norm == .layerNorm {
                layer.append(WeightSpec(key: p + n.postAttentionNorm + ".bias", shape: [h], layout: .replicated))
            }
            layer.append(
                WeightSpec(
                    key: p + n.denseHTo4H + ".weight", shape: [projection, h], layout: projectionLayout,
                    isQuantizable: true))
            if hasLinearBiases {
                layer.append(WeightSpec(key: p + n.denseHTo4H + ".bias", shape: [projection], layout: projectionLayout))
            }
            layer.append(
                WeightSpec(key: p + n.dense4HToH + ".weight", shape: [h, f], layout: .columns, isQuantizable: true))
            if hasLinearBiases {
                layer.append(WeightSpec(key: p + n.dense4HToH + ".bias", shape: [h], layout: .replicated))
            }
            specs += layer
        }
        specs.append(WeightSpec(key: n.finalNorm + ".weight", shape: [h], layout: .replicated))
        if norm == .layerNorm { specs.append(WeightSpec(key: n.finalNorm + ".bias", shape: [h], layout: .replicated)) }
        if let output = n.outputLayer { specs.append(WeightSpec(key: output, shape: [c.vocabSize, h], layout: .rows)) }
        return specs
    }
}

/// The norm before each sublayer and at the end.
public enum NormKind: Sendable {
    /// LayerNorm with weight and bias.
    case layerNorm
    /// RMSNorm with weight only: `x / sqrt(mean(x^2) + eps) * w`.
    case rmsNorm
}

/// How each sublayer's output joins the residual stream.
public enum ResidualKind: Sendable {
    /// DeepNorm on the norm's output: `x' = alpha * N(x) + f(N(x))` (GLM-130B, ChatGLM-6B).
    case deepNorm
    /// Pre-norm: `x' = x + f(N(x))` (ChatGLM2 on).
    case preNorm
}

/// How the rows of the fused QKV projection are ordered.
public enum QueryKeyValueLayout: Sendable {
    /// Per head `[q | k | v]`, heads one after another (GLM-130B, ChatGLM-6B): every head has its own key/value.
    case interleavedPerHead
    /// All query heads, then the key heads of the groups, then their value heads (grouped multi-query attention).
    case grouped
}

/// The state-dict keys of an architecture, as its releases name them.
public struct WeightNames: Sendable {
    public let wordEmbeddings: String
    /// The output layer's key; nil when the word embeddings are the output layer (tied).
    public let outputLayer: String?
    /// Without `.weight`/`.bias`.
    public let finalNorm: String
    /// The prefix of layer `i`'s keys, with its trailing dot.
    public let layerPrefix: String
    /// Inside a layer, without `.weight`/`.bias`.
    public let inputNorm: String
    public let queryKeyValue: String
    public let attentionDense: String
    public let postAttentionNorm: String
    public let denseHTo4H: String
    public let dense4HToH: String

    public func layer(_ i: Int) -> String { layerPrefix + "\(i)." }

    /// The layer index of a key of some layer, nil for the other keys.
    public func layerIndex(of key: String) -> Int? {
        guard key.hasPrefix(layerPrefix) else { return nil }
        return Int(key.dropFirst(layerPrefix.count).prefix { $0 != "." })
    }

    /// GLM-130B's and ChatGLM-6B's keys.
    public static let glmBlock = WeightNames(
        wordEmbeddings: "transformer.word_embeddings.weight", outputLayer: nil,
        finalNorm: "transformer.final_layernorm",
        layerPrefix: "transformer.layers.", inputNorm: "input_layernorm", queryKeyValue: "attention.query_key_value",
        attentionDense: "attention.dense", postAttentionNorm: "post_attention_layernorm",
        denseHTo4H: "mlp.dense_h_to_4h", dense4HToH: "mlp.dense_4h_to_h")
}

extension WeightSpec {
    /// Every key of `c`'s model in state-dict order, as its architecture stores them.
    public static func all(for c: ModelConfiguration) -> [WeightSpec] {
        Architecture.of(c).weightSpecs(c)
    }
}
