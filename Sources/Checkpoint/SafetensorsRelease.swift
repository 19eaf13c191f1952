import Basics
import FoundationEssentials
import Partitioning

/// A Hugging Face release's safetensors weights as published (GLM-4): one `model.safetensors`, or
/// `model.safetensors.index.json` mapping every tensor to the file holding it (`weight_map`). A folder with both is
/// read as transformers reads it: the single file first. Each file is memory-mapped on first use with its header
/// checked against it; a partition copies only its rows or columns of a tensor. Quantized weights are read in the
/// official quantized layout (int8 levels, `<key>_scale`), as `convert --quantize` writes them.
public final class SafetensorsRelease: ReleaseWeights {
    public static let indexName = "model.safetensors.index.json"
    public static let singleFileName = "model.safetensors"

    private let release: ReleaseFiles<SafetensorsFile>

    public var directory: URL { release.directory }
    /// The weight files, each once, in name order.
    public var files: [URL] { release.files }

    /// Whether `directory` holds safetensors weights.
    public static func isPresent(in directory: URL) -> Bool {
        ReleaseFiles<SafetensorsFile>.arePresent(in: directory, indexName: indexName, singleFileName: singleFileName)
    }

    /// Reads the index (or the single file's header); every file the index names must exist as a regular file.
    public init(directory: URL) throws(CheckpointError) {
        release = try ReleaseFiles(
            directory: directory, indexName: Self.indexName, singleFileName: Self.singleFileName,
            format: "a safetensors release",
            open: { (path) throws(CheckpointError) in try SafetensorsFile(path: path) },
            names: { $0.tensors.map(\.name) })
    }

    /// Every tensor key, sorted.
    public var keys: [String] { release.fileOfKey.keys.sorted() }

    public func contains(_ key: String) -> Bool { release.fileOfKey[key] != nil }

    /// The file holding `key`, opened on first use; the index must be right about it.
    public func file(holding key: String) throws(CheckpointError) -> SafetensorsFile {
        let file = try release.file(holding: key)
        guard file.contains(key) else {
            throw .invalidIndex(
                path: directory.appendingPathComponent(Self.indexName).path,
                detail:
                    "it puts \"\(key)\" in \(URL(fileURLWithPath: file.path).lastPathComponent), which does not hold it"
            )
        }
        return file
    }

    /// `files[position]`, opened on first use.
    public func file(at position: Int) throws(CheckpointError) -> SafetensorsFile {
        try release.file(at: position)
    }

    public func weightFile(holding key: String) throws(CheckpointError) -> any ReleaseWeightFile {
        try file(holding: key)
    }

    public func keysInFileOrder() throws(CheckpointError) -> [String] {
        try release.keysInFileOrder { $0.tensors.map(\.name) }
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
            let digest = String(try contentsDigest(of: index), radix: 16)
            parts.append("\(url.lastPathComponent) \(size ?? -1) bytes, contents \(digest)")
        }
        return "safetensors release (" + parts.joined(separator: "; ") + ")"
    }
}
