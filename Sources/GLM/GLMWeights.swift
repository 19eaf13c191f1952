import Checkpoint
import Configuration
import Tensors

/// The weights of one transformer layer, as this rank holds them (its tensor-parallel shard).
public struct LayerWeights: Sendable {
    public var inputLayerNormWeight: [Float]
    public var inputLayerNormBias: [Float]
    /// `[3h/p, h]`, rows interleaved per head: `head*3d + {q,k,v}*d + i`.
    public var queryKeyValue: WeightMatrix
    public var queryKeyValueBias: [Float]
    /// `[h, h/p]`: row-parallel; its bias is added once, after the tensor-parallel sum.
    public var attentionDense: WeightMatrix
    public var attentionDenseBias: [Float]
    public var postAttentionLayerNormWeight: [Float]
    public var postAttentionLayerNormBias: [Float]
    /// `[2f/p, h]`: this rank's linear half rows then its GELU half rows.
    public var denseHTo4H: WeightMatrix
    public var denseHTo4HBias: [Float]
    /// `[h, f/p]`: row-parallel.
    public var dense4HToH: WeightMatrix
    public var dense4HToHBias: [Float]
}

/// All weights one rank needs; the output projection is tied to `wordEmbeddings`.
public struct GLMWeights: Sendable {
    public var wordEmbeddings: WeightMatrix
    public var layers: [LayerWeights]
    public var finalLayerNormWeight: [Float]
    public var finalLayerNormBias: [Float]

    /// Reads this rank's partition of every weight from an official checkpoint of any MP degree.
    /// Extra keys (such as `attention.rotary_emb.inv_freq`) are ignored; a missing or mis-shaped key is an error
    /// naming the key, file and expected shape.
    public static func load(
        from checkpoint: ShardedCheckpoint, configuration c: ModelConfiguration, partition: Partition = .whole
    ) throws -> GLMWeights {
        try assemble(configuration: c) { spec in
            try checkpoint.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
        }
    }

    /// Builds the weights from `tensor`, called once per `WeightSpec` in checkpoint order with the spec of the
    /// tensor wanted; it returns this rank's part (how it gets it - checkpoint, network - is the caller's choice).
    public static func assemble(
        configuration c: ModelConfiguration, tensor: (WeightSpec) throws -> HalfTensor
    ) throws -> GLMWeights {
        var loaded: [String: HalfTensor] = [:]
        for spec in WeightSpec.all(for: c) { loaded[spec.key] = try tensor(spec) }
        func matrix(_ key: String) -> WeightMatrix {
            let t = loaded[key]!
            return WeightMatrix(rows: t.shape[0], columns: t.shape[1], float16: t.values)
        }
        func vector(_ key: String) -> [Float] { loaded[key]!.values.map(Float.init) }

        let layers = (0..<c.numLayers).map { i in
            let p = "transformer.layers.\(i)."
            return LayerWeights(
                inputLayerNormWeight: vector(p + "input_layernorm.weight"),
                inputLayerNormBias: vector(p + "input_layernorm.bias"),
                queryKeyValue: matrix(p + "attention.query_key_value.weight"),
                queryKeyValueBias: vector(p + "attention.query_key_value.bias"),
                attentionDense: matrix(p + "attention.dense.weight"),
                attentionDenseBias: vector(p + "attention.dense.bias"),
                postAttentionLayerNormWeight: vector(p + "post_attention_layernorm.weight"),
                postAttentionLayerNormBias: vector(p + "post_attention_layernorm.bias"),
                denseHTo4H: matrix(p + "mlp.dense_h_to_4h.weight"),
                denseHTo4HBias: vector(p + "mlp.dense_h_to_4h.bias"),
                dense4HToH: matrix(p + "mlp.dense_4h_to_h.weight"),
                dense4HToHBias: vector(p + "mlp.dense_4h_to_h.bias"))
        }
        return GLMWeights(
            wordEmbeddings: matrix("transformer.word_embeddings.weight"),
            layers: layers,
            finalLayerNormWeight: vector("transformer.final_layernorm.weight"),
            finalLayerNormBias: vector("transformer.final_layernorm.bias"))
    }

    /// Bytes of weight data this rank holds.
    public var byteCount: Int {
        var total = wordEmbeddings.byteCount + (finalLayerNormWeight.count + finalLayerNormBias.count) * 4
        for l in layers {
            total += l.queryKeyValue.byteCount + l.attentionDense.byteCount + l.denseHTo4H.byteCount
                + l.dense4HToH.byteCount
            total += (l.inputLayerNormWeight.count + l.inputLayerNormBias.count + l.queryKeyValueBias.count
                + l.attentionDenseBias.count + l.postAttentionLayerNormWeight.count + l.postAttentionLayerNormBias.count
                + l.denseHTo4HBias.count + l.dense4HToHBias.count) * 4
        }
        return total
    }
}
