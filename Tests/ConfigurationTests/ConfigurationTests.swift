import Basics
import Configuration
import Coordination
import Foundation
import TestSupport
import Testing

/// The configuration as rank 0 sends it and the tensor-parallel divisibility check.
@Suite struct ConfigurationTests {
    @Test func configurationsRoundTripThroughTheWireEncoding() throws {
        for configuration in [ModelConfiguration.glm130B, Fixture.configuration] {
            #expect(try ModelConfiguration(wireBytes: configuration.wireBytes()) == configuration)
        }
        var odd = Fixture.configuration
        odd.layernormEpsilon = .leastNonzeroMagnitude
        odd.tokenizer.model = "/abs/path/清华.model"
        #expect(try ModelConfiguration(wireBytes: odd.wireBytes()) == odd)
    }

    @Test func degreesThatSplitEveryShareEvenlyPass() throws {
        for degree in [1, 2, 4, 8, 16, 32] {
            try ModelConfiguration.glm130B.checkDivisible(by: degree, degreeName: "--tp", source: "preset glm-130b")
        }
    }

    @Test func aDegreeThatSplitsUnevenlyNamesTheFieldAndTheSource() {
        let expected = ConfigurationError.notDivisible(
            degreeName: "tensor-parallel degree", degree: 5, field: "num_attention_heads", value: 96,
            source: "preset glm-130b")
        #expect(throws: expected) {
            try ModelConfiguration.glm130B.checkDivisible(
                by: 5, degreeName: "tensor-parallel degree", source: "preset glm-130b")
        }
        #expect(
            expected.description
                == "tensor-parallel degree 5 does not divide num_attention_heads = 96 (from preset glm-130b); valid "
                + "degrees divide num_attention_heads, inner_hidden_size and vocab_size, so that each rank holds an "
                + "equal share")
        // 64 divides the heads (96? no) - the first field that fails is named.
        #expect(ModelConfiguration.glm130B.fieldNotDivided(by: 64)?.field == "num_attention_heads")
        #expect(ModelConfiguration.glm130B.fieldNotDivided(by: 1024)?.field == "num_attention_heads")
    }
}

/// config.json values that would overflow a shape or a key list, or whose checks themselves could overflow:
/// refused with the field named.
@Suite struct HostileConfigurationTests {
    static func check(_ edit: (inout ModelConfiguration) -> Void) -> ConfigurationError? {
        var configuration = Fixture.configuration
        edit(&configuration)
        do {
            try configuration.validate(source: "config.json")
            return nil
        } catch { return error }
    }

    static let edits: [(String, @Sendable (inout ModelConfiguration) -> Void)] = [
        (
            "hidden_size",
            {
                $0.hiddenSize = 1 << 62; $0.numAttentionHeads = 1
            }
        ),
        ("inner_hidden_size", { $0.innerHiddenSize = 1 << 62 }),
        ("num_layers", { $0.numLayers = 1_000_000_000_000 }),
        ("vocab_size", { $0.vocabSize = Int.max }),
        ("max_sequence_length", { $0.maxSequenceLength = Int.max }),
        ("tokenizer.command_tokens_start", { $0.tokenizer.commandTokensStart = Int.max }),
        ("tokenizer.command_tokens_start", { $0.tokenizer.commandTokensStart = Int.max - 3 }),
        ("num_attention_heads", { $0.numAttentionHeads = Int.max }),
    ]

    @Test(arguments: 0..<edits.count)
    func hostileSizesNameTheirField(index: Int) {
        let (field, edit) = Self.edits[index]
        guard case .invalidValue(_, let named, _)? = Self.check(edit) else {
            Issue.record("\(field): accepted")
            return
        }
        #expect(named == field)
    }

    @Test func theLargestSupportedSizesPass() {
        #expect(Self.check { $0.numLayers = ModelConfiguration.limits.layers } == nil)
        #expect(Self.check { $0.maxSequenceLength = ModelConfiguration.limits.sequence } == nil)
    }
}

@Suite struct DuplicateConfigurationFieldTests {
    @Test func aFieldTwiceIsAnErrorNamingIt() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        var text = try String(
            contentsOf: Fixture.checkpointDirectory.appendingPathComponent("config.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: "{", with: "{\"num_layers\": 1,", options: [], range: text.range(of: "{"))
        try text.write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.malformed(file: url.path, reason: "field \"num_layers\" appears twice")) {
            try ModelConfiguration.load(from: url)
        }
    }
}

/// Each release's own config.json names its family (Tests/Fixtures and ../shared/fixtures/chatglm hold them).
@Suite struct ModelFamilyTests {
    static func fields(_ text: String) throws -> [String: JSONValue] {
        guard case .object(let fields)? = JSONValue.parse(Data(text.utf8)) else { throw CancellationError() }
        return fields
    }

