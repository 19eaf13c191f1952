import Checkpoint
import Configuration
import GLM
import ModelLoading
import Partitioning
import Tensors

/// Random GLM weights of any size, built by each rank for its own tensor-parallel partition only.
///
/// Every element is a pure function of `(seed, tensor, global index)` (a SplitMix64 hash, counter-based), so a
/// rank generates exactly its slice, in parallel over rows, and the slices of any partition count tile the same
/// global model. Values are uniform with the variances `RandomWeights` uses (unit embedding rows, projections
/// scaled by gain/sqrt(fan-in), LayerNorm gains near one, small biases, a final LayerNorm gain of 4/sqrt(h)), so
/// activations and logits stay in a realistic range. Meant for benchmarks: no tokenizer ids are special.
enum PartitionedRandomWeights {
    /// This rank's weights: matrices stored as `format` (generated straight into it, so no second copy of a
    /// matrix is ever held; the peak is the result plus nothing), the layer matrices quantized per local shard as
    /// they are built when `quantization` is given (from fp16, as a checkpoint would be).
    static func generate(
        configuration c: ModelConfiguration, partition: Partition, seed: UInt64, quantization: QuantizationScheme?,
        format: WeightFormat = .float16
    ) throws -> GLMWeights {
        let specs = WeightSpec.all(for: c)
        let index = Dictionary(uniqueKeysWithValues: specs.enumerated().map { ($1.key, UInt64($0)) })
        return try GLMWeights.assembleParts(configuration: c, quantization: quantization) { spec in
            let tensorIndex = index[spec.key]!
            let quantized = quantization != nil && spec.isQuantizable
            guard spec.shape.count == 2, !quantized, format != .float16 else {
                let (shape, values) = slice(
                    spec, tensorIndex: tensorIndex, configuration: c, partition: partition, seed: seed,
                    storeRow: narrowToHalf, zero: Float16(0))
                return .tensor(HalfTensor(shape: shape, values: values))
            }
            switch format {
            case .float32:
                // The fp32 value of the fp16 weight, as converting an fp16 checkpoint would give.
                let (shape, values) = slice(
                    spec, tensorIndex: tensorIndex, configuration: c, partition: partition, seed: seed,
                    storeRow: { (row: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int) in
                        out.withMemoryRebound(to: Float16.self, capacity: count) { half in
                            narrowToHalf(row, half, count)
                            half.withMemoryRebound(to: UInt16.self, capacity: count) {
                                VectorKernels.widenHalf($0, into: out, count: count)
                            }
                        }
                    }, zero: 0)
                return .matrix(WeightMatrix(rows: shape[0], columns: shape[1], storage: .float32(values)))
            case .bfloat16:
                // bf16 of the fp16 value, as converting an fp16 checkpoint would give.
                let (shape, values) = slice(
                    spec, tensorIndex: tensorIndex, configuration: c, partition: partition, seed: seed,
                    storeRow: { (row: UnsafePointer<Float>, out: UnsafeMutablePointer<UInt16>, count: Int) in
                        for j in 0..<count { out[j] = bfloat16Bits(Float(Float16(row[j]))) }
                    }, zero: 0)
                return .matrix(WeightMatrix(rows: shape[0], columns: shape[1], storage: .bfloat16(values)))
            default:
                throw WeightConversionError(
                    description: "\(format.rawValue) is a quantized format: quantize with --quantize, not --dtype")
            }
        }
    }

    /// fp32 to fp16, rounded to nearest even, with the vector kernel (F16C where present): the same bits as
    /// `Float16(_:)`, whose software conversion (`__truncsfhf2` on x86 without a -target-cpu) took a quarter of
    /// building the 1B model's weights.
    @Sendable
    static func narrowToHalf(_ row: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float16>, _ count: Int) {
        out.withMemoryRebound(to: UInt16.self, capacity: count) {
            VectorKernels.narrowToHalf(row, into: $0, count: count)
        }
    }

    /// The standard deviation and mean of a tensor's elements.
    static func distribution(of spec: WeightSpec, configuration c: ModelConfiguration) -> (scale: Float, offset: Float)
    {
        let key = spec.key
        if key.hasSuffix("word_embeddings.weight") { return (1, 0) }
        if key.hasSuffix("final_layernorm.weight") { return (4 / Float(c.hiddenSize).squareRoot(), 0) }
        if key.hasSuffix("layernorm.weight") { return (0.1, 1) }
        if key.hasSuffix(".bias") { return (0.1, 0) }
        let fanIn = Float(spec.shape[1])
        let gain: Float = key.contains("query_key_value") ? 1.5 : key.contains("dense_h_to_4h") ? 1 : 3
        return (gain / fanIn.squareRoot(), 0)
    }

