/// One tensor of a model's state dict: its key, its global (unsplit) shape, how tensor parallelism splits it, and
/// whether the model's weight-only quantization applies to it. The model lists its specs; checkpoint readers,
/// writers and the weight stream use them without knowing the model.
public struct WeightSpec: Sendable, Equatable {
    public let key: String
    public let shape: [Int]
    public let layout: ShardLayout
    /// Whether weight-only quantization (int8/int4 with per-row scales) applies to this tensor.
    public let isQuantizable: Bool

    public init(key: String, shape: [Int], layout: ShardLayout, isQuantizable: Bool = false) {
        self.key = key
        self.shape = shape
        self.layout = layout
        self.isQuantizable = isQuantizable
    }

    /// The shape of `partition` of this tensor (the whole shape for replicated tensors).
    public func shape(of partition: Partition) -> [Int] {
        guard layout != .replicated, !shape.isEmpty else { return shape }
        var part = shape
        if case .groupedQueryKeyValue(let heads, let groups) = layout {
            let width = shape[0] / (heads + 2 * groups)
            let local = ShardLayout.groups(of: partition, heads: heads, groups: groups).count
            part[0] = (heads / partition.count + 2 * local) * width
            return part
        }
        let dimension = layout == .columns && part.count >= 2 ? 1 : 0
        part[dimension] /= partition.count
        return part
    }

    /// The boxes of the whole tensor that make up `partition` of it, in the order they are concatenated (one box
    /// for plain splits, one per half of a GLU projection, three for grouped QKV: queries, keys, values).
    public func boxes(of partition: Partition) throws(PartitionError) -> [[Range<Int>]] {
        let whole = shape.map { 0..<$0 }
        guard layout != .replicated, !shape.isEmpty, partition.count > 1 || partition.index != 0 else {
            return [whole]
        }
        guard partition.count >= 1, (0..<partition.count).contains(partition.index) else {
            throw PartitionError(key: key, detail: "\(partition) is not a valid partition")
        }
        if case .groupedQueryKeyValue(let heads, let groups) = layout {
            let units = heads + 2 * groups
            guard heads > 0, groups > 0, heads % groups == 0, shape[0] % units == 0, heads % partition.count == 0,
                groups % partition.count == 0 || partition.count % groups == 0
            else {
                throw PartitionError(
                    key: key,
                    detail: "dimension 0 of \(shape) (\(heads) query heads, \(groups) key/value groups) cannot be "
                        + "split into \(partition.count) partitions")
            }
            let width = shape[0] / units
            let local = heads / partition.count
            let held = ShardLayout.groups(of: partition, heads: heads, groups: groups)
            func rows(_ start: Int, _ count: Int) -> [Range<Int>] {
                var box = whole
                box[0] = (start * width)..<((start + count) * width)
                return box
            }
            return [
                rows(partition.index * local, local), rows(heads + held.lowerBound, held.count),
                rows(heads + groups + held.lowerBound, held.count),
            ]
        }
        let dimension = layout == .columns && shape.count >= 2 ? 1 : 0
        let halves = layout == .rowsGLU ? 2 : 1
        let segment = shape[dimension] / halves
        guard shape[dimension] % halves == 0, segment % partition.count == 0 else {
            throw PartitionError(
                key: key,
                detail: "dimension \(dimension) of \(shape)\(halves == 2 ? " (two GLU halves)" : "") cannot be split "
                    + "evenly into \(partition.count) partitions")
        }
        let size = segment / partition.count
        return (0..<halves).map { half in
            var box = whole
            let start = half * segment + partition.index * size
            box[dimension] = start..<start + size
            return box
        }
    }
}

/// A tensor that cannot be split as asked: its key and why.
public struct PartitionError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let detail: String

    public var description: String { "'\(key)': \(detail)" }
}
