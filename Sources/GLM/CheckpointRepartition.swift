import Checkpoint
import Configuration
import Foundation

/// Writes a GLM checkpoint in the official layout at any model-parallel degree (what the official
/// `tools/convert_tp.py` does), from global tensors or from another checkpoint.
public enum CheckpointRepartition {
    /// Writes global (MP=1) tensors as `parts` shards: `dir/latest` and `dir/<iteration>/mp_rank_XX`. For more
    /// than one part the MP=1 checkpoint is written to a temporary directory first and re-partitioned from there,
    /// so splitting has one implementation (`ShardedCheckpoint`).
    public static func write(
        global tensors: [(key: String, tensor: HalfTensor)], configuration: ModelConfiguration, parts: Int,
        to directory: URL, iteration: Int = 1
    ) throws {
        let shard = tensors.map { ($0.key, $0.tensor) }
        if parts == 1 {
            try TorchCheckpointWriter.writeCheckpointDirectory(shards: [shard], to: directory, iteration: iteration)
            return
        }
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("glmcluster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: staging) }
        try TorchCheckpointWriter.writeCheckpointDirectory(shards: [shard], to: staging, iteration: iteration)
        try convert(from: ShardedCheckpoint(url: staging), configuration: configuration, parts: parts, to: directory)
    }

    /// Re-partitions an existing checkpoint of any MP degree into `parts` shards.
    public static func convert(
        from checkpoint: ShardedCheckpoint, configuration: ModelConfiguration, parts: Int, to directory: URL
    ) throws {
        let specs = WeightSpec.all(for: configuration)
        let shards = try (0..<parts).map { index in
            try specs.map { spec in
                (spec.key, try checkpoint.tensor(
                    spec.key, globalShape: spec.shape, layout: spec.layout,
                    partition: Partition(index: index, count: parts)))
            }
        }
        try TorchCheckpointWriter.writeCheckpointDirectory(
            shards: shards, to: directory, iteration: checkpoint.directory.iteration)
    }
}
