import Checkpoint
import Foundation
import TestSupport
import Testing

/// `glmcluster convert` on copies of the official fixture: re-partitioning must move bytes, never change them, and
/// every converted directory must be a complete model that generates what the original does.
@Suite struct ConvertTests {
    static let fixture = Fixture.root
    static let shardFolder = "49300"

    // MARK: - Helpers

    /// A scratch folder with a copy of fixture `variant` at `<root>/<variant>`; the fixture is never written.
    struct Scratch {
        let root: URL

        init(_ name: String) throws { root = try CommandRunner.temporaryDirectory("convert-\(name)") }

        func copy(_ variant: String) throws -> URL {
            let url = root.appendingPathComponent(variant)
            try FileManager.default.copyItem(at: ConvertTests.fixture.appendingPathComponent(variant), to: url)
            return url
        }

        func path(_ name: String) -> URL { root.appendingPathComponent(name) }

        func remove() { try? FileManager.default.removeItem(at: root) }
    }

    @discardableResult
    static func convert(
        _ source: URL, _ destination: URL, tp: Int, _ extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> CommandRunner.Result {
        let result = try CommandRunner.glm(
            ["convert", "--from", source.path, "--to", destination.path, "--tp", String(tp)] + extra)
        #expect(result.status == 0, "convert --tp \(tp) failed: \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    static func shardFiles(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(shardFolder).path)
            .filter { $0.hasPrefix("mp_rank_") }.sorted()
    }

    /// Every tensor of the single-shard checkpoint `actual` is byte-identical to the one of the same key in
    /// `expected`, and `actual` has exactly `expected`'s keys less the rotary `inv_freq` buffers (dropped).
    static func expectSameTensors(
        _ actual: URL, _ expected: URL, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let shard = "\(shardFolder)/mp_rank_00_model_states.pt"
        let converted = try TorchCheckpointFile(path: actual.appendingPathComponent(shard).path)
        let reference = try TorchCheckpointFile(path: expected.appendingPathComponent(shard).path)
        let referenceKeys = reference.names.filter { !$0.hasSuffix("rotary_emb.inv_freq") }
        #expect(reference.names.count > referenceKeys.count, "the fixture should carry inv_freq keys to drop")
        #expect(converted.names.sorted() == referenceKeys.sorted(), sourceLocation: sourceLocation)
        for key in referenceKeys where converted.contains(key) {
            let got = try converted.tensor(named: key)
            let want = try reference.tensor(named: key)
            #expect(got.shape == want.shape, "shape of \(key)", sourceLocation: sourceLocation)
            let gotBytes = try converted.float16(key).withUnsafeBytes { Array($0) }
            let wantBytes = try reference.float16(key).withUnsafeBytes { Array($0) }
            #expect(gotBytes == wantBytes, "bytes of \(key)", sourceLocation: sourceLocation)
        }
    }

    /// `latest`, config.json and the tokenizer model of `directory` equal the fixture's.
    static func expectCompanionFiles(_ directory: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let original = fixture.appendingPathComponent("mp1")
        for name in ["config.json", "ice_text.model"] {
            let copied = try Data(contentsOf: directory.appendingPathComponent(name))
            #expect(
                copied == (try Data(contentsOf: original.appendingPathComponent(name))), "\(name) copied",
                sourceLocation: sourceLocation)
        }
        let latest = try String(contentsOf: directory.appendingPathComponent("latest"), encoding: .utf8)
        #expect(latest.trimmingCharacters(in: .whitespacesAndNewlines) == "49300", sourceLocation: sourceLocation)
    }

    // MARK: - Tests

