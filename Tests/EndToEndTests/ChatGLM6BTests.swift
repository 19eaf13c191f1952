import Checkpoint
import Foundation
import TestSupport
import Testing

/// THUDM/chatglm-6b's release layout under real `mpirun` at TP 1, 2 and 4, against the official code's outputs for
/// the tiny release of `../shared/fixtures/chatglm` (copied to Tests/Fixtures): every case's input ids, its 16
/// greedy ids and decoded answer exact, its prefill and per-step logits within 1e-4 over the whole vocabulary.
@Suite(.serialized) struct ChatGLM6BTests {
    static let fixture = try! ChatGLMFixture.chatGLM6B.get()
    static let caseNames = fixture.cases.keys.sorted()

    struct Report: Decodable {
        var input_ids: [Int]
        var generated_ids: [Int]
        var answer_text: String
        var ranks: [[String: JSONNumberOrString]]
    }

    /// Any scalar of a rank's report (the test reads only their count).
    struct JSONNumberOrString: Decodable {
        init(from decoder: Decoder) throws { _ = try? decoder.singleValueContainer() }
    }

    /// The case's input: chat cases as the messages the official prompt was built from (`[Round i]\n问：q\n答：a\n`
    /// for history, the last question alone when there is none), plain cases as text.
    static func arguments(_ name: String, _ testCase: ChatGLMFixture.Case, scratch: URL) throws -> [String] {
        guard name.hasPrefix("chat_") else {
            return ["--prompt", testCase.prompt]
        }
        var messages: [[String: String]] = []
        if testCase.prompt.hasPrefix("[Round ") {
            let rounds = testCase.prompt.components(separatedBy: "[Round ").dropFirst()
            for round in rounds {
                let body = round.drop { $0 != "\n" }.dropFirst()
                let parts = body.components(separatedBy: "\n答：")
                messages.append(["role": "user", "content": String(parts[0].dropFirst("问：".count))])
                let answer = parts[1].hasSuffix("\n") ? String(parts[1].dropLast()) : parts[1]
                if !answer.isEmpty { messages.append(["role": "assistant", "content": answer]) }
            }
        } else {
            messages = [["role": "user", "content": testCase.prompt]]
        }
        let file = scratch.appendingPathComponent("messages-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: messages).write(to: file)
        return ["--messages", file.path]
    }

    @Test(arguments: [1, 2, 4])
    func everyCaseMatchesTheOfficialCode(tp: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-tp\(tp)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Self.fixture.directory.path
        for name in Self.caseNames {
            let testCase = try #require(Self.fixture.cases[name])
            let input = try Self.arguments(name, testCase, scratch: scratch)
            let result = try CommandRunner.mpirun(
                tp,
                ["generate", "--model", model, "--greedy", "--max-new-tokens", "16", "--json", "--threads", "1"]
                    + input)
            try #require(result.status == 0, "\(name) TP \(tp): \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            #expect(report.input_ids == testCase.inputIds, "\(name) TP \(tp) (\(input[0]))")
            #expect(report.generated_ids == testCase.gen, "\(name) TP \(tp)")
            #expect(report.answer_text == testCase.decoded, "\(name) TP \(tp)")
            #expect(report.ranks.count == tp)

            // The prefill's logits and every decode step's, the official greedy tokens fed back (`--then`).
            let out = scratch.appendingPathComponent("\(name).f32").path
            let fed = testCase.gen.dropLast().map(String.init).joined(separator: ",")
            let logits = try CommandRunner.mpirun(
                tp,
                [
                    "logits", "--model", model, "--prompt", testCase.prompt, "--then", fed, "--out", out, "--threads",
                    "1",
                ])
            try #require(logits.status == 0, "\(name) TP \(tp): \(logits.stderr)")
            let steps = try CommandRunner.readFloats(out)
            let official = try CommandRunner.readFloats(
                Self.fixture.directory.appendingPathComponent("logits/\(name).steps.f32").path)
            let prefill = try CommandRunner.readFloats(
                Self.fixture.directory.appendingPathComponent("logits/\(name).prefill.f32").path)
            let vocabulary = prefill.count
            #expect(steps.count == 16 * vocabulary && official.count == 16 * vocabulary)
            let first = maxAbsDifference(Array(steps.prefix(vocabulary)), prefill)
            #expect(first < 1e-4, "\(name) TP \(tp): prefill max |logit - official| = \(first)")
            let error = maxAbsDifference(steps, official)
            #expect(error < 1e-4, "\(name) TP \(tp): 16 steps, max |logit - official| = \(error)")
        }
    }
}

extension ChatGLM6BTests {
    /// A batch of conversations and plain prompts at TP 2: the same ids as the official code, the answers
    /// post-processed as `chat()` does.
    @Test func batchConversationsMatchTheOfficialCode() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-batch")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let single = try #require(Self.fixture.cases["chat_single"])
        let plain = try #require(Self.fixture.cases["en_plain"])
        let input = scratch.appendingPathComponent("in.jsonl")
        let lines = [
            #"{"id": "chat", "messages": [{"role": "user", "content": "你好"}], "greedy": true, "max_new_tokens": 16}"#,
            #"{"id": "plain", "prompt": "The capital of France is", "greedy": true, "max_new_tokens": 16}"#,
            #"{"id": "system", "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]}"#,
        ]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
        let output = scratch.appendingPathComponent("out.jsonl")
        let result = try CommandRunner.mpirun(
            2,
            [
                "batch", "--model", Self.fixture.directory.path, "--input", input.path, "--output", output.path,
                "--threads", "1", "--quiet",
            ])
        #expect(result.status == 3, "one request has an error: \(result.stderr)")
        var byId: [String: [String: Any]] = [:]
        for line in try String(contentsOf: output, encoding: .utf8).split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            byId[try #require(object["id"] as? String)] = object
        }
        #expect(byId["chat"]?["generated_ids"] as? [Int] == single.gen)
        #expect(byId["chat"]?["prompt"] as? String == "你好")
        #expect(byId["plain"]?["generated_ids"] as? [Int] == plain.gen)
        #expect((byId["system"]?["error"] as? String)?.contains("no system prompt") == true)
    }

