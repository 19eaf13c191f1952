import FoundationEssentials
import Partitioning

/// Where a model's tensors are read from: an official model-parallel checkpoint (`ShardedCheckpoint`) or a Hugging
/// Face release's weight files (`ReleaseCheckpoint`). Loading, fingerprints, the memory check and the weight stream
/// of `--weights-from coordinator` read through it, whatever the format.
public protocol WeightStore: AnyObject, Sendable {
    /// The files holding the weights, in a fixed order.
    var weightFiles: [URL] { get }
    /// Every tensor key.
    func tensorKeys() throws(CheckpointError) -> [String]
    /// `partition` of the global tensor `key`, row-major fp16 (see `ShardedCheckpoint.tensor`).
    func tensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition
    ) throws(CheckpointError) -> HalfTensor
    /// Whether `key` is stored quantized (int8 with a `_scale`), as official quantized checkpoints store it.
    func isQuantized(_ key: String) throws(CheckpointError) -> Bool
    /// `partition` of the quantized weight `key` with its scales.
    func quantizedTensor(
        _ key: String, globalShape: [Int], layout: ShardLayout, partition: Partition
    ) throws(CheckpointError) -> QuantizedTensor
    /// What every rank must see identically: each file's name, size and a digest of its zip directory (whose
    /// entries record their CRC-32s). Opens every file's directory, not its data.
    func fingerprint() throws(CheckpointError) -> String
}

extension WeightStore {
    /// Each weight file's size in bytes (nil where it cannot be read).
    public var fileSizes: [Int?] {
        weightFiles.map { url in
            // FoundationEssentials reports the size as a UInt (`as? Int` is always nil there).
            let attributes = try? FileManager.default.attributesOfItem(atPath: url.path)
            return (attributes?[.size] as? UInt).map { Int($0) }
        }
    }

    /// `name size bytes, contents digest` for each file, opened by `open`.
    func describeFiles(_ open: (Int) throws(CheckpointError) -> TorchCheckpointFile) throws(CheckpointError)
        -> String
    {
        var parts: [String] = []
        for (index, (url, size)) in zip(weightFiles, fileSizes).enumerated() {
            let digest = String(try open(index).archive.contentsDigest, radix: 16)
            parts.append("\(url.lastPathComponent) \(size ?? -1) bytes, contents \(digest)")
        }
        return parts.joined(separator: "; ")
    }
}

extension ShardedCheckpoint: WeightStore {
    public var weightFiles: [URL] { directory.shardURLs }

    public func tensorKeys() -> [String] { keys() }

    public func fingerprint() throws(CheckpointError) -> String {
        "checkpoint (iteration \(directory.iteration); "
            + (try describeFiles { (rank) throws(CheckpointError) in
                try shard(rank)
            }) + ")"
    }
}

extension ReleaseCheckpoint: WeightStore {
    public var weightFiles: [URL] { files }

    public func tensorKeys() -> [String] { keys }

    public func fingerprint() throws(CheckpointError) -> String {
        "release (" + (try describeFiles { (index) throws(CheckpointError) in try file(at: index) }) + ")"
    }
}