    @Test func roundTripOneTwoFourOneIsByteIdentical() throws {
        let scratch = try Scratch("round-trip")
        defer { scratch.remove() }
        let source = try scratch.copy("mp1")
        let tp2 = scratch.path("tp2")
        let tp4 = scratch.path("tp4")
        let back = scratch.path("tp1")
        try Self.convert(source, tp2, tp: 2)
        try Self.convert(tp2, tp4, tp: 4)
        try Self.convert(tp4, back, tp: 1)

        #expect(try Self.shardFiles(tp2) == (0..<2).map(CheckpointDirectory.shardName(rank:)))
        #expect(try Self.shardFiles(tp4) == (0..<4).map(CheckpointDirectory.shardName(rank:)))
        #expect(try Self.shardFiles(back) == [CheckpointDirectory.shardName(rank: 0)])
        for directory in [tp2, tp4, back] { try Self.expectCompanionFiles(directory) }
        try Self.expectSameTensors(back, Self.fixture.appendingPathComponent("mp1"))

        // The MP=2 shards equal the official MP=2 fixture's (the GLU-aware split included), inv_freq aside.
        for rank in 0..<2 {
            let name = "\(Self.shardFolder)/\(CheckpointDirectory.shardName(rank: rank))"
            let ours = try TorchCheckpointFile(path: tp2.appendingPathComponent(name).path)
            let official = try TorchCheckpointFile(path: Self.fixture.appendingPathComponent("mp2/\(name)").path)
            for key in ours.names {
                #expect(try ours.tensor(named: key).shape == official.tensor(named: key).shape, "\(key) rank \(rank)")
                #expect(
                    try ours.float16(key).withUnsafeBytes { Array($0) }
                        == official.float16(key).withUnsafeBytes { Array($0) }, "\(key) rank \(rank)")
            }
        }
    }

    @Test func mergingTheOfficialMP2GivesTheOfficialMP1() throws {
        let scratch = try Scratch("merge")
        defer { scratch.remove() }
        let source = try scratch.copy("mp2")
        let merged = scratch.path("merged")
        try Self.convert(source, merged, tp: 1)
        try Self.expectSameTensors(merged, Self.fixture.appendingPathComponent("mp1"))
        try Self.expectCompanionFiles(merged)
    }

    @Test func convertedDirectoriesGenerateTheSameText() throws {
        let scratch = try Scratch("generate")
        defer { scratch.remove() }
        let source = try scratch.copy("mp1")
        var directories = [source]
        for tp in [2, 4] {
            let destination = scratch.path("tp\(tp)")
            try Self.convert(source, destination, tp: tp)
            directories.append(destination)
        }
        let merged = scratch.path("merged")
        try Self.convert(directories[2], merged, tp: 1)
        directories.append(merged)

        let arguments = [
            "generate", "--prompt", "The capital of France is [MASK].", "--greedy", "--max-new-tokens", "4", "--json",
        ]
        var outputs: [String: String] = [:]
        for directory in directories {
            let result = try CommandRunner.glm(arguments + ["--model", directory.path])
            #expect(result.status == 0, "generate on \(directory.lastPathComponent): \(result.stderr)")
            outputs[directory.lastPathComponent] = try Self.generation(result.stdout)
        }
        // Each converted directory also runs tensor-parallel at its own degree, each rank reading its shard.
        for (tp, directory) in [(2, directories[1]), (4, directories[2])] {
            let result = try CommandRunner.mpirun(tp, arguments + ["--model", directory.path])
            #expect(result.status == 0, "generate on \(directory.lastPathComponent) with \(tp) ranks: \(result.stderr)")
            outputs["\(directory.lastPathComponent) on \(tp) ranks"] = try Self.generation(result.stdout)
        }
        let first = try #require(outputs["mp1"])
        #expect(first.contains("generated_ids"))
        #expect(outputs.values.allSatisfy { $0 == first }, "outputs differ: \(outputs)")
    }

    /// The `generate --json` report without its per-rank resource figures (RSS varies from run to run).
    static func generation(_ json: String) throws -> String {
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "not a JSON object: \(json)")
        object["ranks"] = nil
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func tensorParallelDegreeThatDoesNotDivideHeadsFails() throws {
        let scratch = try Scratch("bad-tp")
        defer { scratch.remove() }
        let source = try scratch.copy("mp1")
        let destination = scratch.path("out")
        let result = try CommandRunner.glm(
            ["convert", "--from", source.path, "--to", destination.path, "--tp", "3"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("num_attention_heads"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("--tp 3"), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: destination.appendingPathComponent("latest").path))

        let zero = try CommandRunner.glm(["convert", "--from", source.path, "--to", destination.path, "--tp", "0"])
        #expect(zero.status != 0)
        #expect(zero.stderr.contains("--tp"), "stderr: \(zero.stderr)")
    }

    @Test func existingCheckpointNeedsForceAndIsReplacedWhole() throws {
        let scratch = try Scratch("force")
        defer { scratch.remove() }
        let source = try scratch.copy("mp1")
        let destination = scratch.path("out")
        try Self.convert(source, destination, tp: 4)

        let refused = try CommandRunner.glm(
            ["convert", "--from", source.path, "--to", destination.path, "--tp", "2"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("already contains a checkpoint"), "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("--force"), "stderr: \(refused.stderr)")
        #expect(try Self.shardFiles(destination).count == 4, "a refused conversion must not touch the destination")

        // With --force the stale mp_rank_02/03 files go too, so the result reads as MP=2, not as a broken MP=4.
        try Self.convert(source, destination, tp: 2, ["--force"])
        #expect(try Self.shardFiles(destination) == (0..<2).map(CheckpointDirectory.shardName(rank:)))
        let merged = scratch.path("merged")
        try Self.convert(destination, merged, tp: 1)
        try Self.expectSameTensors(merged, Self.fixture.appendingPathComponent("mp1"))

        let same = try CommandRunner.glm(
            ["convert", "--from", source.path, "--to", source.path, "--tp", "1", "--force"])
        #expect(same.status != 0)
        #expect(same.stderr.contains("--to must differ"), "stderr: \(same.stderr)")
    }
}
