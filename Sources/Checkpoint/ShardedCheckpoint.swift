import FoundationEssentials
import Partitioning
import Synchronization

/// A checkpoint saved with M model-parallel shards, read as if it were one tensor per key and re-split into any
/// partition count that divides the split dimension. Shard files are mapped lazily, and only the rows or columns
/// a partition needs are copied, so a rank of an 8-way run reads about 1/8 of a 257 GB checkpoint.
public final class ShardedCheckpoint: Sendable {
    public let directory: CheckpointDirectory
    /// The shard files opened so far, by rank.
    private let opened: Mutex<[TorchCheckpointFile?]>

    /// Opens shard 0 at once (so the format is checked and `keys()` is known); the others open on first use.
    public init(directory: CheckpointDirectory) throws(CheckpointError) {
        self.directory = directory
        var opened = [TorchCheckpointFile?](repeating: nil, count: directory.shardCount)
        opened[0] = try Self.open(directory, rank: 0)
        self.opened = Mutex(opened)
    }

    /// Opens shard file `rank`. torch names a file's archive folder after the file it saved (older versions; newer
    /// ones say `archive`), so a folder named for another rank means renamed or swapped files, which would load
    /// with every shape right and the answers wrong.
    private static func open(
        _ directory: CheckpointDirectory, rank: Int
    ) throws(CheckpointError) -> TorchCheckpointFile {
        let url = directory.shardURLs[rank]
        let file = try TorchCheckpointFile(path: url.path)
        let expected = String(url.lastPathComponent.dropLast(".pt".count))
        if file.prefix != expected, file.prefix.hasPrefix("mp_rank_"), file.prefix.hasSuffix("_model_states") {
            throw .misplacedShard(path: url.path, savedAs: file.prefix, expected: expected)
        }
        return file
    }

    public convenience init(url: URL) throws(CheckpointError) {
        try self.init(directory: CheckpointDirectory(url: url))
    }

    /// M, the number of shard files.
    public var shardCount: Int { directory.shardCount }

    /// All tensor keys of shard 0, in checkpoint order.
    public func keys() -> [String] {
        opened.withLock { $0[0]! }.names
    }

    /// Shard file `rank`, mapped on first use.
    public func shard(_ rank: Int) throws(CheckpointError) -> TorchCheckpointFile {
        try opened.withLock { (opened) throws(CheckpointError) in
            if let file = opened[rank] { return file }
            let file = try Self.open(directory, rank: rank)
            opened[rank] = file
            return file
        }
    }

