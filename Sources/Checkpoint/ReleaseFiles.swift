import FoundationEssentials
import Glibc
import Synchronization

/// The weight files of a Hugging Face release folder, in either format, and the file holding each tensor: one
/// single file, or an index whose `weight_map` names each tensor's file. A folder with both is read as transformers'
/// `from_pretrained` reads it: the single file first. Each file opens on first use, once.
final class ReleaseFiles<File: AnyObject & Sendable>: Sendable {
    let directory: URL
    /// The weight files, each once, in name order.
    let files: [URL]
    /// Every tensor's file, as an index into `files`.
    let fileOfKey: [String: Int]
    private let opened: Mutex<[File?]>
    private let open: @Sendable (String) throws(CheckpointError) -> File

    /// Whether `directory` holds a release of this format: its index or its single file.
    static func arePresent(in directory: URL, indexName: String, singleFileName: String) -> Bool {
        [indexName, singleFileName].contains {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
    }

    /// Reads the index, or opens the single file to list its tensors (`names`); every file the index names must be
    /// a regular file in `directory`. `format` names the release kind in errors ("a PyTorch release").
    init(
        directory: URL, indexName: String, singleFileName: String, format: String,
        open: @escaping @Sendable (String) throws(CheckpointError) -> File, names: (File) -> [String]
    ) throws(CheckpointError) {
        self.directory = directory
        self.open = open
        let single = directory.appendingPathComponent(singleFileName)
        let index = directory.appendingPathComponent(indexName)
        var fileOfKey: [String: Int] = [:]
        var files: [URL] = []
        var first: File?
        if !FileManager.default.fileExists(atPath: single.path), FileManager.default.fileExists(atPath: index.path) {
            let map = try ReleaseCheckpoint.weightMap(index)
            let names = Set(map.values).sorted()
            files = names.map { directory.appendingPathComponent($0) }
            let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            for (key, name) in map { fileOfKey[key] = position[name] }
        } else {
            guard FileManager.default.fileExists(atPath: single.path) else {
                throw .invalidIndex(
                    path: directory.path, detail: "neither \(indexName) nor \(singleFileName) is there: not \(format)")
            }
            files = [single]
            let file = try open(single.path)
            for name in names(file) { fileOfKey[name] = 0 }
            first = file
        }
        for file in files {
            var info = stat()
            guard stat(file.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw .cannotOpen(path: file.path, reason: "named by \(indexName) but not a regular file here")
            }
        }
        self.files = files
        self.fileOfKey = fileOfKey
        var cache = [File?](repeating: nil, count: files.count)
        cache[0] = first
        opened = Mutex(cache)
    }

    /// `files[position]`, opened on first use.
    func file(at position: Int) throws(CheckpointError) -> File {
        try opened.withLock { (opened) throws(CheckpointError) in
            if let file = opened[position] { return file }
            let file = try open(files[position].path)
            opened[position] = file
            return file
        }
    }

    /// The file the index names for `key`, opened on first use.
    func file(holding key: String) throws(CheckpointError) -> File {
        guard let position = fileOfKey[key] else { throw .missingKey(path: directory.path, key: key) }
        return try file(at: position)
    }

    /// Every key in the files' own order: by file, then as the file lists them (`names`).
    func keysInFileOrder(names: (File) -> [String]) throws(CheckpointError) -> [String] {
        var keys: [String] = []
        for index in files.indices {
            keys += try names(file(at: index)).filter { fileOfKey[$0] == index }
        }
        return keys
    }
}
