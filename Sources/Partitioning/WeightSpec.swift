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
        let dimension = layout == .columns && part.count >= 2 ? 1 : 0
        part[dimension] /= partition.count
        return part
    }
}