    /// `partition` of the merged global tensor `key`, row-major fp16.
    ///
    /// - Parameters:
    ///   - globalShape: the shape of the whole (MP=1) tensor; each shard must have it divided by M along the
    ///     split dimension.
    ///   - layout: how the tensor is split (see `ShardLayout`).
    ///   - partition: which part to return; its count must divide the split dimension (for `rowsGLU`, each half).
    ///     `replicated` tensors are returned whole whatever the partition.
    public func tensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition = .whole
    ) throws(CheckpointError) -> HalfTensor {
        let (shape, values) = try part(
            key, globalShape: globalShape, layout: layout, partition: partition, zero: Float16(0)
        ) { (file, region) throws(CheckpointError) in try file.float16(key, region: region) }
        return HalfTensor(shape: shape, values: values)
    }

    /// `partition` of the merged global int8 tensor `key` (no conversion: every shard must store int8), split as
    /// `tensor(_:globalShape:layout:partition:)` splits fp16 tensors. `globalShape` is the stored shape (a packed
    /// int4 weight has half the columns of its logical shape).
    public func int8Tensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition = .whole
    ) throws(CheckpointError) -> Int8Tensor {
        let (shape, values) = try part(
            key, globalShape: globalShape, layout: layout, partition: partition, zero: Int8(0)
        ) { (file, region) throws(CheckpointError) in try file.int8(key, region: region) }
        return Int8Tensor(shape: shape, values: values)
    }

    /// The split behind `tensor` and `int8Tensor`; `read` copies a box of one shard's tensor.
    private func part<Element>(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition, zero: Element,
        read: (TorchCheckpointFile, [Range<Int>]?) throws(CheckpointError) -> [Element]
    ) throws(CheckpointError) -> (shape: [Int], values: [Element]) {
        guard partition.count >= 1, (0..<partition.count).contains(partition.index) else {
            throw .invalidSharding(key: key, detail: "\(partition) is not a valid partition")
        }
        if layout == .replicated {
            let file = try shard(0)
            try check(file, key, expected: globalShape)
            return (globalShape, try read(file, nil))
        }
        guard !globalShape.isEmpty else {
            throw .invalidSharding(key: key, detail: "a scalar cannot be split by \(layout)")
        }
        let dimension = layout == .columns && globalShape.count >= 2 ? 1 : 0
        let extent = globalShape[dimension]
        let groups = layout == .rowsGLU ? 2 : 1
        let shards = shardCount
        // A GLU tensor is two segments (x1, x2) each split M ways on disk and P ways in the result.
        guard extent % groups == 0, (extent / groups) % shards == 0, (extent / groups) % partition.count == 0 else {
            throw .invalidSharding(
                key: key,
                detail: "dimension \(dimension) of \(globalShape)\(groups == 2 ? " (two GLU halves)" : "") cannot be "
                    + "split evenly into \(shards) shards and \(partition.count) partitions")
        }
        let segment = extent / groups
        let perShard = segment / shards
        let perPartition = segment / partition.count
        var shardShape = globalShape
        shardShape[dimension] = extent / shards
        var outputShape = globalShape
        outputShape[dimension] = extent / partition.count

        var output: [Element] = []
        var placed = 0  // along `dimension` in the output
        for group in 0..<groups {
            let wanted = partition.index * perPartition..<(partition.index + 1) * perPartition
            for rank in wanted.lowerBound / perShard...(wanted.upperBound - 1) / perShard {
                let covered = rank * perShard..<(rank + 1) * perShard
                let overlap = wanted.clamped(to: covered)
                let local = group * perShard + overlap.lowerBound - covered.lowerBound
                let file = try shard(rank)
                try check(file, key, expected: shardShape)
                var region = shardShape.map { 0..<$0 }
                region[dimension] = local..<local + overlap.count
                let block = try read(file, region)
                if groups == 1 && overlap.count == outputShape[dimension] {
                    // One shard holds the whole request: its block is the answer, no second copy.
                    return (outputShape, block)
                }
                if output.isEmpty { output = [Element](repeating: zero, count: outputShape.reduce(1, *)) }
                Self.place(
                    block, extent: overlap.count, into: &output, shape: outputShape, dimension: dimension, at: placed)
                placed += overlap.count
            }
        }
        return (outputShape, output)
    }

    func check(_ file: TorchCheckpointFile, _ key: String, expected: [Int]) throws(CheckpointError) {
        let found = try file.tensor(named: key).shape
        guard found == expected else {
            throw .shapeMismatch(path: file.path, key: key, expected: expected, found: found)
        }
    }

    /// Copies a row-major block that spans `extent` along `dimension` (and the full output along the others) into
    /// `output` starting at index `offset` of that dimension.
    static func place<Element>(
        _ block: [Element], extent: Int, into output: inout [Element], shape: [Int], dimension: Int, at offset: Int
    ) {
        let outer = shape[..<dimension].reduce(1, *)
        let inner = shape[(dimension + 1)...].reduce(1, *)
        let full = shape[dimension]
        let run = extent * inner
        block.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                for index in 0..<outer {
                    let target = destination.baseAddress! + (index * full + offset) * inner
                    target.update(from: source.baseAddress! + index * run, count: run)
                }
            }
        }
    }
}
