import Configuration
import Foundation
import TestSupport
import Testing

@testable import Tokenization

/// ChatGLM2-6B's, ChatGLM3-6B's and GLM-4's tokenizers against their official `tokenization_chatglm.py`
/// (Tests/Fixtures/chatglm2-6b-tiny, chatglm3-6b-tiny, glm-4-9b-chat-tiny): round trips, every case's prompt ids
/// (chat cases through the release's own chat format), decoded answers, and `process_response`.
@Suite struct ChatGLM2TokenizerTests {
    static let releases: [(name: String, fixture: Result<ChatGLMFixture, any Error>)] = [
        ("chatglm2", ChatGLMFixture.chatGLM2), ("chatglm3", ChatGLMFixture.chatGLM3), ("glm4", ChatGLMFixture.glm4),
    ]

    static func tokenizer(_ release: String) throws -> (any PromptTokenizer, ChatGLMFixture) {
        let fixture = try Self.releases.first { $0.name == release }!.fixture.get()
        let configuration = try ModelConfiguration.load(from: fixture.directory.appendingPathComponent("config.json"))
        return (try PromptTokenizers.load(for: configuration, directory: fixture.directory), fixture)
    }

    /// The messages of a chat case: its list, or ChatGLM2's `[Round N]` text split back into turns.
    static func messages(_ testCase: ChatGLMFixture.Case) -> [ChatMessage] {
        if let messages = testCase.messages {
            return messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
        }
        var messages: [ChatMessage] = []
        for round in testCase.prompt.components(separatedBy: "[Round ").dropFirst() {
            let parts = round.drop { $0 != "\n" }.dropFirst(2).components(separatedBy: "\n\n答：")
            messages.append(ChatMessage(role: "user", content: String(parts[0].dropFirst("问：".count))))
            let answer = parts[1].hasSuffix("\n\n") ? String(parts[1].dropLast(2)) : parts[1]
            if !answer.isEmpty { messages.append(ChatMessage(role: "assistant", content: answer)) }
        }
        return messages
    }

    @Test(arguments: ["chatglm2", "chatglm3", "glm4"]) func roundTripsMatchTheOfficialTokenizer(release: String)
        throws
    {
        let (tokenizer, fixture) = try Self.tokenizer(release)
        #expect(fixture.tokenizerChecks.count >= 5)
        for check in fixture.tokenizerChecks {
            #expect(tokenizer.tokenize(check.text) == check.ids, "\(release) \(check.text.debugDescription)")
            #expect(tokenizer.detokenize(check.ids) == check.decoded, "\(release) \(check.text.debugDescription)")
        }
    }

    @Test(arguments: ["chatglm2", "chatglm3", "glm4"]) func everyPromptAndAnswerMatchesTheOfficialCode(
        release: String
    ) throws {
        let (tokenizer, fixture) = try Self.tokenizer(release)
        for (name, testCase) in fixture.cases.sorted(by: { $0.key < $1.key }) {
            let prompt =
                name.hasPrefix("chat_")
                ? try tokenizer.chatPrompt(Self.messages(testCase)) : tokenizer.prompt(testCase.prompt)
            #expect(prompt.ids == testCase.inputIds, "\(release) \(name)")
            #expect(!prompt.appendsStartOfPiece && prompt.isContinuation)
            #expect(tokenizer.detokenize(testCase.gen) == testCase.decoded, "\(release) \(name)")
        }
    }

    /// ChatGLM2 keeps its `[Round N]` chat (no system prompt); ChatGLM3 and GLM-4 take the four roles and answer the
    /// user's or an observation's message.
    @Test func chatFormatsRefuseWhatTheirReleaseCannotTake() throws {
        let system = [ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "q")]
        let (v2, _) = try Self.tokenizer("chatglm2")
        let error = #expect(throws: ChatFormatError.self) { try v2.chatPrompt(system) }
        #expect(error?.description.contains("no system prompt") == true)
        for release in ["chatglm3", "glm4"] {
            let (tokenizer, _) = try Self.tokenizer(release)
            _ = try tokenizer.chatPrompt(system)
            #expect(throws: ChatFormatError.self) {
                try tokenizer.chatPrompt([ChatMessage(role: "tool", content: "x")])
            }
            #expect(throws: ChatFormatError.self) {
                try tokenizer.chatPrompt([
                    ChatMessage(role: "user", content: "q"), ChatMessage(role: "assistant", content: "a"),
                ])
            }
        }
    }

    /// `process_response`: ChatGLM2 trims and replaces `[[训练时间]]`; ChatGLM3 and GLM-4 take the text after the last
    /// `<|assistant|>`, split off a metadata line, and trim a plain answer.
    @Test func answersArePostProcessedAsTheOfficialChat() throws {
        let (v2, _) = try Self.tokenizer("chatglm2")
        #expect(v2.chatResponse("  我在[[训练时间]]训练。\n") == "我在2023年训练。")
        for release in ["chatglm3", "glm4"] {
            let (tokenizer, _) = try Self.tokenizer(release)
            #expect(tokenizer.chatResponse("\n 你好 \n") == "你好")
            #expect(tokenizer.chatResponse("x<|assistant|>\n 答案 ") == "答案")
            #expect(tokenizer.chatResponse("weather\n{\"city\": \"北京\"}") == "{\"city\": \"北京\"}")
        }
    }

    /// Text that spells a special token: ChatGLM3's tokenizer keeps it text (`encode_special_tokens` is off);
    /// GLM-4's special tokens are added tokens, which transformers splits out of any text.
    @Test func specialTextIsTextOrTokenAsTheReleaseTreatsIt() throws {
        let (v3, _) = try Self.tokenizer("chatglm3")
        #expect(!v3.tokenize("<|user|>").contains(v3.specialTokens.configuration.namedToken("<|user|>")!))
        let (v4, _) = try Self.tokenizer("glm4")
        #expect(v4.tokenize("a<|user|>b") == v4.tokenize("a") + [1007] + v4.tokenize("b"))
        #expect(v4.detokenize([1007]) == "<|user|>")
    }
}
