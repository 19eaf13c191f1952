import Basics
import Configuration
import Foundation
import TestSupport
import Testing

@testable import Tokenization

/// ChatGLM-6B's tokenizer against the official `tokenization_chatglm.py` (Tests/Fixtures/chatglm-6b-tiny).
@Suite struct ChatGLM6BTokenizerTests {
    static func tokenizer() throws -> (ChatGLM6BTokenizer, ChatGLMFixture) {
        let fixture = try ChatGLMFixture.chatGLM6B.get()
        let tokenizer = try ChatGLM6BTokenizer(
            modelURL: fixture.directory.appendingPathComponent("ice_text.model"), numImageTokens: 0)
        return (tokenizer, fixture)
    }

    @Test func promptsEncodeAsTheOfficialTokenizerEncodesThem() throws {
        let (tokenizer, fixture) = try Self.tokenizer()
        #expect(fixture.cases.count >= 6)
        for (name, example) in fixture.cases.sorted(by: { $0.key < $1.key }) {
            #expect(tokenizer.promptIds(example.prompt) == example.inputIds, "\(name)")
        }
    }

    @Test func generatedIdsDecodeAsTheOfficialTokenizerDecodesThem() throws {
        let (tokenizer, fixture) = try Self.tokenizer()
        for (name, example) in fixture.cases.sorted(by: { $0.key < $1.key }) {
            #expect(tokenizer.decode(example.gen) == example.decoded, "\(name)")
        }
    }

    /// Newlines, tabs, runs of spaces, an emoji (byte fallback), full-width punctuation, digits.
    @Test func roundTrips() throws {
        let (tokenizer, fixture) = try Self.tokenizer()
        #expect(fixture.tokenizerChecks.count >= 5)
        for check in fixture.tokenizerChecks {
            #expect(tokenizer.encode(check.text) == check.ids, "\(check.text.debugDescription)")
            #expect(tokenizer.decode(check.ids) == check.decoded, "\(check.text.debugDescription)")
        }
    }

    /// transformers cuts the text at the special tokens and strips the whitespace beside them; `[gMASK]` is
    /// not one of them.
    @Test func splittingAtSpecialTokens() {
        typealias Part = ChatGLM6BTokenizer.Part
        let parts = ChatGLM6BTokenizer.split(
            "a  [MASK]\tb<sop>[MASK] c [gMASK]", at: ChatGLM6BTokenizer.splittingTokens)
        let expected: [Part] = [
            .text("a"), .special("[MASK]"), .text("b"), .special("<sop>"), .special("[MASK]"), .text("c [gMASK]"),
        ]
        #expect(parts == expected)
        #expect(
            ChatGLM6BTokenizer.preprocess("x\n\ty   z" + String(repeating: " ", count: 83))
                == "x<n><|tab|>y<|blank_3|>z<|blank_80|><|blank_3|>")
        #expect(
            ChatGLM6BTokenizer.postprocess("x<n><|tab|>y<|blank_3|>z<|blank_12|>")
                == "x\n\ty   z" + String(repeating: " ", count: 12))
    }

    /// The official `chat()` prompt, with and without history: the multi-turn case's official input ids come from
    /// the messages, and messages it cannot take are refused by index and role.
    @Test func chatPromptsFollowTheOfficialFormat() throws {
        let (tokenizer, fixture) = try Self.tokenizer()
        let single = [ChatMessage(role: "user", content: "你好")]
        #expect(try tokenizer.chatText(single) == "你好")
        let history = [
            ChatMessage(role: "user", content: "你好"),
            ChatMessage(role: "assistant", content: "你好👋！我是人工智能助手，很高兴见到你，欢迎问我任何问题。"),
            ChatMessage(role: "user", content: "晚上睡不着应该怎么办"),
        ]
        let prompt = try tokenizer.chatText(history)
        #expect(prompt == fixture.cases["chat_multi"]?.prompt)
        #expect(tokenizer.promptIds(prompt) == fixture.cases["chat_multi"]?.inputIds)
        for (messages, fragment) in [
            ([ChatMessage(role: "system", content: "be brief")] + single, "message 0 has role \"system\""),
            (Array(history.prefix(2)), "the last message must be the user's"),
            ([single[0], single[0]], "message 1 has role \"user\""),
        ] {
            let error = #expect(throws: ChatFormatError.self) { try tokenizer.chatPrompt(messages) }
            #expect(error?.description.contains(fragment) == true, "\(error?.description ?? "")")
        }
    }

    /// `process_response`, against what the official function (Python `re`) returns for the same texts.
    @Test func chatResponsesArePostProcessedAsTheOfficialCodeDoes() throws {
        let (tokenizer, _) = try Self.tokenizer()
        for (text, official) in [
            ("  我在[[训练时间]]训练,你好!  ", "我在2023年训练，你好！"),
            ("a,b 中,文:好;吗?", "a,b 中，文：好；吗？"),
            ("中,,中", "中，，中"),
            ("?中", "？中"),
            ("Hello, world! 是:", "Hello, world! 是："),
            ("\n\t中?!\u{3000}", "中？!"),
        ] {
            #expect(tokenizer.chatResponse(text) == official, "\(text.debugDescription)")
        }
    }

    /// Messages as `generate --messages` and batch lines give them.
    @Test func messagesAreParsedWithTheirPlaceNamed() throws {
        let ok = try #require(JSONValue.parse(Data(#"[{"role": "user", "content": "hi"}]"#.utf8)))
        #expect(try ChatMessage.parse(ok, source: "m.json") == [ChatMessage(role: "user", content: "hi")])
        for (text, fragment) in [
            ("[]", "non-empty JSON array"), (#"{"role": "user"}"#, "non-empty JSON array"),
            (#"[{"role": "user"}]"#, "message 0 must be an object"),
            (#"[{"role": "user", "content": "a"}, {"role": 1, "content": "b"}]"#, "message 1 must be an object"),
            (#"[{"role": "user", "content": "a", "name": "x"}]"#, "unknown field \"name\""),
        ] {
            let value = try #require(JSONValue.parse(Data(text.utf8)))
            let error = #expect(throws: ChatFormatError.self) { try ChatMessage.parse(value, source: "m.json") }
            #expect(error?.description.contains(fragment) == true, "\(text): \(error?.description ?? "")")
            #expect(error?.description.hasPrefix("m.json") == true)
        }
    }

    /// tokenizer_config.json's `remove_space` and `do_lower_case` (the official `preprocess_text`, per piece of text
    /// between special tokens); a file that is not JSON is an error naming it.
    @Test func tokenizerConfigurationOptionsApply() throws {
        let (plain, fixture) = try Self.tokenizer()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: fixture.directory.appendingPathComponent("ice_text.model"),
            to: folder.appendingPathComponent("ice_text.model"))
        let settings = folder.appendingPathComponent("tokenizer_config.json")
        try Data(#"{"remove_space": true, "do_lower_case": true, "num_image_tokens": 0}"#.utf8).write(to: settings)
        let layout = TokenizerConfiguration(
            model: "ice_text.model", numImageTokens: 0, commandTokensStart: 988, eos: 993)
        let options = try ChatGLM6BTokenizer(configuration: layout, directory: folder)
        #expect(options.removesSpace && options.lowercases)
        #expect(options.encode("  Hello   World\n x ") == plain.encode("hello world x"))
        #expect(options.encode("A <sop> B") == plain.encode("a <sop> b"))
        try Data("{oops".utf8).write(to: settings)
        #expect(throws: TokenizationError.self) { _ = try ChatGLM6BTokenizer(configuration: layout, directory: folder) }
    }
}
