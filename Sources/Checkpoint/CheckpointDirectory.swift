import Basics
import FoundationEssentials

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
}
