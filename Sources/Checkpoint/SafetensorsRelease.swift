import Basics
import FoundationEssentials
import Partitioning
import Synchronization

/// A Hugging Face release's safetensors weights as published (GLM-4): one `model.safetensors`, or
/// `model.safetensors.index.json` mapping every tensor to the file holding it (`weight_map`). A folder with both is
/// read as transformers reads it: the single file first. Each file is memory-mapped on first use with its header
/// checked against it; a partition copies only its rows or columns of a tensor. Quantized weights are read in the
/// official quantized layout (int8 levels, `<key>_scale`), as `convert --quantize` writes them.
public final class SafetensorsRelease: ReleaseWeights {
    public static let indexName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    public let directory: URL
    /// The weight files, each once, in name order.
    public let files: [URL]
    private let fileOfKey: [String: Int]
    private let opened: Mutex<[SafetensorsFile?]>

    /// Whether `directory` holds safetensors weights (and no PyTorch ones, which `ReleaseCheckpoint` reads).
    public static func isPresent(in directory: URL) -> Bool {
        [indexName, singleFileName].contains {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
    }

    /// Reads the index (or the single file's header); every file the index names must exist as a regular file.
    public init(directory: URL) throws(CheckpointError) {
        self.directory = directory
        let single = directory.appendingPathComponent(Self.singleFileName)
        let index = directory.appendingPathComponent(Self.indexName)
        var fileOfKey: [String: Int] = [:]
        var files: [URL] = []
        var first: SafetensorsFile?
        if !FileManager.default.fileExists(atPath: single.path), FileManager.default.fileExists(atPath: index.path) {
            let map = try ReleaseCheckpoint.weightMap(index)
            let names = Set(map.values).sorted()
            files = names.map { directory.appendingPathComponent($0) }
            let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            for (key, name) in map { fileOfKey[key] = position[name] }
        } else {
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw .invalidIndex(
                    path: directory.path,
                    detail: "neither \(Self.indexName) nor \(Self.singleFileName) is there: not a safetensors release")
            }
            files = [single]
            let file = try SafetensorsFile(path: single.path)
            for tensor in file.tensors { fileOfKey[tensor.name] = 0 }
            first = file
        }
        for file in files where RegularFile.problem(at: file.path) != nil {
            throw .cannotOpen(
                path: file.path, reason: "named by \(Self.indexName) but \(RegularFile.problem(at: file.path)!)")
        }
        self.files = files
        self.fileOfKey = fileOfKey
        var cache = [SafetensorsFile?](repeating: nil, count: files.count)
        cache[0] = first
        opened = Mutex(cache)
    }

    /// Every tensor key, sorted.
    public var keys: [String] { fileOfKey.keys.sorted() }

    public func contains(_ key: String) -> Bool { fileOfKey[key] != nil }

    /// The file holding `key`, opened on first use; the index must be right about it.
    public func file(holding key: String) throws(CheckpointError) -> SafetensorsFile {
        guard let position = fileOfKey[key] else { throw .missingKey(path: directory.path, key: key) }
        let file = try file(at: position)
        guard file.contains(key) else {
            throw .invalidIndex(
                path: directory.appendingPathComponent(Self.indexName).path,
                detail: "it puts \"\(key)\" in \(files[position].lastPathComponent), which does not hold it")
        }
        return file
    }

    /// `files[position]`, opened on first use.
    public func file(at position: Int) throws(CheckpointError) -> SafetensorsFile {
        try opened.withLock { (opened) throws(CheckpointError) in
            if let file = opened[position] { return file }
            let file = try SafetensorsFile(path: files[position].path)
            opened[position] = file
            return file
        }
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

    /// Bytes of each tensor that the fingerprint reads besides the headers.
    static let fingerprintSample = 4096

    /// Each file's name and size, and a CRC-32 over its tensors' names, dtypes, shapes and first
    /// `fingerprintSample` bytes: the format stores no checksums, and reading every byte of a 9B model to tell
    /// releases apart would take as long as loading it; a fine-tune of the same shapes differs in every tensor.
    public func contentsDigest(of position: Int) throws(CheckpointError) -> UInt32 {
        let file = try file(at: position)
        var bytes: [UInt8] = []
        for tensor in file.tensors {
            bytes += Array("\(tensor.name) \(tensor.dtype.rawValue) \(tensor.shape)".utf8) + [0]
            let end = min(tensor.bytes.upperBound, tensor.bytes.lowerBound + Self.fingerprintSample)
            bytes += file.rawBytes(tensor.bytes.lowerBound..<end)
        }
        return bytes.withUnsafeBytes { CRC32.checksum($0) }
    }
}

extension SafetensorsRelease: WeightStore {
    public var weightFiles: [URL] { files }

    public func tensorKeys() -> [String] { keys }

    public func fingerprint() throws(CheckpointError) -> String {
        var parts: [String] = []
        for (index, (url, size)) in zip(files, fileSizes).enumerated() {
            parts.append(
                "\(url.lastPathComponent) \(size ?? -1) bytes, contents \(String(try contentsDigest(of: index), radix: 16))"
            )
        }
        return "safetensors release (" + parts.joined(separator: "; ") + ")"
    }
}
