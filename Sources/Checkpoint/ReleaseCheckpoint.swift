import Basics
import FoundationEssentials
import Partitioning

/// A Hugging Face release's PyTorch weights as published: one `pytorch_model.bin` holds them all, or
/// `pytorch_model.bin.index.json` maps every tensor to the file holding it (`weight_map`). A folder with both is
/// read as transformers' `from_pretrained` reads it: the single file first. Every file is a torch zip read with
/// the restricted unpickler, opened on first use; a partition copies only its rows or columns of a tensor, as
/// `ShardedCheckpoint` does for model-parallel checkpoints.
public final class ReleaseCheckpoint: ReleaseWeights {
    public static let indexName = "pytorch_model.bin.index.json"
    public static let singleFileName = "pytorch_model.bin"

    private let release: ReleaseFiles<TorchCheckpointFile>

    public var directory: URL { release.directory }
    /// The weight files, each once, in name order.
    public var files: [URL] { release.files }

    /// Whether `directory` holds PyTorch release weights.
    public static func isPresent(in directory: URL) -> Bool {
        ReleaseFiles<TorchCheckpointFile>.arePresent(
            in: directory, indexName: indexName, singleFileName: singleFileName)
    }

    /// Reads the index (or the single file's tensor list); every file the index names must exist as a regular
    /// file in `directory`.
    public init(directory: URL) throws(CheckpointError) {
        release = try ReleaseFiles(
            directory: directory, indexName: Self.indexName, singleFileName: Self.singleFileName,
            format: "a PyTorch release",
            open: { (path) throws(CheckpointError) in try TorchCheckpointFile(path: path) },
            names: { $0.tensors.map(\.name) })
    }

    /// Every tensor key, sorted.
    public var keys: [String] { release.fileOfKey.keys.sorted() }

    public func contains(_ key: String) -> Bool { release.fileOfKey[key] != nil }

    /// The file holding `key`, opened on first use.
    public func file(holding key: String) throws(CheckpointError) -> TorchCheckpointFile {
        try release.file(holding: key)
    }

    public func weightFile(holding key: String) throws(CheckpointError) -> any ReleaseWeightFile {
        try release.file(holding: key)
    }

    public func keysInFileOrder() throws(CheckpointError) -> [String] {
        try release.keysInFileOrder { $0.tensors.map(\.name) }
    }

    /// `files[position]`, opened on first use.
    public func file(at position: Int) throws(CheckpointError) -> TorchCheckpointFile {
        try release.file(at: position)
    }

    /// The boxes of the stored tensor that make up `partition` of `spec`, in the order they are concatenated.
    static func boxes(of spec: WeightSpec, partition: Partition) throws(CheckpointError) -> [[Range<Int>]] {
        do { return try spec.boxes(of: partition) } catch {
            throw .invalidSharding(key: error.key, detail: error.detail)
        }
    }

    /// `weight_map` of an index file: tensor key to a file name inside the release folder.
    static func weightMap(_ index: URL) throws(CheckpointError) -> [String: String] {
        let data: Data
        do { data = try Data(contentsOf: index) } catch {
            throw .cannotOpen(path: index.path, reason: error.explanation)
        }
        guard case .object(let top)? = JSONValue.parse(data), case .object(let map)? = top["weight_map"] else {
            throw .invalidIndex(path: index.path, detail: "expected a JSON object with a \"weight_map\" object")
        }
        if let (key, _) = JSONValue.firstDuplicateKey(in: data) {
            throw .invalidIndex(path: index.path, detail: "\"\(key)\" appears twice")
        }
        var result: [String: String] = [:]
        for (key, value) in map {
            guard case .string(let name) = value, !name.isEmpty, !name.contains("/"), name != "..", name != "." else {
                throw .invalidIndex(
                    path: index.path, detail: "\"\(key)\" must name a file in the release folder, got \(value)")
            }
            result[key] = name
        }
        guard !result.isEmpty else { throw .invalidIndex(path: index.path, detail: "\"weight_map\" is empty") }
        return result
    }
}
