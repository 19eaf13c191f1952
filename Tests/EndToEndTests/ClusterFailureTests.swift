import Checkpoint
import Foundation
import TestSupport
import Testing

/// Fail fast, never hang: a bad job ends every rank with one clear message from rank 0 and a non-zero exit.
@Suite struct ClusterFailureTests {
    static let shard1 = "49300/mp_rank_01_model_states.pt"

    static func copyOfMP2() throws -> URL {
        let root = try CommandRunner.temporaryDirectory("cluster-failure")
        let copy = root.appendingPathComponent("mp2")
        try FileManager.default.copyItem(
            at: Fixture.mp2Directory, to: copy)
        for file in try FileManager.default.subpathsOfDirectory(atPath: copy.path) {
            try FileManager.default.setAttributes(
                [.posixPermissions: 0o755], ofItemAtPath: copy.appendingPathComponent(file).path)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        return copy
    }

    /// Runs a 2-rank job expected to fail and returns its stderr.
    static func failingJob(_ ranks: Int, _ arguments: [String]) throws -> String {
        let started = Date()
        let result = try CommandRunner.mpirun(ranks, arguments, timeout: 60)
        let seconds = Date().timeIntervalSince(started)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        #expect(seconds < 30, "took \(seconds) s")
        #expect(!result.stderr.contains("Fatal error"), "a rank crashed: \(result.stderr)")
        return result.stderr
    }

    @Test func wrongWorldSizeStopsEveryRank() throws {
        let model = try Self.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let stderr = try Self.failingJob(2, ["generate", "--model", model.path, "--prompt", "hi", "--tp", "4"])
        #expect(stderr.contains("--tp 4 needs 4 MPI ranks but the job has 2"))
        // One message, from rank 0 only.
        #expect(stderr.components(separatedBy: "needs 4 MPI ranks").count == 2, "\(stderr)")
    }

    @Test func missingShardStopsEveryRank() throws {
        let model = try Self.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let shard = model.appendingPathComponent("49300/mp_rank_01_model_states.pt")
        try FileManager.default.removeItem(at: shard)
        let stderr = try Self.failingJob(
            2, ["generate", "--model", model.path, "--prompt", "hi", "--max-new-tokens", "2"])
        #expect(stderr.contains("mp_rank_01_model_states.pt") || stderr.contains("shape [75264, 32]"), "\(stderr)")
    }

    @Test func corruptedShardStopsEveryRank() throws {
        let model = try Self.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let shard = model.appendingPathComponent("49300/mp_rank_01_model_states.pt")
        // Overwrite the pickle at the start of the archive with garbage.
        let handle = try FileHandle(forWritingTo: shard)
        try handle.seek(toOffset: 80)
        try handle.write(contentsOf: Data(repeating: 0xAB, count: 400))
        try handle.close()
        let stderr = try Self.failingJob(
            2, ["generate", "--model", model.path, "--prompt", "hi", "--max-new-tokens", "2"])
        #expect(stderr.contains("mp_rank_01_model_states.pt"), "\(stderr)")
        #expect(stderr.contains("rank 1"), "the failing rank is named: \(stderr)")
    }

    /// One changed bit in a weight that only rank 1 reads: without the zip checksum this generated other answers
    /// with exit status 0.
    @Test func flippedBitInAWeightStopsEveryRank() throws {
        let model = try Self.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let shard = model.appendingPathComponent("49300/mp_rank_01_model_states.pt")
        let key = "transformer.layers.1.mlp.dense_4h_to_h.weight"
        let file = try TorchCheckpointFile(path: shard.path)
        let storage = try #require(
            file.archive.entry(named: "\(file.prefix)/data/\(try file.tensor(named: key).storageKey)"))
        var bytes = try Data(contentsOf: shard)
        bytes[storage.dataOffset + 37] ^= 0x04
        try bytes.write(to: shard)
        let stderr = try Self.failingJob(
            2, ["generate", "--model", model.path, "--prompt", "hi", "--max-new-tokens", "2"])
        #expect(stderr.contains(shard.path) && stderr.contains(key) && stderr.contains("damaged"), "\(stderr)")
        #expect(stderr.contains("rank 1"), "the failing rank is named: \(stderr)")
    }

    @Test func tpThatDoesNotDivideTheModelIsRejected() throws {
        let model = try Self.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        let stderr = try Self.failingJob(3, ["generate", "--model", model.path, "--prompt", "hi"])
        #expect(stderr.contains("does not divide num_attention_heads = 4"), "\(stderr)")
    }
}

