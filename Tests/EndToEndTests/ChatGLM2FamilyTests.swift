import Checkpoint
import Foundation
import TestSupport
import Testing

/// THUDM/chatglm2-6b, chatglm3-6b and glm-4-9b-chat release layouts under real `mpirun` at TP 1, 2 and 4, against
/// the official code's outputs for the tiny releases of `../shared/fixtures/chatglm` (copied to Tests/Fixtures):
/// every case's input ids, its 16 greedy ids and decoded answer exact, its prefill and per-step logits within 1e-4
/// over the whole vocabulary. Chat cases go through `--messages` (the release's own chat format); ChatGLM2's chat
/// prompt is given as the conversation its `[Round N]` text was built from.
@Suite(.serialized) struct ChatGLM2FamilyTests {
    static let fixtures: [String: ChatGLMFixture] = [
        "chatglm2": try! ChatGLMFixture.chatGLM2.get(), "chatglm3": try! ChatGLMFixture.chatGLM3.get(),
        "glm4": try! ChatGLMFixture.glm4.get(),
    ]

    struct Report: Decodable {
        var input_ids: [Int]
        var generated_ids: [Int]
        var blank_text: String
        var answer_text: String
        var ranks: [RankReport]
    }

    struct RankReport: Decodable {
        var weight_bytes: Int
        var kv_cache_bytes: Int
    }

    /// The conversation of a chat case: its messages, or those ChatGLM2's `[Round N]\n\n问：q\n\n答：a\n\n` text
    /// was built from.
    static func messages(_ testCase: ChatGLMFixture.Case) -> [[String: String]] {
        if let messages = testCase.messages { return messages }
        var messages: [[String: String]] = []
        for round in testCase.prompt.components(separatedBy: "[Round ").dropFirst() {
            let body = round.drop { $0 != "\n" }.dropFirst(2)
            let parts = body.components(separatedBy: "\n\n答：")
            messages.append(["role": "user", "content": String(parts[0].dropFirst("问：".count))])
            let answer = parts[1].hasSuffix("\n\n") ? String(parts[1].dropLast(2)) : parts[1]
            if !answer.isEmpty { messages.append(["role": "assistant", "content": answer]) }
        }
        return messages
    }

