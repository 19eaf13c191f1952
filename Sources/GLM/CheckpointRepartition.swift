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

    /// Re-partitions an existing checkpoint of any MP degree into `parts` shards, keeping its iteration.
    ///
    /// Only the keys of `WeightSpec.all(for:)` are written, in that order: extra keys such as
    /// `attention.rotary_emb.inv_freq` are dropped (the engine recomputes them). Output shards are built and written
    /// one at a time, so peak memory is about one output shard (the source shards are memory-mapped and only the
    /// rows or columns a part needs are copied). `latest` is written last: a directory left by a failed run never
    /// looks like a complete checkpoint, and the shard files this call wrote are removed on failure.
    ///
    /// - Parameter progress: called after each output shard is written with its index and file.
    public static func convert(
        from checkpoint: ShardedCheckpoint, configuration: ModelConfiguration, parts: Int, to directory: URL,
        progress: (_ index: Int, _ file: URL) -> Void = { _, _ in }
    ) throws {
        precondition(parts >= 1, "CheckpointRepartition.convert: parts must be positive, got \(parts)")
        let specs = WeightSpec.all(for: configuration)
        let iteration = checkpoint.directory.iteration
        let folder = directory.appendingPathComponent(String(iteration))
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: folder.path, reason: error.localizedDescription)
        }
        var written: [URL] = []
        do {
            for index in 0..<parts {
                let partition = Partition(index: index, count: parts)
                let tensors = try specs.map { spec in
                    (
                        spec.key,
                        try checkpoint.tensor(
                            spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                    )
                }
                let file = folder.appendingPathComponent(CheckpointDirectory.shardName(rank: index))
                written.append(file)
                try TorchCheckpointWriter.write(tensors, to: file)
                progress(index, file)
            }
            let latest = directory.appendingPathComponent("latest")
            do {
                try Data(String(iteration).utf8).write(to: latest)
            } catch {
                throw CheckpointError.writeFailed(path: latest.path, reason: error.localizedDescription)
            }
        } catch {
            for file in written { try? FileManager.default.removeItem(at: file) }
            throw error
        }
    }
}
