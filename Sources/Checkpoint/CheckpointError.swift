/// Everything that can go wrong while reading or writing a checkpoint. Every case carries the file it concerns
/// and, where there is one, the tensor key, so a failure on a 70-layer, 8-shard checkpoint points at one place.
public enum CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `open`, `fstat` or `mmap` failed.
    case cannotOpen(path: String, reason: String)
    /// The file ends before the zip structure (or an entry's data) does.
    case truncatedZip(path: String, detail: String)
    /// The zip structure is inconsistent (bad signature, overlapping sizes, duplicate names).
    case malformedZip(path: String, detail: String)
    /// The entry is compressed; torch.save stores entries uncompressed so we never inflate.
    case compressedEntry(path: String, entry: String, method: UInt16)
    /// A zip entry the checkpoint needs is absent.
    case missingEntry(path: String, entry: String)
    /// The stored CRC-32 of an entry does not match its bytes.
    case checksumMismatch(path: String, entry: String, tensor: String?, expected: UInt32, found: UInt32)
    /// The pickle stream is malformed or uses an opcode outside the torch.save subset.
    case malformedPickle(path: String, offset: Int, detail: String)
    /// The pickle names a global outside the allow-list; loading stops before anything else happens.
    case forbiddenGlobal(path: String, global: String)
    /// The unpickled object is not a state dict (or its `module` entry is not one).
    case notAStateDict(path: String, detail: String)
    /// A tensor key is absent from a checkpoint file.
    case missingKey(path: String, key: String)
    /// A tensor uses a storage type this reader does not know.
    case unsupportedStorage(path: String, key: String, storageType: String)
    /// A tensor has a dtype the requested accessor cannot convert from.
    case dtypeMismatch(path: String, key: String, expected: String, found: String)
    /// A tensor's view (offset, shape, strides) reaches outside its storage, or the storage entry is too short.
    case storageOutOfBounds(path: String, key: String, detail: String)
    /// A shard file whose archive was saved as another model-parallel rank's (files renamed or swapped).
    case misplacedShard(path: String, savedAs: String, expected: String)
    /// A shard's shape does not match the global shape split over the shard count.
    case shapeMismatch(path: String, key: String, expected: [Int], found: [Int])
    /// A global shape, layout and partition that cannot be combined (dimension not divisible, bad index).
    case invalidSharding(key: String, detail: String)
    /// A release's `pytorch_model.bin.index.json` is malformed or names files that cannot be used.
    case invalidIndex(path: String, detail: String)
    /// A `.safetensors` file whose header does not describe its contents (the tensor, when one is at fault).
    case invalidSafetensors(path: String, tensor: String?, detail: String)
    /// The checkpoint directory has no `latest` file.
    case missingLatest(path: String)
    /// `latest` could not be read or does not hold an iteration number.
    case invalidLatest(path: String, contents: String)
    /// The folder named by `latest` does not exist.
    case missingIteration(path: String)
    /// The iteration folder holds no `mp_rank_XX_model_states.pt` file.
    case noShards(path: String)
    /// Shard files are not consecutive from `mp_rank_00`; `path` is the first missing one.
    case missingShard(path: String)
    /// Writing a checkpoint failed.
    case writeFailed(path: String, reason: String)
    /// An official quantized weight (int8 or packed int4 under the weight key, fp16 scales under `<key>_scale`)
    /// that is inconsistent or cannot be split as asked.
    case invalidQuantization(path: String, key: String, detail: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            return "cannot open checkpoint file \(path): \(reason)"
        case .truncatedZip(let path, let detail):
            return "truncated zip: \(path): \(detail)"
        case .malformedZip(let path, let detail):
            return "malformed zip: \(path): \(detail)"
        case .compressedEntry(let path, let entry, let method):
            return "\(path): entry '\(entry)' is compressed (method \(method)); torch.save checkpoints store "
                + "entries uncompressed (method 0)"
        case .missingEntry(let path, let entry):
            return "\(path): zip entry '\(entry)' is missing"
        case .checksumMismatch(let path, let entry, let tensor, let expected, let found):
            let holder = tensor.map { " (the storage of '\($0)')" } ?? ""
            return "\(path): entry '\(entry)'\(holder) has CRC-32 \(hex(found)) but the zip records \(hex(expected)): "
                + "the file is damaged; copy it again"
        case .malformedPickle(let path, let offset, let detail):
            return "\(path): malformed pickle at byte \(offset): \(detail)"
        case .forbiddenGlobal(let path, let global):
            return "refusing to load \(path): pickle references \(global); only torch tensor and dict "
                + "constructors are allowed"
        case .notAStateDict(let path, let detail):
            return "\(path): not a state dict: \(detail)"
        case .missingKey(let path, let key):
            return "\(path): tensor '\(key)' not found"
        case .unsupportedStorage(let path, let key, let storageType):
            return "\(path): tensor '\(key)' uses unsupported storage type \(storageType)"
        case .dtypeMismatch(let path, let key, let expected, let found):
            return "\(path): tensor '\(key)' has dtype \(found), expected \(expected)"
        case .storageOutOfBounds(let path, let key, let detail):
            return "\(path): tensor '\(key)': \(detail)"
        case .invalidIndex(let path, let detail):
            return "\(path): \(detail)"
        case .invalidSafetensors(let path, let tensor, let detail):
            return "invalid safetensors file \(path)" + (tensor.map { ", tensor '\($0)'" } ?? "") + ": \(detail)"
        case .misplacedShard(let path, let savedAs, let expected):
            return "\(path) holds the archive torch saved as \(savedAs).pt, not \(expected).pt: shard files were "
                + "renamed or swapped; restore each file's own name"
        case .shapeMismatch(let path, let key, let expected, let found):
            return "\(path): tensor '\(key)' has shape \(found), expected \(expected)"
        case .invalidSharding(let key, let detail):
            return "cannot shard tensor '\(key)': \(detail)"
        case .missingLatest(let path):
            return "checkpoint directory has no 'latest' file: \(path) does not exist"
        case .invalidLatest(let path, let contents):
            return "\(path) must hold an iteration number, found '\(contents)'"
        case .missingIteration(let path):
            return "checkpoint iteration folder \(path) does not exist"
        case .noShards(let path):
            return "checkpoint iteration folder \(path) holds no mp_rank_XX_model_states.pt files"
        case .missingShard(let path):
            return "checkpoint shard \(path) is missing (shard files must be consecutive from mp_rank_00)"
        case .writeFailed(let path, let reason):
            return "cannot write checkpoint file \(path): \(reason)"
        case .invalidQuantization(let path, let key, let detail):
            return "\(path): quantized tensor '\(key)': \(detail)"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    "0x" + String(value, radix: 16)
}
