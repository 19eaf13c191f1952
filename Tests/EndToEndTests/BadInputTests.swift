import Checkpoint
import Foundation
import Glibc
import TestSupport
import Testing

/// The real `glmcluster` binary on broken checkpoints, configurations and command lines: every case must fail
/// quickly with a non-zero exit status (not a signal), print nothing on stdout, and name on stderr the file,
/// field, key or option concerned. Every bad input is built at test time from a copy of the official fixture;
/// the fixture itself is never written. `GLMCLUSTER_SHOW_ERRORS=1` prints each message, to review its wording.
@Suite struct BadInputTests {
    static let fixture = Fixture.root
    static let generateArguments = ["--prompt", "hello", "--greedy", "--max-new-tokens", "2"]
    static let shard0 = "49300/mp_rank_00_model_states.pt"
    static let shard1 = "49300/mp_rank_01_model_states.pt"

    // MARK: - Helpers

    /// A scratch folder holding a copy of fixture `variant` (mp1 or mp2) at `<scratch>/model`.
    struct Scratch {
        let root: URL
        var model: URL { root.appendingPathComponent("model") }
        func file(_ relative: String) -> URL { model.appendingPathComponent(relative) }

        init(_ name: String, copying variant: String? = "mp1") throws {
            root = try CommandRunner.temporaryDirectory("bad-input-\(name)")
            if let variant {
                try FileManager.default.copyItem(at: BadInputTests.fixture.appendingPathComponent(variant), to: model)
            }
        }

        func remove() { try? FileManager.default.removeItem(at: root) }