    /// A release folder that cannot be used names the file and what was expected.
    @Test func malformedReleasesAreNamed() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-bad")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Self.fixture.directory, to: model)
        let generate = ["generate", "--model", model.path, "--prompt", "hi", "--max-new-tokens", "2"]
        func expectError(_ label: String, _ fragments: [String]) throws {
            let result = try CommandRunner.glm(generate)
            #expect(result.status == 1, "\(label): \(result.status) \(result.stderr)")
            for fragment in fragments {
                #expect(result.stderr.contains(fragment), "\(label): \(result.stderr)")
            }
        }
        let shard = model.appendingPathComponent("pytorch_model-00002-of-00004.bin")
        let saved = try Data(contentsOf: shard)
        try FileManager.default.removeItem(at: shard)
        try expectError("missing shard", [shard.path, "pytorch_model.bin.index.json"])
        try saved.write(to: shard)

        let config = model.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        try Data(text.replacingOccurrences(of: #""inner_hidden_size": 256"#, with: #""inner_hidden_size": 128"#).utf8)
            .write(to: config)
        try expectError("shape", ["mlp.dense_h_to_4h.weight", "[256, 64]", "expected [128, 64]", config.path])
        try Data(
            text.replacingOccurrences(of: #""model_type": "chatglm""#, with: #""model_type": "baichuan""#)
                .replacingOccurrences(of: #""ChatGLMModel""#, with: #""BaichuanForCausalLM""#).utf8
        ).write(to: config)
        try expectError("family", [config.path, "no GLM family it knows", "baichuan"])
        try Data(text.replacingOccurrences(of: #""eos_token_id": 993"#, with: #""eos_token_id": 990"#).utf8)
            .write(to: config)
        try expectError("special tokens", [config.path, "eos_token_id"])
        // quantization_bit that the weights do not follow: the official code would build other layers.
        try Data(
            text.replacingOccurrences(of: #""use_cache": true"#, with: #""use_cache": true, "quantization_bit": 4"#)
                .utf8
        )
        .write(to: config)
        try expectError("quantization_bit", [config.path, "quantization_bit 4", "is not quantized"])
    }

    /// `chat` with standard input closed, a directory as input or a full disk as output ends at once with an error
    /// naming the stream (a closed stdin used to be taken over by an internal pipe and wait for ever); a messages
    /// file with a field twice is refused.
    @Test func chatInputsAndOutputsThatFailAreNamed() throws {
        let model = Self.fixture.directory.path
        let binary = CommandRunner.glmcluster
        for (redirect, status, fragment) in [
            ("<&-", 0, ""), ("</tmp", 1, "cannot read standard input: Is a directory"),
            ("</dev/null >/dev/full", 0, ""), ("<<EOF >/dev/full\n你好\nEOF", 1, "No space left on device"),
        ] {
            let command = "timeout 30 '\(binary)' chat --model '\(model)' --max-new-tokens 2 \(redirect)"
            let result = try CommandRunner.run("/bin/bash", ["-c", command], timeout: 60)
            #expect(result.status == Int32(status), "\(redirect): \(result.status) \(result.stderr)")
            if !fragment.isEmpty { #expect(result.stderr.contains(fragment), "\(redirect): \(result.stderr)") }
        }
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-messages")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let messages = scratch.appendingPathComponent("m.json")
        try Data(#"[{"role": "user", "content": "a", "content": "b"}]"#.utf8).write(to: messages)
        let twice = try CommandRunner.glm(["generate", "--model", model, "--messages", messages.path])
        #expect(twice.status == 1 && twice.stderr.contains("\"content\" appears twice"), "\(twice.stderr)")
    }
}

extension ChatGLM6BTests {
    /// `chat` with its input from a file at TP 2: one answer line per message, each the official one (the fixture's
    /// answers are unchanged by `process_response`), `/reset` starting a conversation afresh (so the second answer
    /// is the single-turn one) and `/exit` ending the chat before the last line.
    @Test func chatAnswersEachMessageAsTheOfficialCode() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-chat")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let input = scratch.appendingPathComponent("input.txt")
        try Data("你好\n/reset\n\nThe capital of France is\n/exit\nnot read\n".utf8).write(to: input)
        let command = [
            "mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2",
            CommandRunner.glmcluster,
            "chat", "--model", Self.fixture.directory.path, "--greedy", "--max-new-tokens", "16", "--threads", "1",
        ].map { "'" + $0 + "'" }.joined(separator: " ")
        let result = try CommandRunner.run("/bin/sh", ["-c", command + " < '\(input.path)'"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let answers = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(
            answers == [
                try #require(Self.fixture.cases["chat_single"]).decoded,
                try #require(Self.fixture.cases["en_plain"]).decoded, "",
            ], "\(result.stdout.debugDescription)")
        #expect(result.stderr.contains("(history cleared)") || result.stderr.contains("history cleared"))
    }

    /// GLM-130B has no chat format: `chat` says so before loading weights.
    @Test func chatRefusesAModelWithoutAChatFormat() throws {
        let result = try CommandRunner.glm(["chat", "--model", BadInputTests.fixtureModel.path])
        #expect(result.status == 1 && result.stderr.contains("GLM-130B has no chat format"), "\(result.stderr)")
    }
}

extension ChatGLM6BTests {
    /// The official quantized releases (chatglm-6b-int8, -int4: `quantization_bit` in config.json, int8 levels with
    /// `<key>_scale`, two levels per byte at 4 bits) load as they are. The release is made here from the tiny one: the
    /// levels and scales by the independent NumPy reference of the official quantization
    /// (`Tests/Reference/quantize_reference.py`), written as one `pytorch_model.bin`; the expected logits by the
    /// NumPy ChatGLM-6B reference, which reads the file with its own unpickler and dequantizes as the release's CPU
    /// kernels do.
    @Test(arguments: [8, 4])
    func officialQuantizedReleasesLoadAsTheyAre(bits: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-int\(bits)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let release = scratch.appendingPathComponent("release")
        try FileManager.default.createDirectory(at: release, withIntermediateDirectories: true)
        let source = Self.fixture.directory
        for name in ["ice_text.model", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: release.appendingPathComponent(name))
        }
        let config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
        try Data(
            config.replacingOccurrences(
                of: #""use_cache": true"#, with: #""use_cache": true, "quantization_bit": \#(bits)"#
            )
            .utf8
        ).write(to: release.appendingPathComponent("config.json"))

        let original = try ReleaseCheckpoint(directory: source)
        let quantized = [
            "query_key_value.weight", "attention.dense.weight", "dense_h_to_4h.weight", "dense_4h_to_h.weight",
        ]
        try OfficialQuantization.writeRelease(
            try original.keys.map { key in
                let file = try original.file(holding: key)
                return (key, try file.tensor(named: key).shape, try file.float16(key))
            }, bits: bits,
            isLayerMatrix: { key in
                key.hasPrefix("transformer.layers.") && quantized.contains(where: { key.hasSuffix($0) })
            }, scratch: scratch, to: release.appendingPathComponent("pytorch_model.bin"))

        let testCase = try #require(Self.fixture.cases["chat_multi"])
        let ids = testCase.inputIds.map(String.init).joined(separator: ",")
        let expected = scratch.appendingPathComponent("reference.f32").path
        let reference = try CommandRunner.python([
            CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm6b_reference.py").path, "logits",
            "--model", release.path, "--ids", ids, "--out", expected,
        ])
        try #require(reference.status == 0, "\(reference.stderr)")
        let official = try CommandRunner.readFloats(expected)
        for (tp, extra) in [(1, []), (2, []), (2, ["--quantize", "int\(bits)"])] {
            let out = scratch.appendingPathComponent("tp\(tp).f32").path
            let result = try CommandRunner.mpirun(
                tp, ["logits", "--model", release.path, "--ids", ids, "--out", out, "--threads", "1"] + extra)
            try #require(result.status == 0, "TP \(tp) \(extra): \(result.stderr)")
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < 1e-4, "int\(bits) TP \(tp) \(extra): max |logit - reference| = \(error)")
        }
        // Quantizing the fp16 release at load time is the same official quantization at any TP: each row's scale
        // spans the whole row (ranks used to take it over their own columns of the row-parallel matrices).
        for tp in [2, 4] {
            let out = scratch.appendingPathComponent("load-time-tp\(tp).f32").path
            let result = try CommandRunner.mpirun(
                tp,
                [
                    "logits", "--model", source.path, "--ids", ids, "--out", out, "--threads", "1", "--quantize",
                    "int\(bits)",
                ])
            try #require(result.status == 0, "load-time TP \(tp): \(result.stderr)")
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < 1e-4, "load-time int\(bits) TP \(tp): max |logit - reference| = \(error)")
        }
        let other = bits == 8 ? "int4" : "int8"
        let refused = try CommandRunner.glm([
            "logits", "--model", release.path, "--ids", ids, "--out", scratch.appendingPathComponent("x.f32").path,
            "--quantize", other,
        ])
        #expect(refused.status == 1 && refused.stderr.contains("already quantized"), "\(refused.stderr)")
    }
}

extension ChatGLM6BTests {
    /// `convert` writes a release in its own layout: re-sharded (the same logits, bit for bit), or quantized as the
    /// official int8 release (the logits the NumPy reference computes from the written file, and the same as
    /// quantizing at load time on one rank). A quantized source cannot be quantized again; `--tp` does not apply.
    @Test func convertWritesTheReleaseLayout() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-convert")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let source = Self.fixture.directory.path
        let testCase = try #require(Self.fixture.cases["zh_plain"])
        let ids = testCase.inputIds.map(String.init).joined(separator: ",")
        func logits(_ model: String, tp: Int = 1, _ extra: [String] = []) throws -> [Float] {
            let out = scratch.appendingPathComponent("logits-\(UUID().uuidString).f32").path
            let result = try CommandRunner.mpirun(
                tp, ["logits", "--model", model, "--ids", ids, "--out", out, "--threads", "1"] + extra)
            try #require(result.status == 0, "\(model): \(result.stderr)")
            return try CommandRunner.readFloats(out)
        }
        let resharded = scratch.appendingPathComponent("two").path
        let split = try CommandRunner.glm(["convert", "--from", source, "--to", resharded, "--shards", "2"])
        try #require(split.status == 0, "\(split.stderr)")
        #expect(FileManager.default.fileExists(atPath: resharded + "/pytorch_model-00002-of-00002.bin"))
        #expect(FileManager.default.fileExists(atPath: resharded + "/pytorch_model.bin.index.json"))
        #expect(try logits(resharded, tp: 2) == logits(source, tp: 2))

        let int8 = scratch.appendingPathComponent("int8").path
        let quantized = try CommandRunner.glm([
            "convert", "--from", source, "--to", int8, "--quantize", "int8", "--shards", "1",
        ])
        try #require(quantized.status == 0, "\(quantized.stderr)")
        let config = try String(contentsOfFile: int8 + "/config.json", encoding: .utf8)
        #expect(config.contains(#""quantization_bit": 8"#))
        let expected = scratch.appendingPathComponent("reference.f32").path
        let reference = try CommandRunner.python([
            CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm6b_reference.py").path, "logits",
            "--model", int8, "--ids", ids, "--out", expected,
        ])
        try #require(reference.status == 0, "\(reference.stderr)")
        let written = try logits(int8)
        let error = maxAbsDifference(written, try CommandRunner.readFloats(expected))
        #expect(error < 1e-4, "max |logit - reference| = \(error)")
        #expect(written == (try logits(source, ["--quantize", "int8"])))

        let again = try CommandRunner.glm([
            "convert", "--from", int8, "--to", scratch.appendingPathComponent("x").path, "--quantize", "int4",
        ])
        #expect(again.status != 0 && again.stderr.contains("already a quantized release"), "\(again.stderr)")
        let withTP = try CommandRunner.glm([
            "convert", "--from", source, "--to", scratch.appendingPathComponent("y").path, "--tp", "2",
        ])
        #expect(withTP.status != 0 && withTP.stderr.contains("--tp and --preset do not apply"), "\(withTP.stderr)")
    }
}

extension ChatGLM6BTests {
    /// `create-model` with a ChatGLM-6B configuration writes a random-weights release in THUDM/chatglm-6b's layout:
    /// the NumPy reference, reading the written files with its own unpickler, computes the same logits; TP 1 and 2
    /// give the same greedy ids; the tokenizer has the release's special and preprocessing pieces.
    @Test func createModelWritesAChatGLM6BRelease() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-create")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model").path
        let config = CommandRunner.packageRoot.appendingPathComponent("configs/chatglm-6b-demo.json").path
        let created = try CommandRunner.glm(["create-model", "--config", config, "--out", model, "--mp", "2"])
        try #require(created.status == 0, "\(created.stderr)")
        for name in ["config.json", "ice_text.model", "tokenizer_config.json", "pytorch_model.bin.index.json"] {
            #expect(FileManager.default.fileExists(atPath: model + "/" + name), "\(name)")
        }
        let tokens = try CommandRunner.glm(["tokenize", "--model", model, "--text", "a\n\tb   c"])
        // <n> and <|tab|> are pieces 10 and 11 (after <pad> and the six special pieces).
        #expect(tokens.stdout.contains(",10,11,"), "\(tokens.stdout)")

        let prompt = "Hello, my name is"
        var generated: [[Int]] = []
        for tp in [1, 2] {
            let result = try CommandRunner.mpirun(
                tp,
                [
                    "generate", "--model", model, "--prompt", prompt, "--greedy", "--max-new-tokens", "8", "--json",
                    "--threads", "1",
                ])
            try #require(result.status == 0, "\(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            generated.append(report.generated_ids)
            if tp == 1 {
                let ids = report.input_ids.map(String.init).joined(separator: ",")
                let expected = scratch.appendingPathComponent("reference.f32").path
                let reference = try CommandRunner.python([
                    CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm6b_reference.py").path,
                    "logits", "--model", model, "--ids", ids, "--out", expected,
                ])
                try #require(reference.status == 0, "\(reference.stderr)")
                let out = scratch.appendingPathComponent("logits.f32").path
                let logits = try CommandRunner.glm(["logits", "--model", model, "--ids", ids, "--out", out])
                try #require(logits.status == 0, "\(logits.stderr)")
                let error = maxAbsDifference(try CommandRunner.readFloats(out), try CommandRunner.readFloats(expected))
                #expect(error < 1e-4, "max |logit - reference| = \(error)")
            }
        }
        #expect(generated[0] == generated[1] && generated[0].count == 8)
    }
}

extension ChatGLM6BTests {
    /// A release's generation_config.json gives the defaults of unset options (here greedy decoding and a total
    /// length of 20), at TP 2 as at TP 1; options on the command line still win.
    @Test func generationConfigGivesTheDefaults() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-generation-config")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        try FileManager.default.copyItem(at: Self.fixture.directory, to: model)
        try Data(#"{"do_sample": false, "max_length": 20}"#.utf8)
            .write(to: model.appendingPathComponent("generation_config.json"))
        let testCase = try #require(Self.fixture.cases["en_plain"])
        for (tp, extra, count) in [
            (1, [String](), 20 - testCase.inputIds.count), (2, [], 20 - testCase.inputIds.count),
            (1, ["--max-new-tokens", "3"], 3),
        ] {
            let result = try CommandRunner.mpirun(
                tp,
                ["generate", "--model", model.path, "--prompt", testCase.prompt, "--json", "--threads", "1"] + extra)
            try #require(result.status == 0, "\(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            #expect(report.generated_ids == Array(testCase.gen.prefix(count)), "TP \(tp) \(extra)")
        }
        // A length limit the prompt already reaches still draws one token, as transformers' generate does.
        let short = try CommandRunner.glm([
            "generate", "--model", model.path, "--prompt", testCase.prompt, "--max-length", "5", "--json",
        ])
        try #require(short.status == 0, "\(short.stderr)")
        #expect(try JSONDecoder().decode(Report.self, from: Data(short.stdout.utf8)).generated_ids == [testCase.gen[0]])
    }
}

extension ChatGLM6BTests {
    /// Text that spells `<sop>` (the tokenizer makes it the token): the official code ends the bidirectional
    /// context at the FIRST `<sop>` (`seq.index(bos)`), so the NumPy reference's logits and greedy token hold at
    /// TP 1 and 2, and the answer is the generated text alone (it used to carry the prompt after the first `<sop>`).
    @Test func textSpellingStartOfPieceFollowsTheOfficialPositions() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm6b-sop")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = Self.fixture.directory.path
        for tp in [1, 2] {
            let result = try CommandRunner.mpirun(
                tp,
                [
                    "generate", "--model", model, "--prompt", "x<sop>y", "--greedy", "--max-new-tokens", "4", "--json",
                    "--threads", "1",
                ])
            try #require(result.status == 0, "\(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            #expect(report.input_ids.filter { $0 == 992 }.count == 2, "\(report.input_ids)")
            #expect(
                !report.answer_text.contains("[gMASK]") && !report.answer_text.contains("y"), "\(report.answer_text)")
            let ids = report.input_ids.map(String.init).joined(separator: ",")
            let expected = scratch.appendingPathComponent("reference.f32").path
            let reference = try CommandRunner.python([
                CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm6b_reference.py").path,
                "logits", "--model", model, "--ids", ids, "--out", expected,
            ])
            try #require(reference.status == 0, "\(reference.stderr)")
            let official = try CommandRunner.readFloats(expected)
            let out = scratch.appendingPathComponent("tp\(tp).f32").path
            let logits = try CommandRunner.mpirun(tp, ["logits", "--model", model, "--ids", ids, "--out", out])
            try #require(logits.status == 0, "\(logits.stderr)")
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < 1e-4, "TP \(tp): max |logit - reference| = \(error)")
            #expect(report.generated_ids.first == official.indices.max { official[$0] < official[$1] })
        }
    }
}
