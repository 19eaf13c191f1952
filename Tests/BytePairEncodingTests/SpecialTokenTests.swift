import BytePairEncoding
import Foundation
import Testing

/// Special tokens: transformers' added-token splitting (leftmost, then longest), plain-text encoding when they are
/// not allowed, decoding, and the checks on the map.
@Suite struct SpecialTokenTests {
    static func plain(_ tokenizer: TiktokenTokenizer, _ text: String) -> [Int] {
        tokenizer.encode(text, allowingSpecialTokens: false)
    }

    @Test func adjacentSpecialTokensAndTheTextBetweenThem() throws {
        let tokenizer = try Fixtures.tokenizer()
        #expect(tokenizer.encode("[gMASK]<sop><|user|>", allowingSpecialTokens: true) == [1002, 1004, 1007])
        #expect(tokenizer.encode("<|endoftext|>", allowingSpecialTokens: true) == [1000])
        let mixed = tokenizer.encode("hello <|user|>\nworld<|assistant|>", allowingSpecialTokens: true)
        #expect(mixed == Self.plain(tokenizer, "hello ") + [1007] + Self.plain(tokenizer, "\nworld") + [1008])
        // Almost special: no special id.
        let almost = tokenizer.encode("<|user|[gMASK<sop", allowingSpecialTokens: true)
        #expect(almost == Self.plain(tokenizer, "<|user|[gMASK<sop"))
        #expect(!almost.contains { $0 >= 1000 })
    }

    /// The text between specials is encoded on its own: the split does not run across a special token.
    @Test func thePreSplitStopsAtSpecialTokens() throws {
        let tokenizer = try Fixtures.tokenizer()
        let ids = tokenizer.encode("  <eop>  ", allowingSpecialTokens: true)
        #expect(ids == Self.plain(tokenizer, "  ") + [1005] + Self.plain(tokenizer, "  "))
    }

    @Test func theLongestSpecialTokenStartingAtAPositionWins() throws {
        let vocabulary = try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL)
        let tokenizer = try TiktokenTokenizer(
            vocabulary: vocabulary, specialTokens: ["<s>": 1000, "<s><s>": 1001, "<": 1002, "s>x": 1003])
        #expect(tokenizer.encode("<s><s><s>", allowingSpecialTokens: true) == [1001, 1000])
        // Leftmost first: "<" at 0 starts "<s>", which wins over "s>x" starting at 1.
        #expect(tokenizer.encode("<s>x", allowingSpecialTokens: true) == [1000, vocabulary.id(of: Array("x".utf8))!])
        #expect(tokenizer.encode("a<b", allowingSpecialTokens: true) == [97, 1002, 98])
        #expect(tokenizer.encode("as>x", allowingSpecialTokens: true) == [97, 1003])
    }

    @Test func notAllowedSpecialTextIsPlainText() throws {
        let tokenizer = try Fixtures.tokenizer()
        let ids = tokenizer.encode("<|user|>hi[gMASK]", allowingSpecialTokens: false)
        #expect(!ids.contains { $0 >= 1000 })
        #expect(ids.count > 3)
        #expect(tokenizer.decode(ids) == "<|user|>hi[gMASK]")
    }

    @Test func specialIdsDecodeToTheirTextAndUnknownIdsToNothing() throws {
        let tokenizer = try Fixtures.tokenizer()
        let ids = tokenizer.encode("[gMASK]<sop>你好<|assistant|>", allowingSpecialTokens: true)
        #expect(tokenizer.decode(ids) == "[gMASK]<sop>你好<|assistant|>")
        #expect(tokenizer.decode([104, 1014, 105, 5000, -1, 1013]) == "hi<|end_of_video|>")
        #expect(tokenizer.decodeBytes([1014, -7]) == [])
        #expect(tokenizer.decode([]) == "")
        #expect(tokenizer.encode("", allowingSpecialTokens: true) == [])
    }

    @Test func specialTokenMapsAreChecked() throws {
        let vocabulary = try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL)
        func problem(_ specials: [String: Int]) -> TiktokenError.Problem? {
            do {
                _ = try TiktokenTokenizer(vocabulary: vocabulary, specialTokens: specials, file: "v.model")
                return nil
            } catch {
                return error.problem
            }
        }
        #expect(problem(["<a>": 999]) == .specialTokenCollidesWithRank("<a>", id: 999))
        #expect(problem(["<a>": 1000, "<b>": 1000]) == .duplicateSpecialTokenId(1000, first: "<a>", second: "<b>"))
        #expect(problem(["<a>": -1]) == .negativeSpecialTokenId("<a>", id: -1))
        #expect(problem(["": 1000]) == .emptySpecialToken(id: 1000))
        #expect(problem(["<a>": 1000, "<b>": 1001]) == nil)
        let error = TiktokenError(file: "v.model", problem: .specialTokenCollidesWithRank("<a>", id: 999))
        #expect(error.description == "v.model: special token '<a>' has id 999, which is a rank of the vocabulary")
    }
}
