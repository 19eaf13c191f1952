import Basics
import FoundationEssentials
import Partitioning
import Tensors

/// Writes a checkpoint in the official GLM layout at any model-parallel degree (what the official
/// `tools/convert_tp.py` does), from global tensors or from another checkpoint.
public enum CheckpointRepartition {
    /// Writes global (MP=1) tensors as `parts` shards: `dir/latest` and `dir/<iteration>/mp_rank_XX`. For more
    /// than one part the MP=1 checkpoint is written to a temporary directory first and re-partitioned from there,
    /// so splitting has one implementation (`ShardedCheckpoint`).
    public static func write(
        global tensors: [(key: String, tensor: HalfTensor)], specs: [WeightSpec], parts: Int,
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
        try convert(from: ShardedCheckpoint(url: staging), specs: specs, parts: parts, to: directory)
    }

    /// Re-partitions an existing checkpoint of any MP degree into `parts` shards, keeping its iteration.
    ///
    /// Only the keys of `specs` (the model's `WeightSpec.all(for:)`) are written, in that order: extra keys such as
    /// `attention.rotary_emb.inv_freq` are dropped (the engine recomputes them). Output shards are built and written
    /// one at a time, so peak memory is about one output shard (the source shards are memory-mapped and only the
    /// rows or columns a part needs are copied). `latest` is written last: a directory left by a failed run never
    /// looks like a complete checkpoint, and the shard files this call wrote are removed on failure.
    ///
    /// With `quantization` the output is an official quantized checkpoint, as `tools/convert_tp.py
    /// --quantization-bit-width 8|4` writes it: each OUTPUT shard's QKV, attention.dense, dense_h_to_4h and
    /// dense_4h_to_h weight is quantized on its own (one fp16 scale per row of that shard, so the row-parallel
    /// layers' scales depend on `parts`), stored as int8 under the weight key (4 bits: `[rows, columns / 2]`, two
    /// levels per byte, element 2i in the high nibble) with the fp16 scales under `<key>_scale` right after it.
    /// The source must hold fp16 (or bf16/fp32) weights: re-partitioning a quantized checkpoint is an error, as
    /// the official tool cannot do it either (merged row-parallel shards would need two scales per row).
    ///
    /// - Parameter progress: called after each output shard is written with its index and file.
    public static func convert(
        from checkpoint: ShardedCheckpoint, specs: [WeightSpec], parts: Int,
        quantization: QuantizationScheme? = nil, to directory: URL,
        progress: (_ index: Int, _ file: URL) -> Void = { _, _ in }
    ) throws {
        precondition(parts >= 1, "CheckpointRepartition.convert: parts must be positive, got \(parts)")
        for spec in specs where spec.isQuantizable {
            if quantization == .int4, spec.shape[1] % (spec.layout == .columns ? 2 * parts : 2) != 0 {
                throw QuantizationError(
                    description: "'\(spec.key)': int4 packs two columns per byte, but an output shard would have "
                        + "\(spec.shape[1] / (spec.layout == .columns ? parts : 1)) columns")
            }
            if try checkpoint.isQuantized(spec.key) {
                throw QuantizationError(
                    description: "\(checkpoint.directory.shardURLs[0].path): '\(spec.key)' is already quantized "
                        + "(int8 or int4 levels with '\(ShardedCheckpoint.scaleKey(spec.key))'); convert needs an fp16 "
                        + "source "
                        + "checkpoint (a quantized checkpoint loads at any --tp as it is)")
            }
        }
        let iteration = checkpoint.directory.iteration
        let folder = directory.appendingPathComponent(String(iteration))
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.writeFailed(path: folder.path, reason: error.explanation)
        }
        var written: [URL] = []
        do {
            for index in 0..<parts {
                let partition = Partition(index: index, count: parts)
                var tensors: [(String, CheckpointTensor)] = []
                for spec in specs {
                    let tensor = try checkpoint.tensor(
                        spec.key, globalShape: spec.shape, layout: spec.layout, partition: partition)
                    if let quantization, spec.isQuantizable {
                        let (weight, scales) = quantized(tensor, quantization)
                        tensors.append((spec.key, .int8(weight)))
                        tensors.append((ShardedCheckpoint.scaleKey(spec.key), .float16(scales)))
                    } else {
                        tensors.append((spec.key, .float16(tensor)))
                    }
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
                throw CheckpointError.writeFailed(path: latest.path, reason: error.explanation)
            }
        } catch {
            for file in written { try? FileManager.default.removeItem(at: file) }
            throw error
        }
    }

    /// One shard's weight in the official quantized storage: int8 levels (4 bits: packed `[rows, columns / 2]`)
    /// and its `[rows]` fp16 scales.
    public static func quantized(
        _ tensor: HalfTensor, _ scheme: QuantizationScheme
    ) -> (weight: Int8Tensor, scales: HalfTensor) {
        let (rows, columns) = (tensor.shape[0], tensor.shape[1])
        let (levels, scales) = tensor.values.withUnsafeBufferPointer {
            Quantization.quantizeRows($0, rows: rows, columns: columns, scheme: scheme)
        }
        let weight: Int8Tensor
        switch scheme {
        case .int8:
            weight = Int8Tensor(shape: [rows, columns], values: levels)
        case .int4:
            let packed = Quantization.packInt4(levels).withUnsafeBytes { [Int8]($0.bindMemory(to: Int8.self)) }
            weight = Int8Tensor(shape: [rows, columns / 2], values: packed)
        }
        return (weight, HalfTensor(shape: [rows], values: scales))
    }
}
