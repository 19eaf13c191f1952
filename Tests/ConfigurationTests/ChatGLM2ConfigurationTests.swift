import Configuration
import Foundation
import TestSupport
import Testing

/// The `config.json` files of ChatGLM2-6B, ChatGLM3-6B and GLM-4-9B (and GLM-4 in transformers' layout): their
/// field names, the special ids their tokenizer files give, and what is refused by name.
@Suite struct ChatGLM2ConfigurationTests {
    static let fixtures = Fixture.root.deletingLastPathComponent()

    static func load(_ folder: String) throws -> ModelConfiguration {
        try ModelConfiguration.load(from: fixtures.appendingPathComponent(folder).appendingPathComponent("config.json"))
    }

    @Test func releasesAreReadWithTheirSpecialTokens() throws {
        let v2 = try Self.load("chatglm2-6b-tiny")
        #expect(v2.architecture == .chatGLM2 && v2.tokenizer.release == .chatGLM2)
        #expect(v2.numLayers == 3 && v2.hiddenSize == 64 && v2.numAttentionHeads == 4 && v2.keyValueGroups == 2)
        #expect(v2.innerHiddenSize == 160 && v2.vocabSize == 1024 && v2.rotaryBase == 10000)
        #expect(v2.tokenizer.namedToken("[gMASK]") == 1001 && v2.tokenizer.namedToken("<sop>") == 1003)
        #expect(v2.tokenizer.endTokens == [2] && v2.tokenizer.namedToken("<|user|>") == nil)
        let v3 = try Self.load("chatglm3-6b-tiny")
        #expect(v3.tokenizer.release == .chatGLM3 && v3.tokenizer.namedToken("<|user|>") == 1006)
        #expect(v3.tokenizer.endTokens == [2, 1006, 1008])
        let v4 = try Self.load("glm-4-9b-chat-tiny")
        #expect(v4.tokenizer.release == .glm4 && v4.rotaryBase == 5_000_000 && v4.layernormEpsilon == 1.5625e-07)
        #expect(v4.tokenizer.namedToken("[gMASK]") == 1002 && v4.tokenizer.endTokens == [1000, 1007, 1009])
        // The configuration crosses the wire and identifies batch results: GLM-130B's identity is unchanged.
        #expect(!Fixture.configuration.identity.contains("namedTokens"))
        #expect(v4.identity.contains("namedTokens"))
    }

    /// A release folder with one field or file changed, read into a scratch copy.
    static func edited(_ folder: String, _ edit: (inout [String: Any]) -> Void, removing: String? = nil) throws
        -> Result<ModelConfiguration, ConfigurationError>
    {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("c2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let source = fixtures.appendingPathComponent(folder)
        for name in ["config.json", "tokenizer.model", "tokenizer_config.json"] where name != removing {
            try FileManager.default.copyItem(
                at: source.appendingPathComponent(name), to: scratch.appendingPathComponent(name))
        }
        let url = scratch.appendingPathComponent("config.json")
        var fields = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&fields)
        try JSONSerialization.data(withJSONObject: fields).write(to: url)
        do { return .success(try ModelConfiguration.load(from: url)) } catch { return .failure(error) }
    }

    @Test func whatNoReleaseHasIsRefusedByName() throws {
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            ("chatglm2-6b-tiny", { $0["rmsnorm"] = false }, "\"rmsnorm\" must be true"),
            (
                "chatglm2-6b-tiny", { $0["multi_query_group_num"] = 3 },
                "\"multi_query_group_num\" must be a positive divisor"
            ),
            ("chatglm2-6b-tiny", { $0["kv_channels"] = 8 }, "\"kv_channels\""),
            ("glm-4-9b-chat-tiny", { $0["rope_ratio"] = -1 }, "\"rope_ratio\""),
            ("glm-4-9b-chat-tiny", { $0["eos_token_id"] = [5000] }, "\"eos_token_id\""),
        ]
        for (folder, edit, fragment) in cases {
            let result = try Self.edited(folder, edit)
            guard case .failure(let error) = result else {
                Issue.record("\(fragment): accepted")
                continue
            }
            #expect(error.description.contains(fragment), "\(error)")
        }
        // The tokenizer file numbers the special tokens: without it the configuration names it.
        let missing = try Self.edited("chatglm2-6b-tiny", { _ in }, removing: "tokenizer.model")
        guard case .failure(let error) = missing else { throw CancellationError() }
        #expect(error.description.contains("tokenizer.model"), "\(error)")
    }

    /// Tensor parallelism splits the query heads and shares out the key/value groups: a degree that neither divides
    /// the groups nor is a multiple of them is refused by name.
    @Test func degreesMustDivideOrBeAMultipleOfTheGroups() throws {
        var c = try Self.load("chatglm2-6b-tiny")
        c.numAttentionHeads = 12
        c.hiddenSize = 192
        c.innerHiddenSize = 192
        c.vocabSize = 1152
        c.keyValueGroups = 3
        #expect(c.fieldNotDivided(by: 3) == nil && c.fieldNotDivided(by: 6) == nil)
        #expect(c.fieldNotDivided(by: 2)?.field == "multi_query_group_num")
        #expect(c.fieldNotDivided(by: 4)?.field == "multi_query_group_num")
    }

    /// GLM-4 in transformers' layout reads as the original: the same architecture, groups and rotary base.
    @Test func transformersLayoutReadsAsTheOriginal() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Self.fixtures.appendingPathComponent("glm-4-9b-chat-hf-tiny/config.json"),
            to: scratch.appendingPathComponent("config.json"))
        for name in ["tokenizer.model", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: Self.fixtures.appendingPathComponent("glm-4-9b-chat-tiny").appendingPathComponent(name),
                to: scratch.appendingPathComponent(name))
        }
        var hf = try ModelConfiguration.load(from: scratch.appendingPathComponent("config.json"))
        var original = try Self.load("glm-4-9b-chat-tiny")
        #expect(hf.architecture == .chatGLM2)
        // The fields the two name differently: the sequence length (131072 in both) is the only one told apart.
        hf.maxSequenceLength = 0
        original.maxSequenceLength = 0
        #expect(hf == original)
    }
}
