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
    ///
    /// Official quantized checkpoints (`tools/convert_tp.py --quantization-bit-width 8|4`: int8 under the weight
    /// key, fp16 `<key>_scale`) are recognised per key and loaded at any partition count as `.int8`/`.int4`
    /// matrices; a row-parallel weight keeps one scale per (row, source-shard column block), see
    /// `ShardedCheckpoint.quantizedTensor`.
    ///
    /// - Parameter quantization: quantize the fp16 QKV, attention.dense, dense_h_to_4h and dense_4h_to_h weights
    ///   of this rank's LOCAL shard as they arrive (the official `quantize(model, bits)` at load time). A
    ///   checkpoint already quantized with the same bit width is loaded as it is; another bit width is an error.
    public static func load(
        from checkpoint: ShardedCheckpoint, configuration c: ModelConfiguration, partition: Partition = .whole,
        quantization: QuantizationScheme? = nil
    ) throws -> GLMWeights {
        try assembleParts(configuration: c, quantization: quantization) { spec in
            if spec.isQuantizable, try checkpoint.isQuantized(spec.key) {
                let part = try checkpoint.quantizedTensor(
                    spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                let matrix = WeightMatrix(part)
                if let quantization, quantization.format != matrix.format {
                    throw QuantizationError(
                        description: "\(checkpoint.directory.shardURLs[0].path): '\(spec.key)' is already quantized "
                            + "to \(part.bits) bits; it cannot be re-quantized to \(quantization.rawValue) (load it "
                            + "without --quantize, or quantize an fp16 checkpoint)")
                }
                return .matrix(matrix)
            }
            return .tensor(
                try checkpoint.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition))
        }
    }

    /// Builds the weights from `tensor`, called once per `WeightSpec` in checkpoint order with the spec of the
    /// tensor wanted; it returns this rank's part (how it gets it - checkpoint, network - is the caller's choice).
    /// With `quantization`, the quantizable fp16 matrices are quantized (per local shard) as they arrive.
    public static func assemble(
        configuration c: ModelConfiguration, quantization: QuantizationScheme? = nil,
        tensor: (WeightSpec) throws -> HalfTensor
    ) throws -> GLMWeights {
        try assembleParts(configuration: c, quantization: quantization) { .tensor(try tensor($0)) }
    }

    /// One tensor handed to `assembleParts`: fp16 as stored, or a matrix already in its final format.
    public enum Part {
        case tensor(HalfTensor)
        case matrix(WeightMatrix)
    }

    /// As `assemble`, for parts that may already be matrices (quantized checkpoints). Each part is converted to
    /// its final form on arrival (fp16 copies of quantized weights are dropped at once), so peak memory stays
    /// about one tensor above the result.
    public static func assembleParts(
        configuration c: ModelConfiguration, quantization: QuantizationScheme? = nil,
        part: (WeightSpec) throws -> Part
    ) throws -> GLMWeights {
        var matrices: [String: WeightMatrix] = [:]
        var vectors: [String: [Float]] = [:]
        for spec in WeightSpec.all(for: c) {
            switch try part(spec) {
            case .matrix(let m):
                matrices[spec.key] = m
            case .tensor(let t) where t.shape.count == 2:
                let m = WeightMatrix(rows: t.shape[0], columns: t.shape[1], float16: t.values)
                if let quantization, spec.isQuantizable {
                    guard quantization != .int4 || m.columns % 2 == 0 else {
                        throw QuantizationError(
                            description: "'\(spec.key)': int4 packs two columns per byte, but this rank's shard has "
                                + "\(m.columns) columns; choose a tensor-parallel degree that leaves an even number")
                    }
                    matrices[spec.key] = Quantization.quantize(m, scheme: quantization)
                    FreedHeapPages.release()
                } else {
                    matrices[spec.key] = m
                }
            case .tensor(let t):
                vectors[spec.key] = t.values.map(Float.init)
            }
        }
        func matrix(_ key: String) -> WeightMatrix { matrices[key]! }
        func vector(_ key: String) -> [Float] { vectors[key]! }

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

    /// These weights with the quantizable matrices (QKV, attention.dense, dense_h_to_4h, dense_4h_to_h) quantized
    /// as they are held: this rank's local shards, one scale per row (the official load-time `quantize`).
    /// Matrices already in `scheme`'s format stay as they are; another quantized format is an error.
    public func quantized(_ scheme: QuantizationScheme) throws -> GLMWeights {
        var result = self
        for index in result.layers.indices {
            func convert(_ matrix: WeightMatrix, _ name: String) throws -> WeightMatrix {
                switch matrix.format {
                case .int8, .int4:
                    guard matrix.format == scheme.format else {
                        throw QuantizationError(
                            description: "layer \(index) \(name) is already \(matrix.format.rawValue); it cannot be "
                                + "re-quantized to \(scheme.rawValue)")
                    }
                    return matrix
                default:
                    guard scheme != .int4 || matrix.columns % 2 == 0 else {
                        throw QuantizationError(
                            description: "layer \(index) \(name): int4 packs two columns per byte, but this rank's "
                                + "shard has \(matrix.columns) columns")
                    }
                    return Quantization.quantize(matrix, scheme: scheme)
                }
            }
            var layer = result.layers[index]
            layer.queryKeyValue = try convert(layer.queryKeyValue, "attention.query_key_value.weight")
            layer.attentionDense = try convert(layer.attentionDense, "attention.dense.weight")
            layer.denseHTo4H = try convert(layer.denseHTo4H, "mlp.dense_h_to_4h.weight")
            layer.dense4HToH = try convert(layer.dense4HToH, "mlp.dense_4h_to_h.weight")
            result.layers[index] = layer
        }
        return result
    }

    /// Bytes of weight data this rank holds.
    public var byteCount: Int {
        var total = wordEmbeddings.byteCount + (finalLayerNormWeight.count + finalLayerNormBias.count) * 4
        for l in layers {
            total +=
                l.queryKeyValue.byteCount + l.attentionDense.byteCount + l.denseHTo4H.byteCount
                + l.dense4HToH.byteCount
            total +=
                (l.inputLayerNormWeight.count + l.inputLayerNormBias.count + l.queryKeyValueBias.count
                    + l.attentionDenseBias.count + l.postAttentionLayerNormWeight.count
                    + l.postAttentionLayerNormBias.count
                    + l.denseHTo4HBias.count + l.dense4HToHBias.count) * 4
        }
        return total
    }
}

