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

    public init(
        inputLayerNormWeight: [Float], inputLayerNormBias: [Float], queryKeyValue: WeightMatrix,
        queryKeyValueBias: [Float], attentionDense: WeightMatrix, attentionDenseBias: [Float],
        postAttentionLayerNormWeight: [Float], postAttentionLayerNormBias: [Float], denseHTo4H: WeightMatrix,
        denseHTo4HBias: [Float], dense4HToH: WeightMatrix, dense4HToHBias: [Float]
    ) {
        self.inputLayerNormWeight = inputLayerNormWeight
        self.inputLayerNormBias = inputLayerNormBias
        self.queryKeyValue = queryKeyValue
        self.queryKeyValueBias = queryKeyValueBias
        self.attentionDense = attentionDense
        self.attentionDenseBias = attentionDenseBias
        self.postAttentionLayerNormWeight = postAttentionLayerNormWeight
        self.postAttentionLayerNormBias = postAttentionLayerNormBias
        self.denseHTo4H = denseHTo4H
        self.denseHTo4HBias = denseHTo4HBias
        self.dense4HToH = dense4HToH
        self.dense4HToHBias = dense4HToHBias
    }
}

/// All weights one rank needs. Norm and linear biases an architecture does not have are empty arrays.
public struct GLMWeights: Sendable {
    public var wordEmbeddings: WeightMatrix
    public var layers: [LayerWeights]
    public var finalLayerNormWeight: [Float]
    public var finalLayerNormBias: [Float]
    /// This rank's vocabulary rows of the output layer; nil when it is tied to `wordEmbeddings`.
    public var outputLayer: WeightMatrix?

    public init(
        wordEmbeddings: WeightMatrix, layers: [LayerWeights], finalLayerNormWeight: [Float],
        finalLayerNormBias: [Float], outputLayer: WeightMatrix? = nil
    ) {
        self.wordEmbeddings = wordEmbeddings
        self.layers = layers
        self.finalLayerNormWeight = finalLayerNormWeight
        self.finalLayerNormBias = finalLayerNormBias
        self.outputLayer = outputLayer
    }

    /// The matrix of the last product: the output layer, or the tied word embeddings.
    public var logitsMatrix: WeightMatrix { outputLayer ?? wordEmbeddings }

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
        var total =
            wordEmbeddings.byteCount + (outputLayer?.byteCount ?? 0)
            + (finalLayerNormWeight.count + finalLayerNormBias.count) * 4
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
