import BytePairEncoding
import Foundation
import Testing

/// The tokenizer against what the official GLM-4 `tokenization_chatglm.py` computed on the tiny vocabulary.
@Suite struct OfficialTokenizerTests {
    @Test func theTinyVocabularyHasEveryByte() throws {
        let vocabulary = try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL)
        #expect(vocabulary.count == 1000)
        for byte in 0...UInt8.max {
            let id = try #require(vocabulary.id(of: [byte]))
            #expect(vocabulary.bytes(of: id) == [byte])
        }
        #expect(vocabulary.bytes(of: 1000) == nil)
        #expect(vocabulary.bytes(of: -1) == nil)
    }

    /// Newlines, a tab, runs of spaces, an emoji (byte fallback), full-width punctuation, digits.
    @Test func tokenizerChecksEncodeAndDecodeAsTheOfficialTokenizerDoes() throws {
        let tokenizer = try Fixtures.tokenizer()
        let checks = try Fixtures.expected().tokenizerChecks
        #expect(checks.count >= 5)
        for check in checks {
            #expect(
                tokenizer.encode(check.text, allowingSpecialTokens: true) == check.ids, "\(check.text.debugDescription)"
            )
            #expect(tokenizer.decode(check.ids) == check.decoded, "\(check.text.debugDescription)")
        }
    }

    /// Plain prompts are `[gMASK]<sop>` and the encoded text; chat prompts come from the official chat template, so
    /// they also check the special-token splitting.
    @Test func promptsEncodeAsTheOfficialTokenizerEncodesThem() throws {
        let tokenizer = try Fixtures.tokenizer()
        let cases = try Fixtures.expected().cases
        #expect(cases.count >= 7)
        for (name, example) in cases.sorted(by: { $0.key < $1.key }) {
            let ids = tokenizer.encode("[gMASK]<sop>" + example.promptText, allowingSpecialTokens: true)
            #expect(ids == example.inputIds, "\(name)")
        }
    }

    /// The generated ids of the random-weight model split characters mid-sequence: decoding has to replace
    /// ill-formed UTF-8 exactly as Python does.
    @Test func generatedIdsDecodeAsTheOfficialTokenizerDecodesThem() throws {
        let tokenizer = try Fixtures.tokenizer()
        for (name, example) in try Fixtures.expected().cases.sorted(by: { $0.key < $1.key }) {
            #expect(tokenizer.decode(example.gen) == example.decoded, "\(name)")
        }
    }
}
