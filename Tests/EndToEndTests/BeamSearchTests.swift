import Foundation
import Testing

/// `generate --num-beams` against the independent NumPy beam search (`glm_reference.py beam`, the official
/// BeamSearchStrategy re-derived in fp64 with full recomputation), and the same beams at TP=1, 2 and 4.
@Suite(.serialized) struct BeamSearchTests {
    /// The reference models, plus one whose eos row is scaled up (`create-model --eos-scale 2.5`) so that beams
    /// finish on end tokens within a few steps: finished beams, their length penalty and the done test are then
    /// compared too, not only the length-limit path.
    static let models: [String: String] = {
        var models = ReferenceModelTests.models
        let root = try! CommandRunner.processLifetimeDirectory("beam-models")
        let config = root.appendingPathComponent("config.json")
        try! Data(
            """
            {"num_layers": 3, "hidden_size": 64, "num_attention_heads": 4, "inner_hidden_size": 160,
             "vocab_size": 150528, "max_sequence_length": 2048, "layernorm_epsilon": 1e-5,
             "tokenizer": {"model": "ice_text.model", "num_image_tokens": 20000,
                           "command_tokens_start": 150000, "eos": 20002}}
            """.utf8
        ).write(to: config)
        let out = root.appendingPathComponent("eos").path
        let result = try! CommandRunner.glm([
            "create-model", "--config", config.path, "--seed", "11", "--mp", "1", "--out", out, "--eos-scale", "2.5",
        ])
        precondition(result.status == 0, "create-model failed: \(result.stderr)")
        models["eos"] = out
        return models
    }()

    struct Report: Decodable {
        struct Beam: Decodable {
            var generated_ids: [Int]
            var finish_reason: String
            var score: Double
            var answer_text: String
        }
        struct Blank: Decodable { var input_ids: [Int] }
        var blanks: [Blank]
        var generated_ids: [Int]
        var beams: [Beam]
    }

    struct Reference: Decodable {
        struct Beam: Decodable {
            var tokens: [Int]
            var score: Double
        }
        var beams: [Beam]
    }

    static let cases: [(name: String, prompt: String, options: [String])] = [
        ("gmask 3 beams", "The capital of France is", ["--num-beams", "3", "--no-repeat-ngram-size", "0"]),
        ("mask 4 beams, 3-gram bans", "Tsinghua University is located in [MASK], China.", ["--num-beams", "4"]),
        (
            "2 beams, min length, penalty", "[MASK] is the capital of France.",
            ["--num-beams", "2", "--min-gen-length", "4", "--length-penalty", "0.6", "--no-repeat-ngram-size", "2"]
        ),
        ("1 beam", "The quick brown fox [MASK]", ["--num-beams", "1", "--no-repeat-ngram-size", "0"]),
    ]

    @Test(arguments: ["mp1", "eos"], cases.indices)
    func beamsMatchTheNumPyReference(variant: String, index: Int) throws {
        let (name, prompt, options) = Self.cases[index]
        let model = try #require(Self.models[variant])
        let run = try CommandRunner.glm(
            ["generate", "--model", model, "--prompt", prompt, "--max-new-tokens", "7", "--json"] + options)
        try #require(run.status == 0, "\(name): \(run.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        let context = try #require(report.blanks.first).input_ids

        func option(_ flag: String, _ fallback: String) -> String {
            options.firstIndex(of: flag).map { options[$0 + 1] } ?? fallback
        }
        let reference = try CommandRunner.python([
            CommandRunner.referenceScript, "beam", "--model", model, "--ids",
            context.map(String.init).joined(separator: ","),
            "--num-beams", option("--num-beams", "4"), "--max-new-tokens", "7",
            "--length-penalty", option("--length-penalty", "1"),
            "--no-repeat-ngram-size", option("--no-repeat-ngram-size", "3"),
            "--min-gen-length", option("--min-gen-length", "0"),
        ])
        try #require(reference.status == 0, "reference: \(reference.stderr)")
        let expected = try JSONDecoder().decode(Reference.self, from: Data(reference.stdout.utf8))
        try #require(
            report.beams.count == expected.beams.count,
            "\(name): \(report.beams.count) beams vs \(expected.beams.count)")
        let endTokens: Set<Int> = [150005, 20002]
        for (ours, theirs) in zip(report.beams, expected.beams) {
            let ended = theirs.tokens.last.map(endTokens.contains) ?? false
            #expect(ours.generated_ids == (ended ? Array(theirs.tokens.dropLast()) : theirs.tokens), "\(name)")
            #expect((ours.finish_reason == "end_token") == ended, "\(name)")
            #expect(
                abs(ours.score - theirs.score) < 1e-3 * max(1, abs(theirs.score)),
                "\(name): \(ours.score) vs \(theirs.score)")
        }
        #expect(report.generated_ids == report.beams[0].generated_ids)
    }

    @Test(arguments: ["mp2", "eos"])
    func beamsAreIdenticalAtTP124(variant: String) throws {
        let model = try #require(Self.models[variant])
        var outputs: [String] = []
        for tp in [1, 2, 4] {
            let run = try CommandRunner.mpirun(
                tp,
                [
                    "generate", "--model", model, "--prompt", "Tsinghua University is located in [MASK], China.",
                    "--num-beams", "3", "--max-new-tokens", "6", "--json", "--threads", "1",
                ])
            try #require(run.status == 0, "tp \(tp): \(run.stderr)")
            let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
            outputs.append(
                report.beams.map { "\($0.generated_ids) \($0.finish_reason) \($0.answer_text)" }.joined(separator: "\n")
            )
            #expect(!report.beams.isEmpty)
        }
        #expect(outputs[1] == outputs[0])
        #expect(outputs[2] == outputs[0])
    }

    @Test func badBeamOptionsAreRejected() throws {
        let model = try #require(Self.models["mp1"])
        for (options, message) in [
            (["--num-beams", "0"], "--num-beams must be at least 1"),
            (["--num-beams", "2", "--greedy"], "--greedy and --num-beams exclude each other"),
            (["--num-beams", "2", "--no-repeat-ngram-size=-1"], "--no-repeat-ngram-size must not be negative"),
        ] {
            let run = try CommandRunner.glm(["generate", "--model", model, "--prompt", "x"] + options)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(options): \(run.stderr)")
            #expect(run.stdout.isEmpty)
        }
    }
}