    static func input(_ name: String, _ testCase: ChatGLMFixture.Case, scratch: URL) throws -> [String] {
        guard name.hasPrefix("chat_") else { return ["--prompt", testCase.prompt] }
        let file = scratch.appendingPathComponent("messages-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: messages(testCase)).write(to: file)
        return ["--messages", file.path]
    }

    /// Every case of one release at one TP degree against the official code: the logits of the prefill and of every
    /// step with the official tokens fed back (within 1e-4, each step's argmax the official next token, so greedy
    /// decoding draws the official ids), and at TP 1 also `generate` itself: input ids (chat cases through the
    /// release's chat format), the 16 greedy ids and the decoded text. (Generation across ranks is covered by the
    /// batch and TP 8 tests below; the prompt ids by the tokenizer tests.)
    /// `launch(ranks, arguments)` runs glmcluster on that many ranks (`mpirun` on this host by default; the
    /// cluster tests pass nodes of `scripts/netns-cluster.sh`).
    static func checkEveryCase(
        _ release: String, tp: Int, model: URL? = nil,
        launch: (Int, [String]) throws -> CommandRunner.Result = { try CommandRunner.mpirun($0, $1) }
    ) throws {
        let fixture = try #require(fixtures[release])
        let scratch = try CommandRunner.temporaryDirectory("\(release)-tp\(tp)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = (model ?? fixture.directory).path
        for name in fixture.cases.keys.sorted() {
            let testCase = try #require(fixture.cases[name])
            if tp == 1 {
                let input = try input(name, testCase, scratch: scratch)
                let result = try CommandRunner.mpirun(
                    tp,
                    ["generate", "--model", model, "--greedy", "--max-new-tokens", "16", "--json", "--threads", "1"]
                        + input)
                try #require(result.status == 0, "\(release) \(name) TP \(tp): \(result.stderr)")
                let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
                #expect(report.input_ids == testCase.inputIds, "\(release) \(name) TP \(tp)")
                #expect(report.generated_ids == testCase.gen, "\(release) \(name) TP \(tp)")
                // The generated text as `tokenizer.decode` gives it (`answer_text` is `process_response`'s).
                #expect(report.blank_text == testCase.decoded, "\(release) \(name) TP \(tp)")
                #expect(report.ranks.count == tp)
            }

            // The prefill's logits and every decode step's, the official greedy tokens fed back (`--then`).
            let out = scratch.appendingPathComponent("\(name).f32").path
            let fed = testCase.gen.dropLast().map(String.init).joined(separator: ",")
            let logits = try launch(
                tp,
                [
                    "logits", "--model", model, "--ids", testCase.inputIds.map(String.init).joined(separator: ","),
                    "--then", fed, "--out", out, "--threads", "1",
                ])
            try #require(logits.status == 0, "\(release) \(name) TP \(tp): \(logits.stderr)")
            let steps = try CommandRunner.readFloats(out)
            let official = try CommandRunner.readFloats(
                fixture.directory.appendingPathComponent("logits/\(name).steps.f32").path)
            let prefill = try CommandRunner.readFloats(
                fixture.directory.appendingPathComponent("logits/\(name).prefill.f32").path)
            let vocabulary = prefill.count
            try #require(steps.count == 16 * vocabulary && official.count == 16 * vocabulary)
            let first = maxAbsDifference(Array(steps.prefix(vocabulary)), prefill)
            #expect(first < 1e-4, "\(release) \(name) TP \(tp): prefill max |logit - official| = \(first)")
            let error = maxAbsDifference(steps, official)
            #expect(error < 1e-4, "\(release) \(name) TP \(tp): 16 steps, max |logit - official| = \(error)")
            let drawn = (0..<16).map { step in
                let row = steps[(step * vocabulary)..<((step + 1) * vocabulary)]
                return row.indices.max { row[$0] < row[$1] }! - step * vocabulary
            }
            #expect(drawn == testCase.gen, "\(release) \(name) TP \(tp): the argmax of each step")
        }
    }

    @Test(arguments: [1, 2, 4]) func chatGLM2MatchesTheOfficialCode(tp: Int) throws {
        try Self.checkEveryCase("chatglm2", tp: tp)
    }

    @Test(arguments: [1, 2, 4]) func chatGLM3MatchesTheOfficialCode(tp: Int) throws {
        try Self.checkEveryCase("chatglm3", tp: tp)
    }

    @Test(arguments: [1, 2, 4]) func glm4MatchesTheOfficialCode(tp: Int) throws {
        try Self.checkEveryCase("glm4", tp: tp)
    }
}

extension ChatGLM2FamilyTests {
    /// GLM-4 in transformers' own layout (`GlmForCausalLM`: renamed keys, separate q/k/v projections, one
    /// safetensors file, the vocabulary as transformers' `tokenizer.json`) gives the official results of the original
    /// layout.
    @Test(arguments: [1, 2]) func transformersLayoutOfGLM4MatchesTheOriginal(tp: Int) throws {
        let fixture = try #require(Self.fixtures["glm4"])
        let model = fixture.directory.deletingLastPathComponent().appendingPathComponent("glm-4-9b-chat-hf-tiny")
        try Self.checkEveryCase("glm4", tp: tp, model: model)
    }

    /// Two key/value groups shared by eight ranks, on a GLM-4 release of 8 heads (random weights written by
    /// `Tests/Reference/make_glm4_release.py` in the original layout): each rank holds its query head and the one group
    /// it reads, and the tokens and every step's logits equal TP 1's. Each rank states the weight and KV-cache bytes it
    /// holds.
    @Test func glm4AtTP8EqualsTP1() throws {
        let scratch = try CommandRunner.temporaryDirectory("glm4-tp8")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let fixture = try #require(Self.fixtures["glm4"])
        let model = scratch.appendingPathComponent("model")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Reference/make_glm4_release.py")
        let made = try CommandRunner.python([script.path, model.path, fixture.directory.path])
        try #require(made.status == 0, "\(made.stderr)")
        let prompt = try #require(fixture.cases["long_plain"]).prompt
        var reports: [Report] = []
        var logits: [[Float]] = []
        for tp in [1, 8] {
            let result = try CommandRunner.mpirun(
                tp,
                [
                    "generate", "--model", model.path, "--greedy", "--max-new-tokens", "8", "--json", "--threads", "1",
                    "--prompt", prompt,
                ])
            try #require(result.status == 0, "TP \(tp): \(result.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
            reports.append(report)
            let out = scratch.appendingPathComponent("tp\(tp).f32").path
            let steps = try CommandRunner.mpirun(
                tp,
                [
                    "logits", "--model", model.path, "--prompt", prompt, "--then",
                    reports[0].generated_ids.dropLast().map(String.init).joined(separator: ","), "--out", out,
                    "--threads", "1",
                ])
            try #require(steps.status == 0, "TP \(tp): \(steps.stderr)")
            logits.append(try CommandRunner.readFloats(out))
        }
        #expect(reports[1].generated_ids == reports[0].generated_ids)
        #expect(logits[0].count == 8 * 1024 && logits[1].count == logits[0].count)
        let error = maxAbsDifference(logits[0], logits[1])
        #expect(error < 1e-4, "TP 8 vs TP 1: max |logit difference| = \(error)")
        // 2 layers x 2 (keys, values) x groups held x 16 dimensions x (prompt + 8 tokens) x 4 bytes.
        let tokens = reports[0].input_ids.count + 8
        #expect(reports[0].ranks[0].kv_cache_bytes == 2 * 2 * 2 * 16 * tokens * 4)
        #expect(reports[1].ranks.allSatisfy { $0.kv_cache_bytes == 2 * 2 * 1 * 16 * tokens * 4 })
        #expect(reports[1].ranks.allSatisfy { $0.weight_bytes < reports[0].ranks[0].weight_bytes / 4 })
    }
}

extension ChatGLM2FamilyTests {
    /// The official quantized releases (chatglm2-6b-int4: `quantization_bit` in config.json, int8 levels with
    /// `<key>_scale`, two levels per byte at 4 bits) load as they are, at TP 1, 2 and 4 (grouped QKV rows split
    /// with their scales). The release is made here from a tiny one: the levels and scales by the independent NumPy
    /// reference of the official quantization (`Tests/Reference/quantize_reference.py`), written as one
    /// `pytorch_model.bin`; the expected logits by the NumPy ChatGLM2 reference (`chatglm2_reference.py`), which
    /// reads the file with its own unpickler and dequantizes as the release's CPU kernels do. Quantizing the fp16
    /// (or GLM-4's bf16) release at load time is the same quantization at any TP.
    @Test(arguments: [("chatglm3", 8), ("chatglm3", 4), ("glm4", 4)])
    func quantizedReleasesMatchTheReference(release: String, bits: Int) throws {
        let scratch = try CommandRunner.temporaryDirectory("\(release)-int\(bits)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let fixture = try #require(Self.fixtures[release])
        let source = fixture.directory
        let quantizedRelease = scratch.appendingPathComponent("release")
        try FileManager.default.createDirectory(at: quantizedRelease, withIntermediateDirectories: true)
        for name in ["tokenizer.model", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: quantizedRelease.appendingPathComponent(name))
        }
        let config = try String(contentsOf: source.appendingPathComponent("config.json"), encoding: .utf8)
        try Data(
            config.replacingOccurrences(
                of: #""use_cache": true"#, with: #""use_cache": true, "quantization_bit": \#(bits)"#
            ).utf8
        ).write(to: quantizedRelease.appendingPathComponent("config.json"))

        // Every tensor of the release as fp16, whatever its files.
        let tensors: [(key: String, shape: [Int], values: [Float16])]
        if release == "glm4" {
            let store = try SafetensorsRelease(directory: source)
            tensors = try store.keys.map { key in
                let shape = try store.file(holding: key).tensor(named: key).shape
                return (key, shape, try store.file(holding: key).float16(key))
            }
        } else {
            let store = try ReleaseCheckpoint(directory: source)
            tensors = try store.keys.map { key in
                let file = try store.file(holding: key)
                return (key, try file.tensor(named: key).shape, try file.float16(key))
            }
        }
        let layerMatrices = [
            "self_attention.query_key_value.weight", "self_attention.dense.weight", "mlp.dense_h_to_4h.weight",
            "mlp.dense_4h_to_h.weight",
        ]
        try OfficialQuantization.writeRelease(
            tensors, bits: bits,
            isLayerMatrix: { key in
                key.hasPrefix("transformer.encoder.layers.") && layerMatrices.contains(where: { key.hasSuffix($0) })
            }, scratch: scratch, to: quantizedRelease.appendingPathComponent("pytorch_model.bin"))

        let testCase = try #require(fixture.cases["chat_multi"])
        let ids = testCase.inputIds.map(String.init).joined(separator: ",")
        let expected = scratch.appendingPathComponent("reference.f32").path
        let reference = try CommandRunner.python([
            CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm2_reference.py").path, "logits",
            "--model", quantizedRelease.path, "--ids", ids, "--out", expected,
        ])
        try #require(reference.status == 0, "\(reference.stderr)")
        let official = try CommandRunner.readFloats(expected)
        var runs: [(Int, URL, [String])] = [
            (2, source, ["--quantize", "int\(bits)"]), (4, source, ["--quantize", "int\(bits)"]),
        ]
        if release != "glm4" {
            runs += [(1, quantizedRelease, []), (2, quantizedRelease, []), (4, quantizedRelease, [])]
        }
        for (tp, model, extra) in runs {
            let out = scratch.appendingPathComponent("tp\(tp).f32").path
            let result = try CommandRunner.mpirun(
                tp, ["logits", "--model", model.path, "--ids", ids, "--out", out, "--threads", "1"] + extra)
            try #require(result.status == 0, "TP \(tp) \(extra): \(result.stderr)")
            let error = maxAbsDifference(try CommandRunner.readFloats(out), official)
            #expect(error < 1e-4, "\(release) int\(bits) TP \(tp) \(extra): max |logit - reference| = \(error)")
        }
    }
}

extension ChatGLM2FamilyTests {
    static func referenceLogits(model: URL, ids: [Int], scratch: URL) throws -> [Float] {
        let out = scratch.appendingPathComponent("reference-\(UUID().uuidString).f32").path
        let run = try CommandRunner.python([
            CommandRunner.packageRoot.appendingPathComponent("Tests/Reference/chatglm2_reference.py").path, "logits",
            "--model", model.path, "--ids", ids.map(String.init).joined(separator: ","), "--out", out,
        ])
        try #require(run.status == 0, "\(run.stderr)")
        return try CommandRunner.readFloats(out)
    }

    static func engineLogits(model: URL, ids: [Int], tp: Int, scratch: URL) throws -> [Float] {
        let out = scratch.appendingPathComponent("engine-\(UUID().uuidString).f32").path
        let run = try CommandRunner.mpirun(
            tp,
            [
                "logits", "--model", model.path, "--ids", ids.map(String.init).joined(separator: ","), "--out", out,
                "--threads", "1",
            ])
        try #require(run.status == 0, "\(run.stderr)")
        return try CommandRunner.readFloats(out)
    }

    /// `create-model` with a ChatGLM2-architecture configuration writes a ChatGLM3-6B release (8 heads, 2 groups,
    /// two weight files, a trained BPE tokenizer with the release's special tokens after its pieces): the NumPy
    /// reference reads it and agrees with the engine at TP 2, TP 1 and TP 4 generate the same tokens, and its chat
    /// format works.
    @Test func createModelWritesAChatGLM3Release() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm3-demo")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let model = scratch.appendingPathComponent("model")
        let created = try CommandRunner.glm([
            "create-model", "--config",
            CommandRunner.packageRoot.appendingPathComponent("configs/chatglm3-demo.json").path,
            "--out", model.path, "--mp", "2",
        ])
        try #require(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("ChatGLM3-6B release layout") || created.stderr.contains("ChatGLM3-6B"))
        let ids = try #require(Self.fixtures["chatglm3"]?.cases["en_plain"]?.inputIds)
        let reference = try Self.referenceLogits(model: model, ids: ids, scratch: scratch)
        let engine = try Self.engineLogits(model: model, ids: ids, tp: 2, scratch: scratch)
        let error = maxAbsDifference(engine, reference)
        #expect(engine.count == reference.count && error < 1e-4, "max |logit - reference| = \(error)")
        var generated: [String] = []
        for tp in [1, 4] {
            let result = try CommandRunner.mpirun(
                tp,
                [
                    "generate", "--model", model.path, "--prompt", "The capital of France is", "--greedy",
                    "--max-new-tokens", "12", "--threads", "1",
                ])
            try #require(result.status == 0, "\(result.stderr)")
            generated.append(result.stdout)
        }
        #expect(generated[0] == generated[1])
        let messages = scratch.appendingPathComponent("chat.json")
        try Data(#"[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好"}]"#.utf8)
            .write(to: messages)
        let chat = try CommandRunner.glm([
            "generate", "--model", model.path, "--messages", messages.path, "--max-new-tokens", "8",
        ])
        #expect(chat.status == 0, "\(chat.stderr)")
    }

    /// `convert` of a ChatGLM3 release re-shards it (the same logits, bit for bit) or writes the official quantized
    /// layout (the logits the NumPy reference computes from the written file); GLM-4's safetensors likewise, in
    /// safetensors.
    @Test func convertWritesTheReleaseLayout() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm3-convert")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let fixture = try #require(Self.fixtures["chatglm3"])
        let ids = try #require(fixture.cases["chat_multi"]).inputIds
        let single = scratch.appendingPathComponent("single")
        let reshard = try CommandRunner.glm([
            "convert", "--from", fixture.directory.path, "--to", single.path, "--shards", "1",
        ])
        try #require(reshard.status == 0, "\(reshard.stderr)")
        #expect(
            try Self.engineLogits(model: single, ids: ids, tp: 2, scratch: scratch)
                == Self.engineLogits(model: fixture.directory, ids: ids, tp: 2, scratch: scratch))
        let int4 = scratch.appendingPathComponent("int4")
        let quantize = try CommandRunner.glm([
            "convert", "--from", fixture.directory.path, "--to", int4.path, "--quantize", "int4",
        ])
        try #require(quantize.status == 0, "\(quantize.stderr)")
        let reference = try Self.referenceLogits(model: int4, ids: ids, scratch: scratch)
        let error = maxAbsDifference(try Self.engineLogits(model: int4, ids: ids, tp: 4, scratch: scratch), reference)
        #expect(error < 1e-4, "int4 release at TP 4: max |logit - reference| = \(error)")
        // GLM-4's safetensors: written as safetensors (bf16 kept), re-sharded bit for bit, quantized as loading
        // quantizes.
        let glm4 = try #require(Self.fixtures["glm4"])
        let glm4Ids = try #require(glm4.cases["chat_system"]).inputIds
        let glm4Single = scratch.appendingPathComponent("glm4-single")
        let copy = try CommandRunner.glm([
            "convert", "--from", glm4.directory.path, "--to", glm4Single.path, "--shards", "1",
        ])
        try #require(copy.status == 0, "\(copy.stderr)")
        #expect(FileManager.default.fileExists(atPath: glm4Single.appendingPathComponent("model.safetensors").path))
        #expect(
            try Self.engineLogits(model: glm4Single, ids: glm4Ids, tp: 2, scratch: scratch)
                == Self.engineLogits(model: glm4.directory, ids: glm4Ids, tp: 2, scratch: scratch))
        let glm4Int8 = scratch.appendingPathComponent("glm4-int8")
        let quantized = try CommandRunner.glm([
            "convert", "--from", glm4.directory.path, "--to", glm4Int8.path, "--quantize", "int8",
        ])
        try #require(quantized.status == 0, "\(quantized.stderr)")
        let out = scratch.appendingPathComponent("load-time.f32").path
        let loadTime = try CommandRunner.mpirun(
            2,
            [
                "logits", "--model", glm4.directory.path, "--ids", glm4Ids.map(String.init).joined(separator: ","),
                "--out", out, "--threads", "1", "--quantize", "int8",
            ])
        try #require(loadTime.status == 0, "\(loadTime.stderr)")
        #expect(
            try Self.engineLogits(model: glm4Int8, ids: glm4Ids, tp: 2, scratch: scratch)
                == CommandRunner.readFloats(out))
    }

    /// A batch of conversations and plain prompts for GLM-4 at TP 2: the official ids for each; ChatGLM2 refuses a
    /// system prompt in its line alone.
    @Test func batchConversationsMatchTheOfficialCode() throws {
        let scratch = try CommandRunner.temporaryDirectory("chatglm2-batch")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for release in ["glm4", "chatglm2"] {
            let fixture = try #require(Self.fixtures[release])
            let plain = try #require(fixture.cases["en_plain"])
            let input = scratch.appendingPathComponent("\(release).jsonl")
            let lines = [
                #"{"id": "chat", "messages": [{"role": "user", "content": "你好"}], "greedy": true, "max_new_tokens": 16}"#,
                #"{"id": "plain", "prompt": "The capital of France is", "greedy": true, "max_new_tokens": 16}"#,
                #"{"id": "system", "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}], "max_new_tokens": 4}"#,
            ]
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
            let output = scratch.appendingPathComponent("\(release)-out.jsonl")
            let result = try CommandRunner.mpirun(
                2,
                [
                    "batch", "--model", fixture.directory.path, "--input", input.path, "--output", output.path,
                    "--threads", "1", "--quiet",
                ])
            var byId: [String: [String: Any]] = [:]
            for line in try String(contentsOf: output, encoding: .utf8).split(separator: "\n") {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                byId[try #require(object["id"] as? String)] = object
            }
            #expect(byId["plain"]?["generated_ids"] as? [Int] == plain.gen, "\(release)")
            if release == "glm4" {
                #expect(result.status == 0, "\(result.stderr)")
                #expect(byId["chat"]?["generated_ids"] as? [Int] == fixture.cases["chat_single"]?.gen)
                #expect(byId["system"]?["generated_ids"] != nil)
            } else {
                #expect(result.status == 3, "\(result.stderr)")
                #expect(byId["chat"]?["generated_ids"] as? [Int] == fixture.cases["chat_single"]?.gen)
                #expect((byId["system"]?["error"] as? String)?.contains("no system prompt") == true)
            }
        }
    }
}
