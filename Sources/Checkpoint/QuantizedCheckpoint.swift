import Partitioning

/// Reading official weight-only quantized checkpoints, as THUDM/GLM-130B `tools/convert_tp.py
/// --quantization-bit-width 8|4` writes them: for the quantized weights (QKV, attention.dense, dense_h_to_4h,
/// dense_4h_to_h) the weight key holds an int8 tensor - `[out/p, in]` levels, or for 4 bits `[out/p, in/2]` bytes
/// with element 2i in the high nibble (`[out, in/p]` and `[out, in/(2p)]` for the row-parallel layers) - and
/// `<key>_scale` holds one fp16 scale per output row of that shard (`[out/p]`, or `[out]` for row-parallel layers).
/// Each shard was quantized on its own, so a row-parallel layer's scales differ from shard to shard.
extension ShardedCheckpoint {
    /// The key of a quantized weight's scales: `<key>_scale` (e.g. `...attention.dense.weight_scale`).
    public static func scaleKey(_ key: String) -> String { key + "_scale" }

    /// Whether `key` is stored quantized (checked in shard 0): an int8 tensor under the key together with a
    /// `<key>_scale` tensor. One without the other is an error naming key and file.
    public func isQuantized(_ key: String) throws(CheckpointError) -> Bool {
        let file = try shard(0)
        return try isQuantizedWeight(
            key, dtype: file.tensor(named: key).dtype, hasScale: file.contains(Self.scaleKey(key)), path: file.path,
            holder: "the file")
    }

    /// `partition` of the quantized weight `key`, whose logical (MP=1, unpacked) shape is `globalShape`
    /// `[rows, columns]`. The bit width (8 or 4) is read from the stored shape.
    ///
    /// - `rows` and `rowsGLU` (column-parallel layers): rows and their scales are split or merged together; the
    ///   result has one scale per row (groups 1) at any partition count.
    /// - `columns` (row-parallel layers): each source shard's column block keeps its own scales. A partition gets
    ///   `groups` equal column groups, each inside one source shard: groups = M/N when N ranks merge M shards,
    ///   1 when N is a multiple of M (in general `(columns/N) / gcd(columns/M, columns/N)`). With 4 bits every
    ///   group boundary must fall on a byte boundary, or the split is an error.
    public func quantizedTensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition = .whole
    ) throws(CheckpointError) -> QuantizedTensor {
        guard globalShape.count == 2, layout != .replicated else {
            throw .invalidSharding(
                key: key, detail: "a quantized weight is a split 2-D matrix, not \(layout) \(globalShape)")
        }
        guard partition.count >= 1, (0..<partition.count).contains(partition.index) else {
            throw .invalidSharding(key: key, detail: "\(partition) is not a valid partition")
        }
        let (rows, columns) = (globalShape[0], globalShape[1])
        let shards = shardCount
        let splitExtent = layout == .columns ? columns : rows
        let halves = layout == .rowsGLU ? 2 : 1
        guard splitExtent % (halves * shards) == 0, splitExtent % (halves * partition.count) == 0 else {
            throw .invalidSharding(
                key: key,
                detail: "dimension \(layout == .columns ? 1 : 0) of \(globalShape) cannot be split evenly into "
                    + "\(shards) shards and \(partition.count) partitions")
        }
        // The bit width, from shard 0's stored shape against the shard's logical shape.
        let first = try shard(0)
        let logicalShard = layout == .columns ? [rows, columns / shards] : [rows / shards, columns]
        let stored = try first.tensor(named: key).shape
        let bits: Int
        if stored == logicalShard {
            bits = 8
        } else if stored.count == 2, stored[0] == logicalShard[0], stored[1] * 2 == logicalShard[1] {
            bits = 4
        } else {
            throw .invalidQuantization(
                path: first.path, key: key,
                detail: "shape \(stored) fits neither int8 \(logicalShard) nor packed int4 "
                    + "\([logicalShard[0], logicalShard[1] / 2]) (global shape \(globalShape) over \(shards) shards)")
        }
        let perByte = 8 / bits
        let scaleKey = Self.scaleKey(key)

        if layout != .columns {
            let values = try int8Tensor(
                key, globalShape: [rows, columns / perByte], layout: layout, partition: partition)
            let scales = try tensor(scaleKey, globalShape: [rows], layout: layout, partition: partition)
            return QuantizedTensor(
                shape: [rows / partition.count, columns], bits: bits, values: values.values, scales: scales.values,
                groups: 1)
        }

        let perShard = columns / shards
        let perPartition = columns / partition.count
        let groupWidth = greatestCommonDivisor(perShard, perPartition)
        let groups = perPartition / groupWidth
        guard groupWidth % perByte == 0 else {
            throw .invalidQuantization(
                path: first.path, key: key,
                detail: "packed int4 columns cannot be split here: \(perShard) columns per source shard (MP=\(shards)) "
                    + "and \(perPartition) per rank (\(partition.count) ranks) put a block boundary inside a byte")
        }
        let rowBytes = perPartition / perByte
        var values = [Int8](repeating: 0, count: rows * rowBytes)
        var scales = [Float16](repeating: 0, count: rows * groups)
        let wanted = partition.index * perPartition..<(partition.index + 1) * perPartition
        for source in wanted.lowerBound / perShard...(wanted.upperBound - 1) / perShard {
            let covered = source * perShard..<(source + 1) * perShard
            let overlap = wanted.clamped(to: covered)
            let file = try shard(source)
            try check(file, key, expected: [rows, perShard / perByte])
            let start = (overlap.lowerBound - covered.lowerBound) / perByte
            let block = try file.int8(key, region: [0..<rows, start..<start + overlap.count / perByte])
            Self.place(
                block, extent: overlap.count / perByte, into: &values, shape: [rows, rowBytes], dimension: 1,
                at: (overlap.lowerBound - wanted.lowerBound) / perByte)
            let scaleTensor = try file.tensor(named: scaleKey)
            guard scaleTensor.shape == [rows] else {
                throw .shapeMismatch(path: file.path, key: scaleKey, expected: [rows], found: scaleTensor.shape)
            }
            let shardScales = try file.float16(scaleKey)
            let groupRange =
                (overlap.lowerBound - wanted.lowerBound) / groupWidth..<(overlap.upperBound - wanted.lowerBound)
                / groupWidth
            for row in 0..<rows {
                for group in groupRange { scales[row * groups + group] = shardScales[row] }
            }
        }
        return QuantizedTensor(
            shape: [rows, perPartition], bits: bits, values: values, scales: scales, groups: groups)
    }
}

