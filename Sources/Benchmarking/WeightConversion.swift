import GLM
import Tensors

/// Why weights cannot be converted as asked.
struct WeightConversionError: Error, CustomStringConvertible {
    var description: String
}

extension WeightMatrix {
    /// This matrix stored as `format` (fp32 exactly, fp16 rounded to nearest, bf16 rounded to nearest even); a
    /// quantized matrix stays as it is (quantization happens on loading, see `BenchCommand`).
    func converted(to format: WeightFormat) throws -> WeightMatrix {
        if format == self.format || self.format == .int8 || self.format == .int4 { return self }
        let count = rows * columns
        if format == .float32 {
            var wide = [Float](repeating: 0, count: count)
            wide.withUnsafeMutableBufferPointer { widenRows(0, count: rows, into: $0.baseAddress!) }
            return WeightMatrix(rows: rows, columns: columns, storage: .float32(wide))
        }
        // 16-bit targets are filled a block of rows at a time through a small fp32 buffer, so converting the
        // 150528-row embedding never holds a whole fp32 copy of it.
        let blockRows = max(1, min(rows, (1 << 20) / max(columns, 1)))
        var block = [Float](repeating: 0, count: blockRows * columns)
        func fill<T>(_ convert: (Float) -> T, zero: T) -> [T] {
            var output = [T](repeating: zero, count: count)
            var start = 0
            while start < rows {
                let n = min(blockRows, rows - start)
                block.withUnsafeMutableBufferPointer { widenRows(start, count: n, into: $0.baseAddress!) }
                for i in 0..<(n * columns) { output[start * columns + i] = convert(block[i]) }
                start += n
            }
            return output
        }
        switch format {
        case .float32:
            fatalError("handled above")
        case .float16:
            return WeightMatrix(rows: rows, columns: columns, storage: .float16(fill({ Float16($0) }, zero: 0)))
        case .bfloat16:
            return WeightMatrix(rows: rows, columns: columns, storage: .bfloat16(fill(bfloat16Bits, zero: 0)))
        case .int8, .int4:
            throw WeightConversionError(
                description: "\(format.rawValue) is a quantized format: quantize with --quantize, not --dtype")
        }
    }
}

/// fp32 to bf16 bits, rounding to nearest even (NaN stays NaN).
@inline(__always)
func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
    let rounding = 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
}

extension GLMWeights {
    /// Every weight matrix that is not quantized (the embedding and the logits projection included) stored as
    /// `format`, one matrix at a time so the peak memory is the result plus one matrix.
    mutating func convert(to format: WeightFormat) throws {
        wordEmbeddings = try wordEmbeddings.converted(to: format)
        outputLayer = try outputLayer?.converted(to: format)
        for i in layers.indices {
            layers[i].queryKeyValue = try layers[i].queryKeyValue.converted(to: format)
            layers[i].attentionDense = try layers[i].attentionDense.converted(to: format)
            layers[i].denseHTo4H = try layers[i].denseHTo4H.converted(to: format)
            layers[i].dense4HToH = try layers[i].dense4HToH.converted(to: format)
        }
    }

    /// Bytes one decoded token reads from the weights: every layer's matrices plus the logits projection (the
    /// output layer, or the tied embedding); the embedding lookup of one row and the small vectors are left out.
    var decodeBytesPerToken: Int {
        layers.reduce(logitsMatrix.byteCount) {
            $0 + $1.queryKeyValue.byteCount + $1.attentionDense.byteCount + $1.denseHTo4H.byteCount
                + $1.dense4HToH.byteCount
        }
    }

    /// Multiply-adds per token of the layer matrices (the logits projection excluded: prefill runs it once).
    var layerWeightParameters: Int {
        layers.reduce(0) {
            $0 + $1.queryKeyValue.rows * $1.queryKeyValue.columns + $1.attentionDense.rows * $1.attentionDense.columns
                + $1.denseHTo4H.rows * $1.denseHTo4H.columns + $1.dense4HToH.rows * $1.dense4HToH.columns
        }
    }
}