/// `--preset glm-130b` supplies the real configuration when a directory has no config.json.
@Suite struct PresetTests {
    @Test func presetIsUsedWithoutConfigJSONAndChecksShapes() throws {
        let model = try ClusterFailureTests.copyOfMP2()
        defer { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        try FileManager.default.removeItem(at: model.appendingPathComponent("config.json"))

        let without = try CommandRunner.glm(["generate", "--model", model.path, "--prompt", "hi"])
        #expect(without.status == 1)
        #expect(without.stderr.contains("config.json") && without.stderr.contains("--preset glm-130b"))

        // The preset's tokenizer layout works with the fixture's ice_text.model...
        let tokens = try CommandRunner.glm([
            "tokenize", "--model", model.path, "--preset", "glm-130b", "--text", "Hello",
        ])
        #expect(tokens.status == 0, "\(tokens.stderr)")
        #expect(!tokens.stdout.isEmpty)
        // ...and its GLM-130B shapes are checked against the tiny checkpoint, by key, file and expected shape.
        let run = try CommandRunner.glm(["generate", "--model", model.path, "--preset", "glm-130b", "--prompt", "hi"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("expected [75264, 12288]"), "\(run.stderr)")
        #expect(run.stderr.contains("mp_rank_00_model_states.pt"))

        let unknown = try CommandRunner.glm(["tokenize", "--model", model.path, "--preset", "glm-7b", "--text", "x"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("unknown preset \"glm-7b\""))
    }

    /// An MPMD launch whose parts differ: each part's arguments after `-np 1` and the binary.
    static func mpmd(_ parts: [[String]]) throws -> CommandRunner.Result {
        var arguments = [
            "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--hostfile",
            CommandRunner.packageRoot.appendingPathComponent("hostfiles/localhost").path,
        ]
        for (index, part) in parts.enumerated() {
            if index > 0 { arguments.append(":") }
            arguments += ["-np", "1", CommandRunner.glmcluster] + part
        }
        return try CommandRunner.run("/usr/bin/env", arguments, timeout: 60)
    }

    /// Ranks started with different subcommands deadlocked, and with different --kv-cache or --quantize ran with
    /// mixed settings: both now stop at once, naming what each rank runs. Per-rank thread counts stay allowed.
    @Test func ranksStartedDifferentlyStopBeforeTheyDiverge() throws {
        let model = Fixture.checkpointDirectory.path
        let generate = ["generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "2", "--threads", "1"]
        let cases: [([String], String)] = [
            (["logits", "--model", model, "--prompt", "Hello", "--out", "/dev/null"], "ranks 1 run logits"),
            (generate + ["--kv-cache", "fp16"], "--kv-cache fp16"),
            (generate + ["--quantize", "int8"], "--quantize int8"),
        ]
        for (second, mention) in cases {
            let started = Date()
            let result = try Self.mpmd([generate, second])
            #expect(result.status != 0 && Date().timeIntervalSince(started) < 30, "\(second): \(result.stderr)")
            #expect(result.stderr.contains("started with different commands or settings"), "\(result.stderr)")
            #expect(result.stderr.contains(mention), "\(result.stderr)")
        }
        let threads = try Self.mpmd([generate, Array(generate.dropLast(2)) + ["--threads", "2"]])
        #expect(threads.status == 0, "\(threads.stderr)")
    }

    /// Ranks started with different --tp all stop (the one whose --tp fit used to wait for ever), and different
    /// --peer-timeout values take rank 0's (a rank that did not watch used to leave the other waiting).
    @Test func ranksWithDifferentTensorParallelOrTimeoutSettingsDoNotHang() throws {
        let model = Fixture.checkpointDirectory.path
        let generate = ["generate", "--model", model, "--prompt", "Hello", "--max-new-tokens", "2", "--threads", "1"]
        let started = Date()
        let tp = try Self.mpmd([generate + ["--tp", "1"], generate + ["--tp", "2"]])
        #expect(tp.status != 0 && Date().timeIntervalSince(started) < 30, "\(tp.stderr)")
        #expect(tp.stderr.contains("--tp 1 needs 1 MPI ranks but the job has 2"), "\(tp.stderr)")
        let timeouts = try Self.mpmd([generate + ["--peer-timeout", "3"], generate + ["--peer-timeout", "0"]])
        #expect(timeouts.status == 0, "\(timeouts.stderr)")
        #expect(!timeouts.stdout.isEmpty)
    }

    /// Two checkpoints of the same shapes and file sizes but other weights: the ranks used to mix them silently.
    @Test func ranksReadingCheckpointsWithOtherWeightsStop() throws {
        let first = try ClusterFailureTests.copyOfMP2()
        let second = try ClusterFailureTests.copyOfMP2()
        defer {
            for model in [first, second] { try? FileManager.default.removeItem(at: model.deletingLastPathComponent()) }
        }
        // Shard 1 of both copies rewritten by the project's writer, the second with one weight changed: the same
        // names, shapes and file sizes.
        let original = try TorchCheckpointFile(path: first.appendingPathComponent(ClusterFailureTests.shard1).path)
        let tensors = try original.tensors.map {
            ($0.name, HalfTensor(shape: $0.shape, values: try original.float16($0.name)))
        }
        var changed = tensors
        changed[3].1.values[0] += 1
        for (model, shard) in [(first, tensors), (second, changed)] {
            try TorchCheckpointWriter.write(shard, to: model.appendingPathComponent(ClusterFailureTests.shard1))
        }
        let sizes = try [first, second].map {
            try FileManager.default.attributesOfItem(
                atPath: $0.appendingPathComponent(ClusterFailureTests.shard1).path)[.size]
                as? UInt
        }
        #expect(sizes[0] == sizes[1])
        let arguments = ["generate", "--prompt", "Hello", "--max-new-tokens", "2", "--threads", "1", "--model"]
        let started = Date()
        let result = try Self.mpmd([arguments + [first.path], arguments + [second.path]])
        #expect(result.status != 0 && Date().timeIntervalSince(started) < 30, "\(result.stderr)")
        #expect(result.stderr.contains("contents"), "\(result.stderr)")
    }
}
