import Foundation
import TestSupport
import Testing

/// The whole engine, through the CLI, against the independent NumPy reference (Tests/Reference/glm_reference.py)
/// on random-weights models written by `create-model` in the official layout at MP=1 and MP=2.
@Suite struct ReferenceModelTests {
    /// One random model at MP=1 and the same weights at MP=2, created once per test process.
    static let models: [String: String] = {
        let root = try! CommandRunner.processLifetimeDirectory("reference-models")
        let config = root.appendingPathComponent("config.json")
        try! Data(
            """
            {"num_layers": 3, "hidden_size": 64, "num_attention_heads": 4, "inner_hidden_size": 160,
             "vocab_size": 150528, "max_sequence_length": 2048, "layernorm_epsilon": 1e-5,
             "tokenizer": {"model": "ice_text.model", "num_image_tokens": 20000,
                           "command_tokens_start": 150000, "eos": 20002}}
            """.utf8
        ).write(to: config)
        var paths: [String: String] = [:]
        for mp in [1, 2] {
            let out = root.appendingPathComponent("mp\(mp)").path
            let result = try! CommandRunner.glm([
                "create-model", "--config", config.path, "--seed", "11", "--mp", "\(mp)", "--out", out,
            ])
            precondition(result.status == 0, "create-model failed: \(result.stderr)")
            paths["mp\(mp)"] = out
        }
        return paths
    }()

    static let longPrompt =
        String(
            repeating: "The morning train leaves the old station at seven, and most people read the news. ", count: 60)
        + "At the end of the line [gMASK]"

    static let prompts: [(String, String)] = [
        ("gmask_english", "The capital of France is"),
        ("gmask_chinese", "清华大学位于中国北京"),
        ("mask_middle", "Tsinghua University is located in [MASK], China."),
        ("smask", "The library opens early on weekdays, and [sMASK] until the lights are switched off."),
        ("mask_first", "[MASK] is the capital of France."),
        ("mask_last", "The quick brown fox [MASK]"),
        ("two_masks", "[MASK] and her brother walked to [MASK] after school."),
        ("long_over_1100_tokens", longPrompt),
    ]

    struct Report: Decodable {
        struct Blank: Decodable {
            var input_ids: [Int]
            var generated_ids: [Int]
            var finish_reason: String
        }
        var blanks: [Blank]
    }

    struct ReferenceGreedy: Decodable {
        var generated_ids: [Int]
        var finished: Bool
    }

    @Test(arguments: ["mp1", "mp2"], prompts.map(\.0))
    func logitsAndGreedyIdsMatchNumPyReference(variant: String, promptName: String) throws {
        let model = try #require(Self.models[variant])
        let prompt = try #require(Self.prompts.first { $0.0 == promptName }).1
        let newTokens = 6
        let generated = try CommandRunner.glm(
            [
                "generate", "--model", model, "--prompt", prompt, "--greedy", "--max-new-tokens", "\(newTokens)",
                "--json",
            ])
        try #require(generated.status == 0, "generate failed: \(generated.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(generated.stdout.utf8))
        #expect(report.blanks.count == (promptName == "two_masks" ? 2 : 1))
        if promptName.hasPrefix("long") { #expect(report.blanks[0].input_ids.count > 1100) }

        let scratch = try CommandRunner.temporaryDirectory("reference-\(variant)-\(promptName)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (index, blank) in report.blanks.enumerated() {
            let idsFile = scratch.appendingPathComponent("ids\(index).txt").path
            try blank.input_ids.map(String.init).joined(separator: ",").write(
                toFile: idsFile, atomically: true, encoding: .utf8)

            // Greedy ids: the reference decodes the same context independently.
            let reference = try CommandRunner.python(
                [
                    CommandRunner.referenceScript, "greedy", "--model", model, "--ids-file", idsFile,
                    "--max-new-tokens", "\(newTokens)",
                ])
            try #require(reference.status == 0, "reference failed: \(reference.stderr)")
            let expected = try JSONDecoder().decode(ReferenceGreedy.self, from: Data(reference.stdout.utf8))
            let expectedIds = expected.finished ? Array(expected.generated_ids.dropLast()) : expected.generated_ids
            #expect(blank.generated_ids == expectedIds, "\(variant) \(promptName) blank \(index)")
            #expect((blank.finish_reason == "end_token") == expected.finished)

            // Logits at <sop> within 1e-3 over the whole vocabulary.
            let ours = scratch.appendingPathComponent("ours\(index).f32").path
            let theirs = scratch.appendingPathComponent("theirs\(index).f32").path
            let logits = try CommandRunner.glm(
                [
                    "logits", "--model", model, "--ids", blank.input_ids.map(String.init).joined(separator: ","),
                    "--out", ours,
                ])
            try #require(logits.status == 0, "logits failed: \(logits.stderr)")
            let referenceLogits = try CommandRunner.python(
                [CommandRunner.referenceScript, "logits", "--model", model, "--ids-file", idsFile, "--out", theirs])
            try #require(referenceLogits.status == 0, "reference logits failed: \(referenceLogits.stderr)")
            let a = try CommandRunner.readFloats(ours)
            let b = try CommandRunner.readFloats(theirs)
            try #require(a.count == 150528 && b.count == 150528)
            let error = maxAbsDifference(a, b)
            #expect(error < 1e-3, "\(variant) \(promptName) blank \(index): max |logit - reference| = \(error)")
        }
    }

    /// MP=1 and MP=2 checkpoints of the same weights give the same tokens and logits.
    @Test(arguments: prompts.map(\.0).prefix(3))
    func mp1AndMp2CheckpointsAgree(promptName: String) throws {
        let prompt = try #require(Self.prompts.first { $0.0 == promptName }).1
        var outputs: [String] = []
        var logits: [[Float]] = []
        let scratch = try CommandRunner.temporaryDirectory("mp-agree")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for variant in ["mp1", "mp2"] {
            let model = try #require(Self.models[variant])
            let run = try CommandRunner.glm([
                "generate", "--model", model, "--prompt", prompt, "--greedy", "--max-new-tokens", "8", "--json",
            ])
            try #require(run.status == 0, "\(run.stderr)")
            // Everything but the per-rank memory report must be identical.
            var object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            object["ranks"] = nil
            outputs.append(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            )
            let file = scratch.appendingPathComponent("\(variant).f32").path
            let l = try CommandRunner.glm(["logits", "--model", model, "--prompt", prompt, "--out", file])
            try #require(l.status == 0, "\(l.stderr)")
            logits.append(try CommandRunner.readFloats(file))
        }
        #expect(outputs[0] == outputs[1])
        let error = maxAbsDifference(logits[0], logits[1])
        #expect(error < 1e-4)
    }
}
