import Foundation
import Testing

@testable import BytePairEncoding

/// The pre-split and the byte-pair ids against Python: `Tests/Fixtures/glm4-pretokenizer-cases.json` holds random
/// strings (several scripts, non-ASCII digits, every kind of whitespace, contractions in both cases, emoji,
/// combining marks, control characters) split by Python `regex` with GLM-4's pattern, and their ids from a Python
/// transcription of tiktoken's rule; `Tests/Reference/test_glm4_pretokenizer.py` proves the file is that output.
@Suite struct PythonReferenceTests {
    static let official =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"#
        + #"\s*[\r\n]+|\s+(?!\S)|\s+"#

    @Test func theCasesUseTheOfficialPattern() throws {
        let cases = try Fixtures.preTokenizerCases.get()
        #expect(cases.pattern == Self.official)
        #expect(cases.cases.count >= 2000)
    }

    @Test func splitsAsPythonRegexSplits() throws {
        let splitter = GLM4PreTokenizer()
        var failures = 0
        for example in try Fixtures.preTokenizerCases.get().cases {
            let pieces = splitter.split(example.text)
            if pieces != example.pieces {
                failures += 1
                if failures <= 20 {
                    Issue.record("\(example.text.unicodeScalars.map(\.escapedDebug)): \(pieces) != \(example.pieces)")
                }
            }
        }
        #expect(failures == 0)
    }

    @Test func encodesAsTheReferenceEncoder() throws {
        let tokenizer = try Fixtures.tokenizer()
        let examples = try Fixtures.preTokenizerCases.get().cases.filter { $0.ids != nil }
        #expect(examples.count >= 700)
        #expect(examples.contains { $0.text.utf8.count > 4 * BytePairEncoder.heapThreshold })
        for example in examples {
            #expect(tokenizer.encode(example.text, allowingSpecialTokens: false) == example.ids, "\(example.text)")
        }
    }

    /// Both merge loops on every piece, long ones included: the heap must merge exactly as the rescanning loop.
    @Test func bothMergeLoopsAgreeWithTheReference() throws {
        let encoder = BytePairEncoder(vocabulary: try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL))
        let splitter = GLM4PreTokenizer()
        var scratch = BytePairEncoder.Scratch()
        for example in try Fixtures.preTokenizerCases.get().cases {
            guard let expected = example.ids else { continue }
            var scanned: [Int] = []
            var heaped: [Int] = []
            for piece in splitter.split(example.text) {
                let bytes = Array(piece.utf8)
                if let whole = encoder.vocabulary.id(of: bytes) {
                    scanned.append(whole)
                    heaped.append(whole)
                } else {
                    encoder.mergeByScanning(bytes.span, into: &scanned, scratch: &scratch)
                    encoder.mergeWithHeap(bytes.span, into: &heaped, scratch: &scratch)
                }
            }
            #expect(scanned == expected, "\(example.text)")
            #expect(heaped == expected, "\(example.text)")
        }
    }

    @Test func everyStringRoundTrips() throws {
        let tokenizer = try Fixtures.tokenizer()
        for example in try Fixtures.preTokenizerCases.get().cases {
            let text = example.text
            #expect(tokenizer.decode(tokenizer.encode(text, allowingSpecialTokens: false)) == text)
        }
    }

    /// Random byte strings (truncated sequences, overlongs, surrogates, values past U+10FFFF) decode with U+FFFD
    /// where Python puts it.
    @Test func illFormedUTF8IsReplacedAsPythonReplacesIt() throws {
        let vocabulary = try TiktokenVocabulary(contentsOf: Fixtures.vocabularyURL)
        let tokenizer = try TiktokenTokenizer(vocabulary: vocabulary, specialTokens: [:])
        let cases = try Fixtures.preTokenizerCases.get().decoding
        #expect(cases.count >= 300)
        for example in cases {
            let bytes = stride(from: 0, to: example.bytes.count, by: 2).map { offset in
                let start = example.bytes.index(example.bytes.startIndex, offsetBy: offset)
                return UInt8(example.bytes[start..<example.bytes.index(start, offsetBy: 2)], radix: 16)!
            }
            let ids = bytes.map { vocabulary.id(of: [$0])! }
            #expect(tokenizer.decodeBytes(ids) == bytes)
            #expect(tokenizer.decode(ids) == example.text, "\(example.bytes)")
        }
    }
}

extension Unicode.Scalar {
    fileprivate var escapedDebug: String { escaped(asASCII: true) }
}