/// A quantization request that cannot be honoured (a checkpoint quantized with another bit width).
public struct QuantizationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

extension WeightSpec {
    /// The official quantized layers (`QUANTIZED_LAYERS` of `tools/convert_tp.py`): the QKV, attention.dense,
    /// dense_h_to_4h and dense_4h_to_h weights. Embeddings, LayerNorms and biases stay fp16.
    public static let quantizedLayerNames = [
        "attention.dense.weight", "attention.query_key_value.weight", "mlp.dense_h_to_4h.weight",
        "mlp.dense_4h_to_h.weight",
    ]

    /// Whether the official scheme quantizes this weight.
    public var isQuantizable: Bool {
        key.hasPrefix("transformer.layers.") && Self.quantizedLayerNames.contains { key.hasSuffix("." + $0) }
    }
}

extension WeightMatrix {
    /// A quantized checkpoint part as a matrix (`.int8`, or `.int4` with the official packing kept as is).
    public init(_ part: QuantizedTensor) {
        let (rows, columns) = (part.shape[0], part.shape[1])
        if part.bits == 8 {
            self.init(
                rows: rows, columns: columns,
                storage: .int8(values: part.values, scales: part.scales, groups: part.groups))
        } else {
            let packed = part.values.withUnsafeBytes { [UInt8]($0) }
            self.init(
                rows: rows, columns: columns, storage: .int4(packed: packed, scales: part.scales, groups: part.groups))
        }
    }
}
