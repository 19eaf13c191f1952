import Basics
import FoundationEssentials
import Glibc
import Partitioning
import Synchronization

/// A Hugging Face release's PyTorch weights as published: one `pytorch_model.bin` holds them all, or
/// `pytorch_model.bin.index.json` maps every tensor to the file holding it (`weight_map`). A folder with both is
/// read as transformers' `from_pretrained` reads it: the single file first. Every file is a torch zip read with
/// the restricted unpickler, opened on first use; a partition copies only its rows or columns of a tensor, as
/// `ShardedCheckpoint` does for model-parallel checkpoints.
public final class ReleaseCheckpoint: ReleaseWeights {
    public static let indexName = "pytorch_model.bin.index.json"
    public static let singleFileName = "pytorch_model.bin"

    public let directory: URL
    /// The weight files, each once, in name order.
    public let files: [URL]
    /// Every tensor's file, as an index into `files`.
    private let fileOfKey: [String: Int]
    private let opened: Mutex<[TorchCheckpointFile?]>

    /// Whether `directory` holds PyTorch release weights.
    public static func isPresent(in directory: URL) -> Bool {
        [indexName, singleFileName].contains {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
    }

    /// Reads the index (or finds the single file); no weight file is opened yet, but every file it names must
    /// exist as a regular file in `directory`.
    public init(directory: URL) throws(CheckpointError) {
        self.directory = directory
        let index = directory.appendingPathComponent(Self.indexName)
        var fileOfKey: [String: Int] = [:]
        var files: [URL] = []
        let single = directory.appendingPathComponent(Self.singleFileName)
        if !FileManager.default.fileExists(atPath: single.path), FileManager.default.fileExists(atPath: index.path) {
            let map = try Self.weightMap(index)
            let names = Set(map.values).sorted()
            files = names.map { directory.appendingPathComponent($0) }
            let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            for (key, name) in map { fileOfKey[key] = position[name] }
        } else {
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw .invalidIndex(
                    path: directory.path,
                    detail: "neither \(Self.indexName) nor \(Self.singleFileName) is there: not a PyTorch release")
            }
            files = [single]
            for tensor in try TorchCheckpointFile(path: single.path).tensors { fileOfKey[tensor.name] = 0 }
        }
        for file in files {
            var info = stat()
            guard stat(file.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw .cannotOpen(path: file.path, reason: "named by \(Self.indexName) but not a regular file here")
            }
        }
        self.files = files
        self.fileOfKey = fileOfKey
        opened = Mutex(Array(repeating: nil, count: files.count))
    }

    /// Every tensor key, sorted.
    public var keys: [String] { fileOfKey.keys.sorted() }

    public func contains(_ key: String) -> Bool { fileOfKey[key] != nil }

    /// The position in `files` of the file the index names for `key`.
    public func fileIndex(of key: String) -> Int? { fileOfKey[key] }

    /// The file holding `key`, opened on first use.
    public func file(holding key: String) throws(CheckpointError) -> TorchCheckpointFile {
        guard let position = fileOfKey[key] else { throw .missingKey(path: directory.path, key: key) }
        return try file(at: position)
    }

    public func weightFile(holding key: String) throws(CheckpointError) -> any ReleaseWeightFile {
        try file(holding: key)
    }

    public func keysInFileOrder() throws(CheckpointError) -> [String] {
        var keys: [String] = []
        for index in files.indices {
            keys += try file(at: index).tensors.map(\.name).filter { fileOfKey[$0] == index }
        }
        return keys
    }

    /// `files[position]`, opened on first use.
    public func file(at position: Int) throws(CheckpointError) -> TorchCheckpointFile {
        try opened.withLock { (opened) throws(CheckpointError) in
            if let file = opened[position] { return file }
            let file = try TorchCheckpointFile(path: files[position].path)
            opened[position] = file
            return file
        }
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
