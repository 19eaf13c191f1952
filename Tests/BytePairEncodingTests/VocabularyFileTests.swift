import BytePairEncoding
import Foundation
import Testing

/// Loading tiktoken vocabulary files: what the format allows, and the named error of each malformation.
@Suite struct VocabularyFileTests {
    /// The 256 single bytes as ranks 0-255, one line each (line `n + 1` holds byte `n`).
    static let byteLines = (0...255).map { "\(Data([UInt8($0)]).base64EncodedString()) \($0)" }

    static func parse(_ lines: [String], terminator: String = "\n") throws(TiktokenError) -> TiktokenVocabulary {
        try TiktokenVocabulary(parsing: Array(lines.map { $0 + terminator }.joined().utf8), file: "bad.tiktoken")
    }

    static func problem(_ lines: [String]) -> (line: Int?, problem: TiktokenError.Problem)? {
        do {
            _ = try parse(lines)
            return nil
        } catch {
            #expect(error.file == "bad.tiktoken")
            return (error.line, error.problem)
        }
    }

    @Test func ranksMayComeInAnyOrderAndLinesMayEndInCRLF() throws {
        let ab = "YWI= 256"  // "ab"
        let vocabulary = try Self.parse((Self.byteLines + [ab]).reversed(), terminator: "\r\n")
        #expect(vocabulary.count == 257)
        #expect(vocabulary.id(of: Array("ab".utf8)) == 256)
        #expect(vocabulary.bytes(of: 256) == Array("ab".utf8))
        #expect(vocabulary.id(of: Array("abc".utf8)) == nil)
        #expect(vocabulary.id(of: [UInt8]()) == nil)
        let unterminated = Array((Self.byteLines + ["  YWI=\t256 "]).joined(separator: "\n").utf8)
        #expect(try TiktokenVocabulary(parsing: unterminated, file: "f").count == 257)
    }

    @Test func malformedLinesNameTheirLineAndProblem() {
        let line = 257
        #expect(Self.problem(Self.byteLines + ["YW!= 256"])! == (line, .notBase64("YW!=")))
        #expect(Self.problem(Self.byteLines + ["YWI 256"])! == (line, .notBase64("YWI")))
        #expect(Self.problem(Self.byteLines + ["YQ=== 256"])! == (line, .notBase64("YQ===")))
        #expect(Self.problem(Self.byteLines + ["== 256"])! == (line, .emptyToken))
        #expect(Self.problem(Self.byteLines + ["YWI="])! == (line, .missingRank))
        #expect(Self.problem(Self.byteLines + ["YWI= 256 7"])! == (line, .extraField("7")))
        #expect(Self.problem(Self.byteLines + ["YWI= 2x6"])! == (line, .rankNotInteger("2x6")))
        #expect(Self.problem(Self.byteLines + ["YWI= -1"])! == (line, .rankNotInteger("-1")))
        #expect(Self.problem(Self.byteLines + ["YWI= 2.5"])! == (line, .rankNotInteger("2.5")))
        #expect(Self.problem(Self.byteLines + ["", "YWI= 256"])! == (line, .emptyLine))
        // "a" is byte 0x61, the token of line 98.
        #expect(Self.problem(Self.byteLines + ["YQ== 256"])! == (line, .duplicateToken(firstLine: 98)))
        #expect(Self.problem(Self.byteLines + ["YWI= 5"])! == (line, .duplicateRank(5, firstLine: 6)))
        #expect(Self.problem(Self.byteLines + ["YWI= 300"])! == (line, .rankOutOfRange(300, count: 257, missing: 256)))
        let huge = "YWI= 99999999999999999999999"
        #expect(Self.problem(Self.byteLines + [huge])! == (line, .rankOutOfRange(Int.max, count: 257, missing: 256)))
    }

    @Test func everySingleByteMustBeAToken() {
        var lines = Array(Self.byteLines.prefix(255))  // bytes 0-254
        #expect(Self.problem(lines)! == (nil, .missingByte(255)))
        lines[65] = "YWI= 65"  // "ab" in place of "A"
        #expect(Self.problem(lines)! == (nil, .missingByte(0x41)))
        #expect(Self.problem([])! == (nil, .missingByte(0)))
    }

    @Test func descriptionsNameTheFileTheLineAndWhatWasExpected() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tokenizer.model")
        try Data((Self.byteLines + ["YWI= x"]).joined(separator: "\n").utf8).write(to: file)
        let error = #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contentsOf: file) }
        let expected = "expected '<base64 token> <rank>', but the rank 'x' is not a non-negative decimal integer"
        #expect(error?.description == "\(file.path) line 257: \(expected)")

        let missing = directory.appendingPathComponent("absent.model")
        let unreadable = #expect(throws: TiktokenError.self) { try TiktokenVocabulary(contentsOf: missing) }
        #expect(unreadable?.problem == .unreadable("No such file or directory"))
        #expect(
            unreadable?.description == "\(missing.path): cannot read the tiktoken vocabulary: No such file or directory"
        )
        #expect(throws: TiktokenError.self) { try TiktokenTokenizer(vocabulary: missing, specialTokens: [:]) }
    }
}
