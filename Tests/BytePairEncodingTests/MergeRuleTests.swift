import Foundation
import Testing

@testable import BytePairEncoding

/// tiktoken's merge rule on hand-made vocabularies, where the expected ids follow from the rule by hand: both merge
/// loops (the rescanning one for short pieces, the heap for long ones) and the tokenizer.
@Suite struct MergeRuleTests {
    /// The 256 single bytes as ranks 0-255, then `tokens` as ranks 256...
    static func vocabulary(_ tokens: [String]) throws -> TiktokenVocabulary {
        let lines = (0...255).map { [UInt8($0)] } + tokens.map { Array($0.utf8) }
        let text = lines.enumerated().map { "\(Data($0.element).base64EncodedString()) \($0.offset)\n" }.joined()
        return try TiktokenVocabulary(parsing: Array(text.utf8), file: "test.tiktoken")
    }

    static func bothLoops(_ encoder: BytePairEncoder, _ piece: String) -> ([Int], [Int]) {
        var scratch = BytePairEncoder.Scratch()
        var scanned: [Int] = []
        var heaped: [Int] = []
        let bytes = Array(piece.utf8)
        encoder.mergeByScanning(bytes.span, into: &scanned, scratch: &scratch)
        encoder.mergeWithHeap(bytes.span, into: &heaped, scratch: &scratch)
        return (scanned, heaped)
    }

    static func bytes(_ text: String) -> [Int] { text.utf8.map(Int.init) }

    /// "bc" has the lower rank, so it merges before "ab" although "ab" comes first.
    @Test func theLowestRankMergesFirst() throws {
        let encoder = BytePairEncoder(vocabulary: try Self.vocabulary(["bc", "ab"]))
        let (scanned, heaped) = Self.bothLoops(encoder, "abc")
        #expect(scanned == [97, 256])
        #expect(heaped == [97, 256])
    }

    /// Merges go by the concatenation's rank: "ab" + "cd" merge because "abcd" is a token, with no "abc" or "bcd".
    @Test func partsMergeWhenTheirConcatenationIsAToken() throws {
        let encoder = BytePairEncoder(vocabulary: try Self.vocabulary(["ab", "cd", "abcd"]))
        let (scanned, heaped) = Self.bothLoops(encoder, "abcde")
        #expect(scanned == [258, 101])
        #expect(heaped == [258, 101])
    }

    /// A piece that is a token is that token even when no merges lead to it; inside a longer piece it is not found.
    @Test func aWholePieceIsLookedUpFirst() throws {
        let tokenizer = try TiktokenTokenizer(vocabulary: try Self.vocabulary(["xyz"]), specialTokens: [:])
        #expect(tokenizer.encode("xyz", allowingSpecialTokens: false) == [256])
        #expect(tokenizer.encode("xyzw", allowingSpecialTokens: false) == Self.bytes("xyzw"))
        #expect(tokenizer.encode("xyz xyz", allowingSpecialTokens: false) == [256] + Self.bytes(" xyz"))
    }

    /// Equal ranks (the same pair twice) merge leftmost first: "aaaaa" -> aa a a a -> aa aa a -> aaaa a.
    @Test func equalRanksMergeLeftmostFirst() throws {
        let encoder = BytePairEncoder(vocabulary: try Self.vocabulary(["aa", "aaaa"]))
        for (piece, expected) in [("aaa", [256, 97]), ("aaaaa", [257, 97]), ("aaaaaaaaa", [257, 257, 97])] {
            let (scanned, heaped) = Self.bothLoops(encoder, piece)
            #expect(scanned == expected, "\(piece)")
            #expect(heaped == expected, "\(piece)")
        }
    }

    /// A long piece (past the heap threshold) through the tokenizer: "ab" repeated merges pairwise, then "abab".
    @Test func longPiecesMergeLikeShortOnes() throws {
        let tokenizer = try TiktokenTokenizer(vocabulary: try Self.vocabulary(["ab", "abab"]), specialTokens: [:])
        let piece = String(repeating: "ab", count: 2 * BytePairEncoder.heapThreshold + 1)
        let expected = Array(repeating: 257, count: BytePairEncoder.heapThreshold) + [256]
        #expect(tokenizer.encode(piece, allowingSpecialTokens: false) == expected)
        #expect(tokenizer.decode(expected) == piece)
    }
}