/// The official quantized releases of the ChatGLM family (THUDM/chatglm-6b-int4, -int8: `quantization_bit` in
/// config.json), as their `quantization.py` writes them: the same layout as one shard of GLM-130B's quantized
/// checkpoints (an int8 weight, `[out, in]` levels or `[out, in/2]` bytes with element 2i in the high nibble, and
/// `<key>_scale` with one fp16 scale per output row), each tensor in the file the index names.
extension ReleaseWeights {
    /// Whether `key` is stored quantized: int8 under the key with a `<key>_scale` beside it; one without the other
    /// is an error naming the key and file.
    public func isQuantized(_ key: String) throws(CheckpointError) -> Bool {
        let file = try weightFile(holding: key)
        return try isQuantizedWeight(
            key, dtype: file.stored(key).dtype, hasScale: contains(ShardedCheckpoint.scaleKey(key)),
            path: file.path, holder: "the release")
    }

    /// `partition` of the quantized weight `key` of logical shape `globalShape` `[rows, columns]`: rows and their
    /// scales for a column-parallel layer (`rows`, `rowsGLU`), a block of byte columns with every row's scale for a
    /// row-parallel one (`columns`; with 4 bits the block must start on a byte). One scale per row (groups 1).
    public func quantizedTensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition = .whole
    ) throws(CheckpointError) -> QuantizedTensor {
        guard globalShape.count == 2, layout != .replicated else {
            throw .invalidSharding(
                key: key, detail: "a quantized weight is a split 2-D matrix, not \(layout) \(globalShape)")
        }
        let (rows, columns) = (globalShape[0], globalShape[1])
        let file = try weightFile(holding: key)
        let stored = try file.stored(key).shape
        let bits: Int
        if stored == globalShape {
            bits = 8
        } else if stored == [rows, columns / 2], columns % 2 == 0 {
            bits = 4
        } else {
            throw .invalidQuantization(
                path: file.path, key: key,
                detail: "shape \(stored) fits neither int8 \(globalShape) nor packed int4 \([rows, columns / 2])")
        }
        let perByte = 8 / bits
        let storedSpec = WeightSpec(key: key, shape: [rows, columns / perByte], layout: layout)
        if layout == .columns {
            guard columns % (partition.count * perByte) == 0 else {
                throw .invalidQuantization(
                    path: file.path, key: key,
                    detail: "\(columns) packed int4 columns cannot be split into \(partition.count) parts on byte "
                        + "boundaries")
            }
        }
        var values: [Int8] = []
        for box in try ReleaseCheckpoint.boxes(
            of: partition.count == 1 ? storedSpec.replicatedCopy : storedSpec, partition: partition)
        {
            values += try file.int8(key, region: box)
        }
        let scaleKey = ShardedCheckpoint.scaleKey(key)
        let scaleFile = try weightFile(holding: scaleKey)
        let scaleShape = try scaleFile.stored(scaleKey).shape
        guard scaleShape == [rows] else {
            throw .shapeMismatch(path: scaleFile.path, key: scaleKey, expected: [rows], found: scaleShape)
        }
        let scales = try tensor(
            scaleKey, globalShape: [rows], layout: layout == .columns ? .replicated : layout, partition: partition)
        let partShape = WeightSpec(key: key, shape: [rows, columns], layout: layout).shape(of: partition)
        return QuantizedTensor(shape: partShape, bits: bits, values: values, scales: scales.values, groups: 1)
    }
}

extension WeightSpec {
    /// The same tensor, not split (a whole-tensor read).
    var replicatedCopy: WeightSpec { WeightSpec(key: key, shape: shape, layout: .replicated) }
}

/// Whether a weight stored as `dtype`, with or without its `<key>_scale` in `holder` ("the file", "the release"), is
/// quantized: int8 with a scale is, neither is not, one without the other is an error naming the key and `path`.
func isQuantizedWeight(
    _ key: String, dtype: ScalarType, hasScale: Bool, path: String, holder: String
) throws(CheckpointError) -> Bool {
    let scaleKey = ShardedCheckpoint.scaleKey(key)
    switch (dtype == .int8, hasScale) {
    case (false, false): return false
    case (true, true): return true
    case (true, false):
        throw .invalidQuantization(
            path: path, key: key,
            detail: "stored as int8 (a quantized weight) but \(holder) has no scale tensor '\(scaleKey)'")
    case (false, true):
        throw .invalidQuantization(
            path: path, key: key,
            detail: "\(holder) has a scale tensor '\(scaleKey)' but the weight is \(dtype.rawValue), not int8")
    }
}

func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
