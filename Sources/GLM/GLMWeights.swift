import Checkpoint
import Configuration
import Tensors

/// The weights of one transformer layer, as this rank holds them (its tensor-parallel shard).
public struct LayerWeights: Sendable {
    public var inputLayerNormWeight: [Float]
    public var inputLayerNormBias: [Float]
    /// `[3h/p, h]`, rows interleaved per head: `head*3d + {q,k,v}*d + i`.
    public var queryKeyValue: HalfMatrix
    public var queryKeyValueBias: [Float]
    /// `[h, h/p]`: row-parallel; its bias is added once, after the tensor-parallel sum.
    public var attentionDense: HalfMatrix
    public var attentionDenseBias: [Float]
    public var postAttentionLayerNormWeight: [Float]
    public var postAttentionLayerNormBias: [Float]
    /// `[2f/p, h]`: this rank's linear half rows then its GELU half rows.
    public var denseHTo4H: HalfMatrix
    public var denseHTo4HBias: [Float]
    /// `[h, f/p]`: row-parallel.
    public var dense4HToH: HalfMatrix
    public var dense4HToHBias: [Float]
}

/// All weights one rank needs; the output projection is tied to `wordEmbeddings`.
public struct GLMWeights: Sendable {
    public var wordEmbeddings: HalfMatrix
    public var layers: [LayerWeights]
    public var finalLayerNormWeight: [Float]
    public var finalLayerNormBias: [Float]

    /// Reads this rank's partition of every weight from an official checkpoint of any MP degree.
    /// Extra keys (such as `attention.rotary_emb.inv_freq`) are ignored; a missing or mis-shaped key is an error
    /// naming the key, file and expected shape.
    public static func load(
        from checkpoint: ShardedCheckpoint, configuration c: ModelConfiguration, partition: Partition = .whole
    ) throws -> GLMWeights {
        let specs = Dictionary(uniqueKeysWithValues: WeightSpec.all(for: c).map { ($0.key, $0) })
        func tensor(_ key: String) throws -> HalfTensor {
            let spec = specs[key]!
            return try checkpoint.tensor(key, globalShape: spec.shape, layout: spec.layout, partition: partition)
        }
        func matrix(_ key: String) throws -> HalfMatrix {
            let t = try tensor(key)
            return HalfMatrix(rows: t.shape[0], columns: t.shape[1], values: t.values)
        }
        func vector(_ key: String) throws -> [Float] { try tensor(key).values.map(Float.init) }

        var layers: [LayerWeights] = []
        for i in 0..<c.numLayers {
            let p = "transformer.layers.\(i)."
            layers.append(
                LayerWeights(
                    inputLayerNormWeight: try vector(p + "input_layernorm.weight"),
                    inputLayerNormBias: try vector(p + "input_layernorm.bias"),
                    queryKeyValue: try matrix(p + "attention.query_key_value.weight"),
                    queryKeyValueBias: try vector(p + "attention.query_key_value.bias"),
                    attentionDense: try matrix(p + "attention.dense.weight"),
                    attentionDenseBias: try vector(p + "attention.dense.bias"),
                    postAttentionLayerNormWeight: try vector(p + "post_attention_layernorm.weight"),
                    postAttentionLayerNormBias: try vector(p + "post_attention_layernorm.bias"),
                    denseHTo4H: try matrix(p + "mlp.dense_h_to_4h.weight"),
                    denseHTo4HBias: try vector(p + "mlp.dense_h_to_4h.bias"),
                    dense4HToH: try matrix(p + "mlp.dense_4h_to_h.weight"),
                    dense4HToHBias: try vector(p + "mlp.dense_4h_to_h.bias")))
        }
        return GLMWeights(
            wordEmbeddings: try matrix("transformer.word_embeddings.weight"),
            layers: layers,
            finalLayerNormWeight: try vector("transformer.final_layernorm.weight"),
            finalLayerNormBias: try vector("transformer.final_layernorm.bias"))
    }
}
