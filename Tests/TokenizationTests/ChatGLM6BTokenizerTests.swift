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
}
