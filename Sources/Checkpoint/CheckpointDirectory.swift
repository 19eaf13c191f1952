import Basics
import FoundationEssentials
import Glibc

/// An official GLM-130B checkpoint folder: `latest` names the iteration, and `<iteration>/` holds one
/// `mp_rank_XX_model_states.pt` per model-parallel rank it was saved with. Only the folder listing and `latest`
/// are read here; the shard files are opened by `ShardedCheckpoint`.
public struct CheckpointDirectory: Sendable {
    public let url: URL
    /// The iteration `latest` names (e.g. 49300).
    public let iteration: Int
    /// `mp_rank_00` ... `mp_rank_{M-1}` in rank order.
    public let shardURLs: [URL]

    /// The model-parallel degree M the checkpoint was saved with.
    public var shardCount: Int { shardURLs.count }

    public init(url: URL) throws(CheckpointError) {
        self.url = url
        let latest = url.appendingPathComponent("latest")
        guard FileManager.default.fileExists(atPath: latest.path) else { throw .missingLatest(path: latest.path) }
        if let problem = RegularFile.problem(at: latest.path) {
            throw .invalidLatest(path: latest.path, contents: "<unreadable: it \(problem)>")
        }
        let text: String
        do {
            text = try String(contentsOf: latest, encoding: .utf8)
        } catch {
            throw .invalidLatest(path: latest.path, contents: "<unreadable: \(error.explanation)>")
        }
        let trimmed = text.trimmingWhitespace(newlines: true)
        guard let iteration = Int(trimmed), iteration >= 0 else {
            throw .invalidLatest(path: latest.path, contents: trimmed)
        }
        self.iteration = iteration

        let folder = url.appendingPathComponent(String(iteration))
        var isDirectory = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory
        else { throw .missingIteration(path: folder.path) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let ranks = Set(names.compactMap(Self.rank(ofShardNamed:)))
        guard let highest = ranks.max() else { throw .noShards(path: folder.path) }
        var shardURLs: [URL] = []
        for rank in 0...highest {
            let shard = folder.appendingPathComponent(Self.shardName(rank: rank))
            guard ranks.contains(rank) else { throw .missingShard(path: shard.path) }
            shardURLs.append(shard)
        }
        self.shardURLs = shardURLs
    }

    public init(path: String) throws(CheckpointError) {
        try self.init(url: URL(fileURLWithPath: path))
    }

    /// The files that make `url` hold a checkpoint, whether complete or not: `latest` (first, when present) and
    /// every `mp_rank_XX_model_states.pt` of its numeric iteration folders. Other files are not listed.
    public static func existingFiles(in url: URL) -> [URL] {
        let manager = FileManager.default
        let latest = url.appendingPathComponent("latest")
        let folders = (try? manager.contentsOfDirectory(atPath: url.path)) ?? []
        let shards = folders.filter { Int($0) != nil }.sorted().flatMap { folder -> [URL] in
            let folderURL = url.appendingPathComponent(folder)
            let names = (try? manager.contentsOfDirectory(atPath: folderURL.path)) ?? []
            return names.filter { rank(ofShardNamed: $0) != nil }.sorted().map { folderURL.appendingPathComponent($0) }
        }
        return (manager.fileExists(atPath: latest.path) ? [latest] : []) + shards
    }

    /// `mp_rank_03_model_states.pt` for rank 3 (two digits, as the official saver pads them).
    public static func shardName(rank: Int) -> String {
        let digits = String(rank)
        return "mp_rank_\(digits.count < 2 ? "0" + digits : digits)_model_states.pt"
    }

    static func rank(ofShardNamed name: String) -> Int? {
        guard name.hasPrefix("mp_rank_"), name.hasSuffix("_model_states.pt") else { return nil }
        let digits = name.dropFirst("mp_rank_".count).dropLast("_model_states.pt".count)
        guard digits.count >= 2, digits.allSatisfy(\.isASCII), let rank = Int(digits), rank >= 0,
            shardName(rank: rank) == name
        else { return nil }
        return rank
    }

    /// Makes `url` ready to receive a checkpoint: creates it, or, when it holds one already and `force` is set,
    /// removes `latest` and every `mp_rank_XX_model_states.pt` of its iteration folders (stale shards of a higher
    /// MP degree would otherwise be read as part of the new checkpoint). Other files are left alone. `option`
    /// names the path in errors.
    ///
    /// One writer at a time: the directory is locked (`flock` on it) until the returned lock is released, and a
    /// second writer fails at once instead of interleaving its shards with the first one's.
    /// `existing` lists the files of a model already there that `force` replaces (GLM-130B's by default).
    public static func prepareOutput(
        _ url: URL, option: String, force: Bool, existing existingOf: (URL) -> [URL] = existingFiles(in:)
    ) throws(OutputDirectoryError) -> OutputDirectoryLock {
        let manager = FileManager.default
        var isDirectory = false
        if manager.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory else {
                throw OutputDirectoryError(
                    description: "\(option) \(url.path) exists and is not a directory", isUsageError: true)
            }
        } else {
            do { try manager.createDirectory(at: url, withIntermediateDirectories: true) } catch {
                throw OutputDirectoryError(description: "cannot create \(option) \(url.path): \(error.explanation)")
            }
        }
        let lock = try OutputDirectoryLock(url, option: option)
        let existing = existingOf(url)
        guard !existing.isEmpty else { return lock }
        guard force else {
            throw OutputDirectoryError(
                description: "\(option) \(url.path) already contains a checkpoint (\(existing[0].path)); pass --force "
                    + "to replace it or choose another directory",
                isUsageError: true)
        }
        do {
            for file in existing { try manager.removeItem(at: file) }
        } catch {
            throw OutputDirectoryError(
                description: "cannot remove the old checkpoint in \(url.path): \(error.explanation)")
        }
        return lock
    }
}

/// An exclusive lock on a directory a checkpoint is being written to, held until `release` (or deinit).
public final class OutputDirectoryLock {
    private var descriptor: Int32

    init(_ url: URL, option: String) throws(OutputDirectoryError) {
        descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OutputDirectoryError(
                description: "cannot open \(option) \(url.path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw OutputDirectoryError(
                description: busy
                    ? "another convert or create-model is writing \(option) \(url.path) (it holds the directory's "
                        + "lock); wait for it to end or choose another directory"
                    : "cannot lock \(option) \(url.path): \(reason)",
                isUsageError: busy)
        }
    }

    /// Lets another writer in.
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}

/// A directory that cannot take a new checkpoint.
public struct OutputDirectoryError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// Whether the option's value cannot work (empty, a file, a checkpoint already), as opposed to the file system
    /// failing: front-ends report those as usage errors.
    public var isUsageError: Bool

    public init(description: String, isUsageError: Bool = false) {
        self.description = description
        self.isUsageError = isUsageError
    }
}
