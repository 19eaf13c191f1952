import Checkpoint
import FoundationEssentials
import GLM
import Partitioning

/// GLM-4 in transformers' own layout (`GlmForCausalLM`, glm-4-9b-chat-hf) seen under the original release's keys,
/// so that one architecture file loads both: the same tensors renamed (`model.layers.N.self_attn.o_proj` is
/// `transformer.encoder.layers.N.self_attention.dense`, ...), and the fused QKV projection of the original made of
/// the separate `q_proj`, `k_proj` and `v_proj` (rows stacked in that order, weights and biases alike).
/// `gate_up_proj` is `dense_h_to_4h` as it is: both put the gate half first.
public final class TransformersGLMWeights: Sendable {
    public let store: SafetensorsRelease

    /// Whether `store` holds transformers' GLM keys.
    public static func matches(_ store: SafetensorsRelease) -> Bool { store.contains("model.embed_tokens.weight") }

    public init(store: SafetensorsRelease) { self.store = store }

    /// The transformers keys that hold the original key `key`, in stacking order (three for a fused QKV).
    static func sourceKeys(of key: String) -> [String] {
        let original = WeightNames.chatGLM2
        switch key {
        case original.wordEmbeddings: return ["model.embed_tokens.weight"]
        case original.outputLayer: return ["lm_head.weight"]
        case original.finalNorm + ".weight": return ["model.norm.weight"]
        default: break
        }
        guard let layer = original.layerIndex(of: key) else { return [key] }
        let inside = String(key.dropFirst(original.layer(layer).count))
        let prefix = "model.layers.\(layer)."
        let renamed: [String: [String]] = [
            "input_layernorm.weight": ["input_layernorm.weight"],
            "post_attention_layernorm.weight": ["post_attention_layernorm.weight"],
            "self_attention.query_key_value.weight": [
                "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
            ],
            "self_attention.query_key_value.bias": [
                "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
            ],
            "self_attention.dense.weight": ["self_attn.o_proj.weight"],
            "mlp.dense_h_to_4h.weight": ["mlp.gate_up_proj.weight"],
            "mlp.dense_4h_to_h.weight": ["mlp.down_proj.weight"],
        ]
        return (renamed[inside] ?? [inside]).map { prefix + $0 }
    }

    /// The original key of a transformers key (nil for keys no original key reads).
    static func originalKey(of key: String) -> String? {
        let original = WeightNames.chatGLM2
        switch key {
        case "model.embed_tokens.weight": return original.wordEmbeddings
        case "lm_head.weight": return original.outputLayer
        case "model.norm.weight": return original.finalNorm + ".weight"
        default: break
        }
        let prefix = "model.layers."
        guard key.hasPrefix(prefix), let layer = Int(key.dropFirst(prefix.count).prefix { $0 != "." }) else {
            return nil
        }
        for inside in [
            "input_layernorm.weight", "post_attention_layernorm.weight", "self_attention.query_key_value.weight",
            "self_attention.query_key_value.bias", "self_attention.dense.weight", "mlp.dense_h_to_4h.weight",
            "mlp.dense_4h_to_h.weight",
        ] {
            let candidate = original.layer(layer) + inside
            if sourceKeys(of: candidate).contains(key) { return candidate }
        }
        return nil
    }
}

extension TransformersGLMWeights: WeightStore {
    public var weightFiles: [URL] { store.weightFiles }

    /// The original keys of every tensor (a fused QKV once).
    public func tensorKeys() -> [String] {
        Array(Set(store.keys.map { Self.originalKey(of: $0) ?? $0 })).sorted()
    }

    /// `partition` of the original tensor `key`: its boxes in the original's rows, each read from the
    /// transformers tensor that holds those rows.
    public func tensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition
    ) throws(CheckpointError) -> HalfTensor {
        let sources = Self.sourceKeys(of: key)
        guard sources.count > 1 else {
            return try store.tensor(sources[0], globalShape: globalShape, layout: layout, partition: partition)
        }
        // Fused QKV: the stacked sources' row counts give each one's rows in the original.
        var rows: [Int] = []
        for source in sources { rows.append(try store.file(holding: source).tensor(named: source).shape.first ?? 0) }
        guard rows.reduce(0, +) == globalShape.first else {
            throw .shapeMismatch(
                path: store.directory.path, key: sources.joined(separator: " + "), expected: globalShape,
                found: [rows.reduce(0, +)] + globalShape.dropFirst())
        }
        let spec = WeightSpec(key: key, shape: globalShape, layout: partition.count == 1 ? .replicated : layout)
        var values: [Float16] = []
        let boxes: [[Range<Int>]]
        do { boxes = try spec.boxes(of: partition) } catch {
            throw .invalidSharding(key: error.key, detail: error.detail)
        }
        for box in boxes {
            // Split the box at the sources' boundaries.
            var start = 0
            for (source, count) in zip(sources, rows) {
                let overlap = box[0].clamped(to: start..<start + count)
                if !overlap.isEmpty {
                    var region = box
                    region[0] = (overlap.lowerBound - start)..<(overlap.upperBound - start)
                    let file = try store.file(holding: source)
                    let stored = try file.tensor(named: source).shape
                    guard stored.count == globalShape.count, Array(stored.dropFirst()) == Array(globalShape.dropFirst())
                    else {
                        throw .shapeMismatch(
                            path: file.path, key: source, expected: [count] + globalShape.dropFirst(), found: stored)
                    }
                    values += try file.float16(source, region: region)
                }
                start += count
            }
        }
        return HalfTensor(shape: spec.shape(of: partition), values: values)
    }

    public func isQuantized(_ key: String) -> Bool { false }

    public func quantizedTensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition
    ) throws(CheckpointError) -> QuantizedTensor {
        try store.quantizedTensor(key, globalShape: globalShape, layout: layout, partition: partition)
    }

    public func fingerprint() throws(CheckpointError) -> String { try store.fingerprint() }
}
