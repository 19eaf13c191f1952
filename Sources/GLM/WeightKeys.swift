import Configuration
import Partitioning

extension WeightSpec {
    /// Every key of a GLM checkpoint in state-dict order, with global (MP=1) shapes and split layouts (spec
    /// sections 3 and 4); the official quantized layers are marked quantizable.
    public static func all(for c: ModelConfiguration) -> [WeightSpec] {
        let h = c.hiddenSize
        let f = c.innerHiddenSize
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
                WeightSpec(key: p + "mlp.dense_h_to_4h.weight", shape: [2 * f, h], layout: .rowsGLU),
                WeightSpec(key: p + "mlp.dense_h_to_4h.bias", shape: [2 * f], layout: .rowsGLU),
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

    /// The official quantized layers (`QUANTIZED_LAYERS` of `tools/convert_tp.py`): the QKV, attention.dense,
    /// dense_h_to_4h and dense_4h_to_h weights. Embeddings, LayerNorms and biases stay fp16.
    public static let quantizedLayerNames = [
        "attention.dense.weight", "attention.query_key_value.weight", "mlp.dense_h_to_4h.weight",
        "mlp.dense_4h_to_h.weight",
    ]

    private static func isOfficiallyQuantized(_ key: String) -> Bool {
        key.hasPrefix("transformer.layers.") && quantizedLayerNames.contains { key.hasSuffix("." + $0) }
    }
}