    /// The part of `spec` that `partition` holds, in the order `ShardedCheckpoint.tensor` returns it: its local
    /// shape and its values, generated a row at a time as fp32 and passed through `storeRow(row, out, count)`,
    /// which writes them as the element type the caller keeps.
    static func slice<Element>(
        _ spec: WeightSpec, tensorIndex: UInt64, configuration c: ModelConfiguration, partition: Partition,
        seed: UInt64,
        storeRow: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Element>, Int) -> Void, zero: Element
    ) -> (shape: [Int], values: [Element]) {
        let globalRows = spec.shape[0]
        let globalColumns = spec.shape.count > 1 ? spec.shape[1] : 1
        let p = partition
        // Global row ranges (in output order) and the global column range this partition holds.
        var rowRanges = [0..<globalRows]
        var columnRange = 0..<globalColumns
        switch spec.layout {
        case .replicated:
            break
        case .rows:
            let rows = globalRows / p.count
            rowRanges = [(p.index * rows)..<((p.index + 1) * rows)]
        case .rowsGLU:
            let half = globalRows / 2
            let rows = half / p.count
            rowRanges = [0, half].map { ($0 + p.index * rows)..<($0 + (p.index + 1) * rows) }
        case .groupedQueryKeyValue:
            // Query heads, then the key and value heads of the groups this partition uses.
            rowRanges = ((try? spec.boxes(of: p)) ?? []).map { $0[0] }
        case .columns:
            if spec.shape.count > 1 {
                let columns = globalColumns / p.count
                columnRange = (p.index * columns)..<((p.index + 1) * columns)
            } else {
                let rows = globalRows / p.count
                rowRanges = [(p.index * rows)..<((p.index + 1) * rows)]
            }
        }
        let localRows = rowRanges.reduce(0) { $0 + $1.count }
        let width = columnRange.count
        var shape = spec.shape
        shape[0] = localRows
        if shape.count > 1 { shape[1] = width }

        let (scale, offset) = distribution(of: spec, configuration: c)
        // Uniform on [-sqrt 3, sqrt 3) has unit variance.
        let amplitude = scale * Float(3).squareRoot()
        let stream = mix(seed ^ mix(tensorIndex &+ 0x5EED))
        let globalRowOf: [Int] = rowRanges.flatMap { Array($0) }
        var values = [Element](repeating: zero, count: localRows * width)
        values.withUnsafeMutableBufferPointer { buffer in
            let out = UncheckedPointer(buffer.baseAddress!)
            ComputeThreads.parallelFor(localRows, minimumChunk: max(1, 4096 / max(width, 1))) { rows in
                var generated = [Float](repeating: 0, count: width)
                generated.withUnsafeMutableBufferPointer { generated in
                    for r in rows {
                        let base = UInt64(globalRowOf[r] * globalColumns + columnRange.lowerBound)
                        for j in 0..<width {
                            let bits = mix(stream &+ (base &+ UInt64(j)) &* 0x9E37_79B9_7F4A_7C15)
                            // Top 24 bits to [-1, 1).
                            let unit = Float(Int32(truncatingIfNeeded: bits >> 40) - (1 << 23)) * 0x1p-23
                            generated[j] = offset + amplitude * unit
                        }
                        storeRow(UnsafePointer(generated.baseAddress!), out.pointer + r * width, width)
                    }
                }
            }
        }
        return (shape, values)
    }

    /// SplitMix64's finaliser: a bijective 64-bit mix.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` token ids in `[0, vocabularySize)`, the same on every rank for a seed.
    static func tokens(count: Int, vocabularySize: Int, seed: UInt64) -> [Int] {
        var random = SeededRandomSource(seed: seed)
        return (0..<count).map { _ in Int(random.next() % UInt64(vocabularySize)) }
    }
}

/// A pointer handed to the worker threads of `ComputeThreads.parallelFor`, which write disjoint ranges of it and
/// finish before the call returns.
struct UncheckedPointer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    init(_ pointer: UnsafeMutablePointer<Element>) { self.pointer = pointer }
}