    @Test func releasesAreRecognised() throws {
        let project = try Data(contentsOf: Fixture.checkpointDirectory.appendingPathComponent("config.json"))
        guard case .object(let glm)? = JSONValue.parse(project) else { throw CancellationError() }
        #expect(ModelFamily.recognise(glm) == .glm130B)
        let chatGLM6B = Fixture.root.deletingLastPathComponent().appendingPathComponent("chatglm-6b-tiny/config.json")
        guard case .object(let v1)? = JSONValue.parse(try Data(contentsOf: chatGLM6B)) else {
            throw CancellationError()
        }
        #expect(ModelFamily.recognise(v1) == .chatGLM6B)
        let v2 = try Self.fields(#"{"model_type": "chatglm", "multi_query_attention": true}"#)
        #expect(ModelFamily.recognise(v2) == .chatGLM2)
        let glm4 = try Self.fields(#"{"architectures": ["GlmForCausalLM"], "model_type": "glm"}"#)
        #expect(ModelFamily.recognise(glm4) == .glm4Transformers)
        #expect(try ModelFamily.recognise(Self.fields(#"{"model_type": "llama"}"#)) == nil)
        #expect(try ModelFamily.recognise(Self.fields(#"{"hidden_size": 4}"#)) == nil)
    }

    /// A release of no family this version runs is named as what it is, not reported as a missing field; a
    /// ChatGLM2-family file missing a field names the field.
    @Test func unsupportedReleasesAreNamed() throws {
        let chatGLM2 = Data(#"{"model_type": "chatglm", "multi_query_attention": true, "hidden_size": 8}"#.utf8)
        let missing = #expect(throws: ConfigurationError.self) {
            _ = try ModelConfiguration.decode(chatGLM2, source: "v2.json")
        }
        #expect(missing?.description.contains("num_layers") == true, "\(String(describing: missing))")
        let llama = Data(#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8}"#.utf8)
        let error = #expect(throws: ConfigurationError.self) {
            _ = try ModelConfiguration.decode(llama, source: "c.json")
        }
        #expect(
            error?.description
                == "c.json describes a model of no GLM family it knows (model_type \"llama\", architectures "
                + "[\"LlamaForCausalLM\"]), which this version of GLMCluster does not run (it runs GLM-130B, "
                + "ChatGLM-6B, ChatGLM2-6B/ChatGLM3-6B/GLM-4-9B, GLM-4 (transformers GlmForCausalLM))")
    }

    /// Batch jobs fingerprint results with the configuration's identity: GLM-130B's reads as before architectures
    /// existed (results written by earlier versions keep matching), other architectures name theirs.
    @Test func identitiesKeepGLM130BResultsMatching() throws {
        let glm = Fixture.configuration.identity
        #expect(glm.hasPrefix("ModelConfiguration(numLayers: ") && !glm.contains("architecture"), "\(glm)")
        let url = Fixture.root.deletingLastPathComponent().appendingPathComponent("chatglm-6b-tiny/config.json")
        #expect(try ModelConfiguration.load(from: url).identity.contains("chatGLM6B"))
    }

    /// ChatGLM-6B's own config.json: its field names, its special-token layout checked by name, and a quantized
    /// release refused by name.
    @Test func chatGLM6BReleaseConfigurations() throws {
        let url = Fixture.root.deletingLastPathComponent().appendingPathComponent("chatglm-6b-tiny/config.json")
        let text = try String(contentsOf: url, encoding: .utf8)
        let c = try ModelConfiguration.load(from: url)
        #expect(c.architecture == .chatGLM6B && c.layernormEpsilon == 1e-5 && c.maxSequenceLength == 2048)
        // Through the wire encoding (`--weights-from coordinator`), the architecture travels.
        #expect(try ModelConfiguration(wireBytes: c.wireBytes()) == c)
        for (from, to, field) in [
            (#""eos_token_id": 993"#, #""eos_token_id": 994"#, "eos_token_id"),
            (#""gmask_token_id": 989"#, #""gmask_token_id": 990"#, "gmask_token_id"),
            (#""position_encoding_2d": true"#, #""position_encoding_2d": false"#, "position_encoding_2d"),
            (#""use_cache": true"#, #""use_cache": true, "quantization_bit": 3"#, "quantization_bit"),
            (#""use_cache": true"#, #""use_cache": true, "quantization_embeddings": true"#, "quantization_embeddings"),
            (#""mask_token_id": 988"#, #""mask_token_id": 1340"#, "mask_token_id"),
        ] {
            let edited = text.replacingOccurrences(of: from, with: to)
            #expect(edited != text)
            let error = #expect(throws: ConfigurationError.self) {
                _ = try ModelConfiguration.decode(Data(edited.utf8), source: "config.json")
            }
            #expect(error?.description.contains("field \"\(field)\"") == true, "\(error.map { "\($0)" } ?? "")")
        }
        let missing = text.replacingOccurrences(of: #""num_layers": 3,"#, with: "")
        let error = #expect(throws: ConfigurationError.self) {
            _ = try ModelConfiguration.decode(Data(missing.utf8), source: "config.json")
        }
        #expect(error?.description.contains("missing field \"num_layers\"") == true)
    }
}