        /// Rewrites `config.json` after `edit` changes its JSON object.
        func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
            let url = file("config.json")
            var object = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            edit(&object)
            try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: url)
        }

        func truncate(_ relative: String, to size: (Int) -> Int) throws {
            let url = file(relative)
            let data = try Data(contentsOf: url)
            try data.prefix(size(data.count)).write(to: url)
        }
    }

    /// Statuses of a process killed by a signal (Foundation reports the signal number) or by a Swift trap as a
    /// shell would report it (128 + SIGILL/SIGTRAP/SIGABRT).
    static let crashStatuses: Set<Int32> = [4, 5, 6, 7, 8, 9, 11, 15, 132, 133, 134, 135, 136, 137, 139, 143]

    /// Runs `glmcluster arguments`; expects a clean failure whose stderr contains every string of `mentions`.
    @discardableResult
    static func expectFailure(
        _ label: String, _ arguments: [String], mentions: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> CommandRunner.Result {
        let start = Date()
        let result = try CommandRunner.run(CommandRunner.glmcluster, arguments, timeout: 60)
        let seconds = Date().timeIntervalSince(start)
        if ProcessInfo.processInfo.environment["GLMCLUSTER_SHOW_ERRORS"] != nil {
            print("[\(label)] exit \(result.status), \(String(format: "%.2f", seconds)) s\n\(result.stderr)")
        }
        #expect(
            !crashStatuses.contains(result.status), "\(label): crashed with status \(result.status): \(result.stderr)",
            sourceLocation: sourceLocation)
        // ArgumentParser: 1 for errors thrown by a command, 64 (EX_USAGE) for validation errors.
        #expect(
            result.status == 1 || result.status == 64, "\(label): exit status \(result.status)",
            sourceLocation: sourceLocation)
        #expect(seconds < 30, "\(label): took \(seconds) s", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(label): unexpected stdout: \(result.stdout)", sourceLocation: sourceLocation)
        #expect(
            result.stderr.hasPrefix("Error: "), "\(label): stderr: \(result.stderr)", sourceLocation: sourceLocation)
        for marker in ["Fatal error", "Stack dump", "Program crashed", "Segmentation fault"] {
            #expect(!result.stderr.contains(marker), "\(label): \(result.stderr)", sourceLocation: sourceLocation)
        }
        for text in mentions {
            #expect(
                result.stderr.contains(text), "\(label): stderr should mention \"\(text)\": \(result.stderr)",
                sourceLocation: sourceLocation)
        }
        return result
    }

    static func generate(_ model: URL) -> [String] { ["generate", "--model", model.path] + generateArguments }

    static func logits(_ model: URL, _ scratch: Scratch, _ input: [String] = ["--prompt", "hello"]) -> [String] {
        ["logits", "--model", model.path] + input + ["--out", scratch.root.appendingPathComponent("logits.f32").path]
    }

    static func tokenize(_ model: URL) -> [String] { ["tokenize", "--model", model.path, "--text", "hello"] }

    /// Every tensor of the fixture's MP=1 shard, in checkpoint order.
    static func fixtureTensors() throws -> [(String, HalfTensor)] {
        let file = try TorchCheckpointFile(url: fixture.appendingPathComponent("mp1").appendingPathComponent(shard0))
        return try file.tensors.map { tensor in
            (tensor.name, HalfTensor(shape: tensor.shape, values: try file.float16(tensor.name)))
        }
    }

    /// A checkpoint written by `TorchCheckpointWriter` from `tensors`, with the fixture's config and tokenizer.
    static func writtenCheckpoint(_ name: String, _ tensors: [(String, HalfTensor)]) throws -> Scratch {
        let scratch = try Scratch(name, copying: nil)
        try TorchCheckpointWriter.writeCheckpointDirectory(shards: [tensors], to: scratch.model, iteration: 49300)
        for file in ["config.json", "ice_text.model"] {
            try FileManager.default.copyItem(
                at: fixture.appendingPathComponent("mp1").appendingPathComponent(file),
                to: scratch.model.appendingPathComponent(file))
        }
        return scratch
    }

    // MARK: - Controls: the copies themselves work, so each failure below comes from the damage done to them

    @Test(arguments: ["mp1", "mp2"])
    func untouchedCopyGenerates(variant: String) throws {
        let scratch = try Scratch("control-\(variant)", copying: variant)
        defer { scratch.remove() }
        let result = try CommandRunner.run(CommandRunner.glmcluster, Self.generate(scratch.model), timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.isEmpty)
    }

    @Test func rewrittenCheckpointGenerates() throws {
        let scratch = try Self.writtenCheckpoint("control-written", try Self.fixtureTensors())
        defer { scratch.remove() }
        let result = try CommandRunner.run(CommandRunner.glmcluster, Self.generate(scratch.model), timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.isEmpty)
    }

    // MARK: - 1. Truncated shards

    @Test(arguments: ["half", "100 bytes"])
    func truncatedShard(cut: String) throws {
        let scratch = try Scratch("truncated")
        defer { scratch.remove() }
        try scratch.truncate(Self.shard0) { cut == "half" ? $0 / 2 : 100 }
        let path = scratch.file(Self.shard0).path
        try Self.expectFailure(
            "truncated \(cut) generate", Self.generate(scratch.model), mentions: ["truncated", path])
        try Self.expectFailure(
            "truncated \(cut) logits", Self.logits(scratch.model, scratch), mentions: ["truncated", path])
        #expect(!FileManager.default.fileExists(atPath: scratch.root.appendingPathComponent("logits.f32").path))
    }

    /// Shard 1 of an MP=2 checkpoint is opened lazily, after shard 0 has been read.
    @Test func truncatedSecondShard() throws {
        let scratch = try Scratch("truncated-rank1", copying: "mp2")
        defer { scratch.remove() }
        try scratch.truncate(Self.shard1) { $0 / 2 }
        try Self.expectFailure(
            "truncated mp_rank_01", Self.generate(scratch.model),
            mentions: ["truncated", scratch.file(Self.shard1).path])
    }

    // MARK: - 2. Wrong shapes

    @Test(arguments: ["mp1", "mp2"])
    func configHiddenSizeDisagreesWithCheckpoint(variant: String) throws {
        let scratch = try Scratch("hidden-48-\(variant)", copying: variant)
        defer { scratch.remove() }
        try scratch.editConfig { $0["hidden_size"] = 48 }  // 4 heads of 12: a valid configuration
        let result = try Self.expectFailure(
            "hidden_size 48 (\(variant))", Self.generate(scratch.model),
            mentions: [scratch.file(Self.shard0).path, scratch.file("config.json").path, "hidden_size 48"])
        // Whichever tensor is read first: its key, the shape found (hidden 32) and the one expected (hidden 48).
        #expect(
            result.stderr.contains(
                /tensor 'transformer\.[a-z0-9_.]+' has shape \[[0-9, ]*32[0-9, ]*\], expected \[[0-9, ]*48[0-9, ]*\]/),
            "\(result.stderr)")
    }

    @Test func tensorWithWrongShape() throws {
        let key = "transformer.layers.1.attention.dense.weight"
        var tensors = try Self.fixtureTensors()
        let index = try #require(tensors.firstIndex { $0.0 == key })
        #expect(tensors[index].1.shape == [32, 32])
        tensors[index].1 = HalfTensor(shape: [32, 24], values: [Float16](repeating: 0.5, count: 32 * 24))
        let scratch = try Self.writtenCheckpoint("wrong-shape", tensors)
        defer { scratch.remove() }
        try Self.expectFailure(
            "wrong-shaped tensor", Self.generate(scratch.model),
            mentions: [scratch.file(Self.shard0).path, "'\(key)'", "has shape [32, 24]", "expected [32, 32]"])
    }

    // MARK: - 3. Missing key

    @Test func tensorMissing() throws {
        let key = "transformer.layers.1.mlp.dense_4h_to_h.bias"
        let tensors = try Self.fixtureTensors()
        #expect(tensors.contains { $0.0 == key })
        let scratch = try Self.writtenCheckpoint("missing-key", tensors.filter { $0.0 != key })
        defer { scratch.remove() }
        try Self.expectFailure(
            "missing key", Self.generate(scratch.model),
            mentions: [scratch.file(Self.shard0).path, "'\(key)'", "not found"])
    }

    /// More layers in config.json than in the checkpoint: the first absent key is named.
    @Test func configHasMoreLayersThanCheckpoint() throws {
        let scratch = try Scratch("three-layers")
        defer { scratch.remove() }
        try scratch.editConfig { $0["num_layers"] = 3 }
        try Self.expectFailure(
            "num_layers 3", Self.generate(scratch.model),
            mentions: [
                scratch.file(Self.shard0).path, "'transformer.layers.2.input_layernorm.weight'", "not found",
                "num_layers 3",
            ])
    }

    /// Fewer layers in config.json than in the checkpoint: the extra layers were silently ignored.
    @Test func configHasFewerLayersThanCheckpoint() throws {
        let scratch = try Scratch("one-layer")
        defer { scratch.remove() }
        try scratch.editConfig { $0["num_layers"] = 1 }
        try Self.expectFailure(
            "num_layers 1", Self.generate(scratch.model),
            mentions: [scratch.file(Self.shard0).path, "holds 2 layers", "num_layers = 1"])
    }

    // MARK: - 4. Malicious pickle

    /// A checkpoint-shaped zip whose data.pkl, pickled by CPython, calls `os.system` when unpickled by pickle.
    static let maliciousPickleScript = """
        import os, pickle, shlex, sys, zipfile
        out, marker, protocol = sys.argv[1], sys.argv[2], int(sys.argv[3])
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch " + shlex.quote(marker),))
        data = pickle.dumps({"module": {"transformer.word_embeddings.weight": Payload()}}, protocol=protocol)
        assert b"system" in data
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", data)
            z.writestr("archive/byteorder", "little")
            z.writestr("archive/version", "3\\n")
        """

    @Test(arguments: [2, 4])
    func maliciousPickleIsRefused(protocol version: Int) throws {
        let scratch = try Scratch("pickle-\(version)")
        defer { scratch.remove() }
        let shard = scratch.file(Self.shard0)
        let marker = scratch.root.appendingPathComponent("pwned")
        try FileManager.default.removeItem(at: shard)
        let python = try CommandRunner.python(["-c", Self.maliciousPickleScript, shard.path, marker.path, "\(version)"])
        try #require(python.status == 0, "python: \(python.stderr)")
        try #require(!FileManager.default.fileExists(atPath: marker.path))
        try Self.expectFailure(
            "malicious pickle (protocol \(version))", Self.generate(scratch.model),
            mentions: [shard.path, "posix.system"])
        try Self.expectFailure(
            "malicious pickle logits (protocol \(version))", Self.logits(scratch.model, scratch),
            mentions: [shard.path, "posix.system"])
        #expect(!FileManager.default.fileExists(atPath: marker.path), "the pickle's command ran")
    }

    // MARK: - 5. Bad config.json

    static let configCases: [(name: String, field: String, edit: @Sendable (inout [String: Any]) -> Void)] = [
        ("heads not dividing hidden", "num_attention_heads", { $0["num_attention_heads"] = 5 }),
        ("negative num_layers", "num_layers", { $0["num_layers"] = -2 }),
        ("missing field", "inner_hidden_size", { $0["inner_hidden_size"] = nil }),
        (
            "missing nested field", "tokenizer.eos",
            {
                var tokenizer = $0["tokenizer"] as! [String: Any]
                tokenizer["eos"] = nil
                $0["tokenizer"] = tokenizer
            }
        ),
        ("string for hidden_size", "hidden_size", { $0["hidden_size"] = "32" }),
        ("null hidden_size", "hidden_size", { $0["hidden_size"] = NSNull() }),
        (
            "command_tokens_start beyond vocab", "tokenizer.command_tokens_start",
            {
                var tokenizer = $0["tokenizer"] as! [String: Any]
                tokenizer["command_tokens_start"] = 150525  // + 8 command tokens > vocab_size 150528
                $0["tokenizer"] = tokenizer
            }
        ),
    ]

    @Test(arguments: configCases.map(\.name))
    func badConfiguration(name: String) throws {
        let badCase = try #require(Self.configCases.first { $0.name == name })
        let scratch = try Scratch("config-\(name.replacingOccurrences(of: " ", with: "-"))")
        defer { scratch.remove() }
        try scratch.editConfig(badCase.edit)
        let mentions = [scratch.file("config.json").path, "\"\(badCase.field)\""]
        try Self.expectFailure("config \(name) generate", Self.generate(scratch.model), mentions: mentions)
        try Self.expectFailure("config \(name) tokenize", Self.tokenize(scratch.model), mentions: mentions)
    }

    @Test func configurationIsNotJSON() throws {
        let scratch = try Scratch("config-not-json")
        defer { scratch.remove() }
        try Data("num_layers = 2 # not JSON {".utf8).write(to: scratch.file("config.json"))
        let mentions = [scratch.file("config.json").path, "not valid JSON"]
        try Self.expectFailure("config not JSON generate", Self.generate(scratch.model), mentions: mentions)
        try Self.expectFailure("config not JSON tokenize", Self.tokenize(scratch.model), mentions: mentions)
    }

    // MARK: - 6. Missing files

    @Test func missingLatest() throws {
        let scratch = try Scratch("no-latest")
        defer { scratch.remove() }
        try FileManager.default.removeItem(at: scratch.file("latest"))
        let latest = scratch.file("latest").path
        try Self.expectFailure("missing latest", Self.generate(scratch.model), mentions: ["'latest'", latest])
        try Self.expectFailure("missing latest logits", Self.logits(scratch.model, scratch), mentions: [latest])
    }

    /// Without its last shard an MP=2 checkpoint looks like an MP=1 one with half-sized tensors; the message must
    /// give the shard count it assumed.
    @Test func missingLastShard() throws {
        let scratch = try Scratch("no-rank1", copying: "mp2")
        defer { scratch.remove() }
        try FileManager.default.removeItem(at: scratch.file(Self.shard1))
        try Self.expectFailure(
            "missing mp_rank_01", Self.generate(scratch.model),
            mentions: [scratch.file(Self.shard0).path, "expected [", "the 1 mp_rank file found", "missing"])
    }

    @Test func missingFirstShard() throws {
        let scratch = try Scratch("no-rank0", copying: "mp2")
        defer { scratch.remove() }
        try FileManager.default.removeItem(at: scratch.file(Self.shard0))
        try Self.expectFailure(
            "missing mp_rank_00", Self.generate(scratch.model), mentions: [scratch.file(Self.shard0).path, "missing"])
    }

    @Test func missingTokenizerModel() throws {
        let scratch = try Scratch("no-tokenizer")
        defer { scratch.remove() }
        try FileManager.default.removeItem(at: scratch.file("ice_text.model"))
        let mentions = ["tokenizer model", scratch.file("ice_text.model").path]
        try Self.expectFailure("missing tokenizer generate", Self.generate(scratch.model), mentions: mentions)
        try Self.expectFailure("missing tokenizer tokenize", Self.tokenize(scratch.model), mentions: mentions)
    }

    /// A tokenizer path that is a directory aborted inside SentencePiece (a C++ exception), and /dev/zero was read
    /// for ever: both are clean errors naming the path.
    @Test(arguments: ["directory", "/dev/zero"])
    func tokenizerThatIsNotAFile(kind: String) throws {
        let scratch = try Scratch("tokenizer-\(kind == "directory" ? "dir" : "zero")")
        defer { scratch.remove() }
        let path = kind == "directory" ? scratch.root.path : kind
        try scratch.editConfig { config in
            var tokenizer = config["tokenizer"] as? [String: Any] ?? [:]
            tokenizer["model"] = path
            config["tokenizer"] = tokenizer
        }
        let mentions = ["tokenizer model", path, kind == "directory" ? "is a directory" : "not a regular file"]
        try Self.expectFailure("tokenizer \(kind) tokenize", Self.tokenize(scratch.model), mentions: mentions)
        try Self.expectFailure("tokenizer \(kind) generate", Self.generate(scratch.model), mentions: mentions)
    }

    /// A model larger than the node's memory stops before loading, naming the node and both sizes, instead of
    /// being killed by the OOM killer halfway: the GLM-130B preset at TP 1 (about 240 GiB of fp16 weights) over the
    /// fixture's shard 0 and a sparse 300 GB shard 1 (shards past the first open only when read).
    @Test func weightsLargerThanTheNodesMemory() throws {
        let scratch = try Scratch("too-large", copying: "mp2")
        defer { scratch.remove() }
        try FileManager.default.removeItem(at: scratch.file("config.json"))
        let shard1 = scratch.file("49300/mp_rank_01_model_states.pt").path
        #expect(truncate(shard1, 300_000_000_000) == 0)
        try Self.expectFailure(
            "weights larger than memory",
            ["generate", "--model", scratch.model.path, "--preset", "glm-130b", "--prompt", "hi"],
            mentions: ["the weights of its ranks need about 239", "GiB is available", "--tp"])
    }

    @Test func modelDirectoryDoesNotExist() throws {
        let scratch = try Scratch("no-dir", copying: nil)
        defer { scratch.remove() }
        try Self.expectFailure(
            "no such --model", Self.generate(scratch.model),
            mentions: ["--model", scratch.model.path, "no such directory"])
        try Self.expectFailure(
            "no such --model tokenize", Self.tokenize(scratch.model), mentions: ["--model", scratch.model.path])
    }

    // MARK: - 7. Command-line misuse

    static let fixtureModel = fixture.appendingPathComponent("mp1")

    @Test func idsWithoutStartOfPiece() throws {
        let scratch = try Scratch("ids-no-sop", copying: nil)
        defer { scratch.remove() }
        try Self.expectFailure(
            "--ids without <sop>", Self.logits(Self.fixtureModel, scratch, ["--ids", "20005,150001,20010"]),
            mentions: ["--ids", "<sop>", "150004", "20010"])
        #expect(!FileManager.default.fileExists(atPath: scratch.root.appendingPathComponent("logits.f32").path))
    }

    @Test func idsWithoutBlank() throws {
        let scratch = try Scratch("ids-no-mask", copying: nil)
        defer { scratch.remove() }
        try Self.expectFailure(
            "--ids without a mask", Self.logits(Self.fixtureModel, scratch, ["--ids", "20005,150004"]),
            mentions: ["--ids", "[gMASK]"])
    }

    @Test(arguments: ["20005,abc,150004", "150528,150001,150004", "20005, 1.5,150004"])
    func idsNotTokenIds(ids: String) throws {
        let scratch = try Scratch("ids-bad", copying: nil)
        defer { scratch.remove() }
        let bad = ids.split(whereSeparator: { $0 == "," || $0 == " " }).first { Int($0).map { $0 >= 150528 } ?? true }!
        try Self.expectFailure(
            "--ids \(ids)", Self.logits(Self.fixtureModel, scratch, ["--ids", ids]),
            mentions: ["--ids", "\"\(bad)\"", "150528"])
        try Self.expectFailure(
            "detokenize --ids \(ids)", ["detokenize", "--model", Self.fixtureModel.path, "--ids", ids],
            mentions: ["--ids", "\"\(bad)\""])
    }

    @Test func logitsWithPromptAndIds() throws {
        let scratch = try Scratch("logits-both", copying: nil)
        defer { scratch.remove() }
        try Self.expectFailure(
            "logits --prompt and --ids",
            Self.logits(Self.fixtureModel, scratch, ["--prompt", "hello", "--ids", "20005,150001,150004"]),
            mentions: ["--prompt", "--ids"])
        try Self.expectFailure(
            "logits without --prompt or --ids", Self.logits(Self.fixtureModel, scratch, []),
            mentions: ["--prompt", "--ids"])
    }

    @Test func generationOptionsOutOfRange() throws {
        let model = Self.fixtureModel.path
        try Self.expectFailure(
            "--max-length 0", ["generate", "--model", model, "--prompt", "hello", "--greedy", "--max-length", "0"],
            mentions: ["--max-length", "0"])
        try Self.expectFailure(
            "--top-p 2", ["generate", "--model", model, "--prompt", "hello", "--top-p", "2", "--max-new-tokens", "2"],
            mentions: ["--top-p", "[0, 1]", "2"])
        try Self.expectFailure(
            "--temperature 0",
            ["generate", "--model", model, "--prompt", "hello", "--temperature", "0", "--max-new-tokens", "2"],
            mentions: ["--temperature"])
        try Self.expectFailure(
            "--max-new-tokens x",
            ["generate", "--model", model, "--prompt", "hello", "--greedy", "--max-new-tokens", "x"],
            mentions: ["--max-new-tokens", "'x'"])
        try Self.expectFailure(
            "--max-length and --max-new-tokens",
            [
                "generate", "--model", model, "--prompt", "hello", "--greedy", "--max-length", "9", "--max-new-tokens",
                "2",
            ],
            mentions: ["--max-length", "--max-new-tokens"])
    }

    // MARK: - Found by a fresh campaign after the first round of fixes

    /// Values the old checks let through: a temperature whose reciprocal overflows fp32 (the probabilities became
    /// NaN and generation went on with exit 0), a length penalty that makes beam scores infinite.
    @Test func temperaturesAndPenaltiesThatBreakTheArithmetic() throws {
        let model = Self.fixtureModel.path
        let base = ["generate", "--model", model, "--prompt", "hello", "--max-new-tokens", "2"]
        try Self.expectFailure(
            "--temperature 1e-44", base + ["--temperature", "1e-44"], mentions: ["--temperature", "at least"])
        try Self.expectFailure(
            "--length-penalty -200", base + ["--num-beams", "2", "--length-penalty=-200"],
            mentions: ["--length-penalty", "[-20, 20]"])
    }

    /// A FIFO in place of a shard used to block the open for ever.
    @Test func aShardThatIsAPipeIsRefused() throws {
        let scratch = try Scratch("fifo-shard")
        defer { scratch.remove() }
        let shard = scratch.file(Self.shard0).path
        try FileManager.default.removeItem(atPath: shard)
        #expect(mkfifo(shard, 0o644) == 0)
        try Self.expectFailure("FIFO shard", Self.generate(scratch.model), mentions: [shard, "not a regular file"])
    }

    /// An answer that cannot be written is an error, not a silent exit 0.
    @Test func anUnwritableStandardOutputIsAnError() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.glmcluster)
        process.arguments = ["tokenize", "--model", Self.fixtureModel.path, "--text", "hello"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("cannot write the output to standard output"), "\(stderr)")
    }

    /// `bench --svg` replaced whatever was at the path (a device, as root) after the whole sweep; it now checks the
    /// path before any work. A pipe stands in for the device here.
    @Test func benchChartPathsAreCheckedFirst() throws {
        let scratch = try Scratch("svg", copying: nil)
        defer { scratch.remove() }
        let fifo = scratch.root.appendingPathComponent("chart.svg").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let sweep = [
            "bench", "--config", CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path,
            "--prompt-tokens", "8", "--gen-tokens", "2", "--batch-sizes", "1", "--svg",
        ]
        try Self.expectFailure("--svg FIFO", sweep + [fifo], mentions: [fifo, "not a file it can write"])
        var info = stat()
        #expect(stat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO, "the pipe was replaced")
        try Self.expectFailure("--svg folder", sweep + [scratch.root.path], mentions: ["is a directory"])
        try Self.expectFailure(
            "--svg missing folder", sweep + [scratch.root.appendingPathComponent("no/chart.svg").path],
            mentions: ["does not exist"])
    }

    /// Output directories: an empty path meant the current folder; create-model overwrote a checkpoint (leaving
    /// stale shards of a higher MP degree) and accepted an eos scale that made every later load fail.
    @Test func outputDirectoriesAndDemoOptions() throws {
        let scratch = try Scratch("outputs", copying: nil)
        defer { scratch.remove() }
        try Self.expectFailure(
            "convert --to ''", ["convert", "--from", Self.fixtureModel.path, "--to", "", "--tp", "1"],
            mentions: ["--to must name a directory"])
        let config = CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path
        let out = scratch.root.appendingPathComponent("demo").path
        func create(mp: Int, out: String) -> [String] {
            ["create-model", "--config", config, "--mp", "\(mp)", "--out", out]
        }
        try Self.expectFailure(
            "--eos-scale nan", create(mp: 2, out: out) + ["--eos-scale", "nan"], mentions: ["--eos-scale"])
        let first = try CommandRunner.glm(create(mp: 2, out: out))
        #expect(first.status == 0, "\(first.stderr)")
        try Self.expectFailure(
            "create-model over a checkpoint", create(mp: 2, out: out), mentions: ["already contains", "--force"])
        let forced = try CommandRunner.glm(create(mp: 1, out: out) + ["--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/1/mp_rank_01_model_states.pt"), "a stale shard")
        let file = scratch.root.appendingPathComponent("file").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try Self.expectFailure(
            "create-model --out FILE", create(mp: 1, out: file), mentions: [file, "not a directory"])
    }

    // MARK: - Found by the second fresh campaign

    /// A reader that goes away (`| head`) used to kill the process with SIGPIPE and no message.
    @Test func aClosedPipeIsAnErrorNotASignal() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.glmcluster)
        process.arguments = [
            "tokenize", "--model", Self.fixtureModel.path, "--text", String(repeating: "hello world ", count: 5000),
        ]
        let output = Pipe()
        try output.fileHandleForReading.close()  // nobody will read
        process.standardOutput = output
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("Broken pipe"), "\(stderr)")
    }

    /// A pipe as config.json or `latest` was reported as "Permission denied".
    @Test func inputsThatAreNotFilesAreNamedAsSuch() throws {
        let scratch = try Scratch("fifo-inputs")
        defer { scratch.remove() }
        for name in ["config.json", "latest"] {
            let path = scratch.file(name).path
            let saved = try Data(contentsOf: URL(fileURLWithPath: path))
            try FileManager.default.removeItem(atPath: path)
            #expect(mkfifo(path, 0o644) == 0)
            try Self.expectFailure(
                "FIFO \(name)", Self.generate(scratch.model), mentions: [path, "not a regular file"])
            try FileManager.default.removeItem(atPath: path)
            try saved.write(to: URL(fileURLWithPath: path))
        }
    }

    /// A thousand blanks ran for minutes (one prefill of the whole context per blank); a too-short
    /// --peer-timeout took healthy ranks for lost ones.
    @Test func blanksAndTimeoutsAreBounded() throws {
        let model = Self.fixtureModel.path
        let masks = String(repeating: "x [MASK] ", count: 200)
        try Self.expectFailure(
            "200 blanks", ["generate", "--model", model, "--prompt", masks, "--greedy", "--max-new-tokens", "2"],
            mentions: ["200 [MASK] blanks", "at most 128"])
        try Self.expectFailure(
            "--peer-timeout 1e-9", ["generate", "--model", model, "--prompt", "hi", "--peer-timeout", "1e-9"],
            mentions: ["--peer-timeout must be 0 (off) or between 2 and 86400"])
    }

    // MARK: - Found by the third fresh campaign

    /// `logits --out` into a pipe blocked for ever after the work; an empty path meant the working directory.
    @Test func outputAndModelPathsAreCheckedFirst() throws {
        let scratch = try Scratch("logits-fifo", copying: nil)
        defer { scratch.remove() }
        let fifo = scratch.root.appendingPathComponent("logits.f32").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let model = Self.fixtureModel.path
        try Self.expectFailure(
            "logits --out FIFO", ["logits", "--model", model, "--prompt", "a [MASK]", "--out", fifo],
            mentions: [fifo, "pipe"])
        try Self.expectFailure(
            "logits --out ''", ["logits", "--model", model, "--prompt", "a [MASK]", "--out", ""],
            mentions: ["--out must name a file"])
        try Self.expectFailure(
            "--model ''", ["generate", "--model", "", "--prompt", "hi"], mentions: ["--model must name a directory"])
        try Self.expectFailure(
            "batch --input ''", ["batch", "--model", model, "--input", "", "--output", fifo],
            mentions: ["--input must name a file"])
    }

    // MARK: - Found by the fourth fresh campaign

    /// `logits --out` and `bench --svg` naming one of the model's own files (directly, through a link or a hard
    /// link) overwrote it with exit 0; the next run failed on a damaged checkpoint.
    @Test func outputsThatAreFilesOfTheModelAreRefused() throws {
        let scratch = try Scratch("model-outputs")
        defer { scratch.remove() }
        let shard = scratch.file(Self.shard0).path
        let link = scratch.root.appendingPathComponent("link.f32").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: scratch.file("config.json").path)
        let hardLink = scratch.root.appendingPathComponent("hard.svg").path
        #expect(Glibc.link(shard, hardLink) == 0)
        let before = try [shard, scratch.file("config.json").path, scratch.file("ice_text.model").path].map {
            try Data(contentsOf: URL(fileURLWithPath: $0))
        }
        let logits = ["logits", "--model", scratch.model.path, "--prompt", "a [MASK]", "--out"]
        try Self.expectFailure("logits --out shard", logits + [shard], mentions: [shard, "a file of the model"])
        try Self.expectFailure(
            "logits --out tokenizer", logits + [scratch.file("ice_text.model").path], mentions: ["ice_text.model"])
        try Self.expectFailure("logits --out link", logits + [link], mentions: [link, "config.json"])
        let bench = [
            "bench", "--model", scratch.model.path, "--prompt-tokens", "4", "--gen-tokens", "2", "--batch-sizes", "1",
            "--svg",
        ]
        try Self.expectFailure(
            "bench --svg hard link", bench + [hardLink], mentions: [hardLink, "mp_rank_00_model_states.pt"])
        let config = scratch.root.appendingPathComponent("demo.json").path
        try FileManager.default.copyItem(
            atPath: CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path, toPath: config)
        let random = ["bench", "--config", config, "--prompt-tokens", "4", "--gen-tokens", "2", "--batch-sizes", "1"]
        try Self.expectFailure("bench --svg config", random + ["--svg", config], mentions: ["the configuration"])
        let after = try [shard, scratch.file("config.json").path, scratch.file("ice_text.model").path].map {
            try Data(contentsOf: URL(fileURLWithPath: $0))
        }
        #expect(before == after, "a file of the model changed")
    }

    // MARK: - Found by the fifth fresh campaign

    /// `logits --out` onto a running batch job's output replaced the results being written; the batch job's lock on
    /// its output now keeps every other writer out. Likewise two conversions into one directory interleaved their
    /// shards into a silently mixed checkpoint; the directory's lock refuses the second.
    @Test func outputsInUseByAnotherJobAreRefused() throws {
        let scratch = try Scratch("locked-outputs", copying: nil)
        defer { scratch.remove() }
        let results = scratch.root.appendingPathComponent("results.jsonl").path
        let held = #"{"id":1,"prompt":"x","answer":"y"}"# + "\n"
        try Data(held.utf8).write(to: URL(fileURLWithPath: results))
        let file = open(results, O_RDWR)
        #expect(file >= 0 && flock(file, LOCK_EX) == 0)
        try Self.expectFailure(
            "logits --out locked", ["logits", "--model", Self.fixtureModel.path, "--prompt", "a", "--out", results],
            mentions: [results, "in use by another job"])
        close(file)
        #expect(try String(contentsOfFile: results, encoding: .utf8) == held)

        let target = scratch.root.appendingPathComponent("converted")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let directory = open(target.path, O_RDONLY | O_DIRECTORY)
        #expect(directory >= 0 && flock(directory, LOCK_EX) == 0)
        try Self.expectFailure(
            "convert --to locked", ["convert", "--from", Self.fixtureModel.path, "--to", target.path, "--tp", "1"],
            mentions: [target.path, "another convert or create-model is writing"])
        close(directory)
        let converted = try CommandRunner.glm([
            "convert", "--from", Self.fixtureModel.path, "--to", target.path, "--tp", "1",
        ])
        #expect(converted.status == 0, "\(converted.stderr)")
    }

    /// A file-size limit (`ulimit -f`) killed convert and create-model by SIGXFSZ with no message; the write now
    /// fails with "File too large" naming the file.
    @Test func aFileSizeLimitIsAnErrorNotASignal() throws {
        let scratch = try Scratch("file-size-limit", copying: nil)
        defer { scratch.remove() }
        let target = scratch.root.appendingPathComponent("converted").path
        // 1 MB (dash counts 512-byte blocks); PMIx keeps its data in memory (`gds=hash`), not in shared-memory
        // files that the limit would stop before the command starts.
        let command =
            "ulimit -f 2000; PMIX_MCA_gds=hash exec '\(CommandRunner.glmcluster)' convert --from "
            + "'\(Self.fixtureModel.path)' --to '\(target)' --tp 1"
        let result = try CommandRunner.run("/bin/sh", ["-c", command], timeout: 120)
        #expect(result.status == 1, "exit \(result.status): \(result.stderr)")
        #expect(result.stderr.contains("File too large") && result.stderr.contains(target), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target + "/49300/mp_rank_00_model_states.pt"))
        // create-model removes what it wrote of a model it could not finish.
        let demo = scratch.root.appendingPathComponent("demo").path
        let create =
            "ulimit -f 2000; PMIX_MCA_gds=hash exec '\(CommandRunner.glmcluster)' create-model --config "
            + "'\(CommandRunner.packageRoot.appendingPathComponent("configs/demo.json").path)' --out '\(demo)'"
        let created = try CommandRunner.run("/bin/sh", ["-c", create], timeout: 120)
        #expect(created.status == 1 && created.stderr.contains("File too large"), "\(created.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: demo).isEmpty)
    }
}
