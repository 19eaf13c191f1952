import Checkpoint
import Configuration
import GLM
import Partitioning
import Tensors

/// Stored tensors into model weights: this rank's part of each tensor (read from a checkpoint, received over the
/// network, or generated) becomes the model's matrices and vectors.
extension GLMWeights {
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
        from checkpoint: any WeightStore, configuration c: ModelConfiguration, partition: Partition = .whole,
        quantization: QuantizationScheme? = nil
    ) throws -> GLMWeights {
        try checkLayers(of: checkpoint, configuration: c)
        let wholeRows = Architecture.of(c).quantizesWholeRows && partition.count > 1
        return try assembleParts(configuration: c, quantization: quantization) { spec in
            if spec.isQuantizable, try checkpoint.isQuantized(spec.key) {
                let part = try checkpoint.quantizedTensor(
                    spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                let matrix = WeightMatrix(part)
                if let quantization, quantization.format != matrix.format {
                    throw QuantizationError(
                        description: "\(checkpoint.weightFiles[0].path): '\(spec.key)' is already quantized "
                            + "to \(part.bits) bits; it cannot be re-quantized to \(quantization.rawValue) (load it "
                            + "without --quantize, or quantize an fp16 checkpoint)")
                }
                return .matrix(matrix)
            }
            if let quantization, wholeRows, spec.isQuantizable, spec.layout == .columns {
                // The whole matrix for whole-row scales, then this rank's columns of its levels.
                let whole = try checkpoint.tensor(
                    spec.key, globalShape: spec.shape, layout: spec.layout, partition: .whole)
                return .matrix(try Self.quantizedColumns(whole, of: partition, scheme: quantization, key: spec.key))
            }
            return .tensor(
                try checkpoint.tensor(spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition))
        }
    }

    /// `partition`'s columns of `whole` quantized with each row's scale taken over the whole row (one scale per
    /// row, groups 1).
    static func quantizedColumns(
        _ whole: HalfTensor, of partition: Partition, scheme: QuantizationScheme, key: String
    ) throws -> WeightMatrix {
        let (rows, columns) = (whole.shape[0], whole.shape[1])
        let width = columns / partition.count
        guard scheme != .int4 || width % 2 == 0 else {
            throw QuantizationError(
                description: "'\(key)': int4 packs two columns per byte, but this rank's shard has \(width) columns; "
                    + "choose a tensor-parallel degree that leaves an even number")
        }
        let (levels, scales) = whole.values.withUnsafeBufferPointer {
            Quantization.quantizeRows($0, rows: rows, columns: columns, scheme: scheme)
        }
        var local = [Int8]()
        local.reserveCapacity(rows * width)
        let start = partition.index * width
        for row in 0..<rows {
            local += levels[(row * columns + start)..<(row * columns + start + width)]
        }
        switch scheme {
        case .int8:
            return WeightMatrix(rows: rows, columns: width, storage: .int8(values: local, scales: scales, groups: 1))
        case .int4:
            return WeightMatrix(
                rows: rows, columns: width,
                storage: .int4(packed: Quantization.packInt4(local), scales: scales, groups: 1))
        }
    }

    /// Refuses a checkpoint with more layers than the configuration (its extra layers would be silently ignored);
    /// fewer layers are found as the first missing tensor.
    static func checkLayers(of checkpoint: any WeightStore, configuration c: ModelConfiguration) throws {
        let names = Architecture.of(c).names
        let layers = try checkpoint.tensorKeys().compactMap { names.layerIndex(of: $0) }
        if let highest = layers.max(), highest >= c.numLayers {
            throw WeightValueError(
                description: "\((checkpoint as? ReleaseCheckpoint)?.directory.path ?? checkpoint.weightFiles[0].path) "
                    + "holds \(highest + 1) layers but the "
                    + "configuration has num_layers = \(c.numLayers); the layers beyond it would be ignored (check "
                    + "config.json)")
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

    /// Refuses a tensor holding NaN or infinity (a damaged or wrongly converted checkpoint): the model would
    /// generate garbage and exit 0. Scans fp16 values and quantized matrices' scales.
    static func checkFinite(_ part: Part, key: String) throws {
        func scan(_ values: [Float16]) throws {
            let index = values.withUnsafeBufferPointer {
                $0.withMemoryRebound(to: UInt16.self) {
                    VectorKernels.firstNonFiniteHalf($0.baseAddress!, count: $0.count)
                }
            }
            if let index {
                throw WeightValueError(
                    description: "tensor '\(key)' holds \(values[index]) at element \(index) of this rank's part; a "
                        + "checkpoint's weights must be finite (is the file damaged?)")
            }
        }
        switch part {
        case .tensor(let tensor) where !tensor.values.isEmpty: try scan(tensor.values)
        case .matrix(let matrix):
            switch matrix.storage {
            case .int8(_, let scales, _), .int4(_, let scales, _): if !scales.isEmpty { try scan(scales) }
            case .float16(let values): if !values.isEmpty { try scan(values) }
            default: break
            }
        default: break
        }
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
            let part = try part(spec)
            try checkFinite(part, key: spec.key)
            switch part {
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
        // Biases the architecture does not have are empty.
        func vector(_ key: String) -> [Float] { vectors[key] ?? [] }

        let n = Architecture.of(c).names
        let layers = (0..<c.numLayers).map { i in
            let p = n.layer(i)
            return LayerWeights(
                inputLayerNormWeight: vector(p + n.inputNorm + ".weight"),
                inputLayerNormBias: vector(p + n.inputNorm + ".bias"),
                queryKeyValue: matrix(p + n.queryKeyValue + ".weight"),
                queryKeyValueBias: vector(p + n.queryKeyValue + ".bias"),
                attentionDense: matrix(p + n.attentionDense + ".weight"),
                attentionDenseBias: vector(p + n.attentionDense + ".bias"),
                postAttentionLayerNormWeight: vector(p + n.postAttentionNorm + ".weight"),
                postAttentionLayerNormBias: vector(p + n.postAttentionNorm + ".bias"),
                denseHTo4H: matrix(p + n.denseHTo4H + ".weight"),
                denseHTo4HBias: vector(p + n.denseHTo4H + ".bias"),
                dense4HToH: matrix(p + n.dense4HToH + ".weight"),
                dense4HToHBias: vector(p + n.dense4HToH + ".bias"))
        }
        return GLMWeights(
            wordEmbeddings: matrix(n.wordEmbeddings),
            layers: layers,
            finalLayerNormWeight: vector(n.finalNorm + ".weight"),
            finalLayerNormBias: vector(n.finalNorm + ".bias"),
            outputLayer: n.outputLayer.map(matrix))
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

/// Weights that cannot be used as they are (non-finite values, more layers than configured); the message names the
/// tensor or file.
public struct WeightValueError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}
