import Configuration
import Foundation
import Testing
import TestSupport

@testable import Tokenization

@Suite struct IcetkTokenizerTests {
    let tokenizer = Fixture.tokenizer

    /// Texts compared with `spm_encode`: one per line, so none contains a newline.
    static let texts: [String] = [
        "The capital of France is Paris.",
        "清华大学位于中国北京。",
        "Hello world! 2048 tokens, GLM-130B.",
        "  leading and trailing spaces  ",
        "mixed 中英文 text, with numbers 150528 and punctuation？！",
        "", " ", "   ", "\t",
        "Tsinghua University is located in Beijing, China.",
        "今天天气很好，我们一起去公园散步。",
        "Punctuation: commas, semicolons; colons: dashes - and \"quotes\" (brackets) [square] {curly}!?",
        "全角标点：“引号”、《书名号》……——！？",
        "Ünïcödé àccents and ﬁ ligatures, ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ and ①②③",
        "emoji 🙂👍 and symbols ∑∫√ © ® ™",
        "a", "。", "12345678901234567890", "MASK] [MASK [sMASK] [gMASK]",
        "The quick brown fox jumps over the lazy dog.",
        "混合 English 和中文 in one sentence, 还有数字 42。",
        String(repeating: "long text ", count: 200),
    ]

    @Test func idsMatchSpmEncodePlusImageTokens() throws {
        let spmIds = try spmEncode(Self.texts, model: Fixture.modelPath)
        try #require(spmIds.count == Self.texts.count)
        for (text, expected) in zip(Self.texts, spmIds) {
            #expect(tokenizer.tokenize(text) == expected.map { $0 + 20000 }, "text \(text.debugDescription)")
        }
    }

    @Test(arguments: Fixture.expected.tokenizerRoundTrips)
    func officialRoundTrip(_ roundTrip: Fixture.RoundTrip) {
        if let text = roundTrip.text { #expect(tokenizer.tokenize(text) == roundTrip.ids) }
        #expect(tokenizer.detokenize(roundTrip.ids) == roundTrip.detokenized)
    }

    @Test func commandTokenLayout() throws {
        for (name, id) in Fixture.expected.specialIds {
            let token = try #require(CommandToken.allCases.first { $0.officialName == name }, "\(name)")
            #expect(tokenizer.id(of: token) == id)
            #expect(tokenizer.commandToken(for: id) == token)
        }
        #expect(tokenizer.eosId == Fixture.expected.eos)
        #expect(tokenizer.commandToken(for: 150008) == nil)
        #expect(tokenizer.commandToken(for: 149999) == nil)
        #expect(tokenizer.unknownId == 20000)
        #expect(tokenizer.textIds == 20000..<20800)
        #expect(
            CommandToken.allCases.map(\.renderedText) == [
                "[[MASK]]", "[[gMASK]]", "[[sMASK]]", "[eod]", "[sop]", "[eop]", "[ENC]", "[dBLOCK]",
            ])
    }

    @Test func detokenizeCutsAtCommandTokensAndEos() {
        let hello = tokenizer.tokenize("Hello world")
        // eos is a cut point rendered [</s>]; each run is decoded alone, so its leading space disappears.
        #expect(tokenizer.detokenize(hello + [20002] + hello) == "Hello world[</s>]Hello world")
        #expect(
            tokenizer.detokenize([150003, 150006, 150007, 150000, 150002]) == "[eod][ENC][dBLOCK][[MASK]][[sMASK]]")
        #expect(tokenizer.detokenize([]) == "")
        // <s> (SentencePiece control piece 1) decodes to nothing; <unk> shows as SentencePiece's " ⁇ ".
        #expect(tokenizer.detokenize([20001]) == "")
        #expect(tokenizer.detokenize(tokenizer.tokenize("a") + [20000]) == "a ⁇ ")
    }

    @Test func idsOutsideTheTextRangeAreRenderedByNumber() {
        let ids = tokenizer.tokenize("Hello") + [5, 20800, 150008, 150527, -1] + tokenizer.tokenize("world")
        #expect(
            tokenizer.detokenize(ids) == "Hello<image_5><unused_20800><unused_150008><unused_150527><unused_-1>world")
        #expect(!tokenizer.isValid(20800))
        #expect(!tokenizer.isValid(19999))
        #expect(tokenizer.isValid(150007))
        #expect(tokenizer.isValid(20799))
    }

    @Test func pieces() {
        #expect(tokenizer.piece(for: 20003) == "▁")
        #expect(tokenizer.piece(for: 20005) == "▁the")
        #expect(tokenizer.piece(for: 150001) == "[[gMASK]]")
        #expect(tokenizer.piece(for: 20002) == "[</s>]")
        #expect(tokenizer.piece(for: 20800) == nil)
    }

    @Test func modelPathIsRelativeToTheConfigurationDirectory() throws {
        let tokenizer = try IcetkTokenizer(configuration: .icetk, directory: Fixture.checkpointDirectory)
        #expect(tokenizer.modelURL.path == Fixture.modelPath)
        var absolute = TokenizerConfiguration.icetk
        absolute.model = Fixture.modelPath
        let other = try IcetkTokenizer(configuration: absolute, directory: URL(fileURLWithPath: "/nonexistent"))
        #expect(other.tokenize("清华") == tokenizer.tokenize("清华"))
    }

    @Test func missingModelErrorNamesTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "no-such-dir-\(UUID().uuidString)")
        let error = #expect(throws: TokenizationError.self) {
            try IcetkTokenizer(configuration: .icetk, directory: directory)
        }
        let path = directory.appendingPathComponent("ice_text.model").path
        guard case .cannotLoadModel(let named, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(named == path)
        #expect(error?.description.contains(path) == true)
    }

    @Test func corruptModelErrorNamesTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("ice_text.model")
        try Data("this is not a protobuf model".utf8).write(to: model)
        let error = #expect(throws: TokenizationError.self) {
            try IcetkTokenizer(configuration: .icetk, directory: directory)
        }
        #expect(error?.description.contains(model.path) == true)
    }

    @Test func vocabularyThatOverlapsCommandTokensIsRejected() {
        let configuration = TokenizerConfiguration(
            model: "ice_text.model", numImageTokens: 20000, commandTokensStart: 20500, eos: 20002)
        #expect(throws: TokenizationError.self) {
            try IcetkTokenizer(configuration: configuration, directory: Fixture.checkpointDirectory)
        }
    }
}

/// Runs `spm_encode --output_format=id` on the texts, one per line.
func spmEncode(_ texts: [String], model: String) throws -> [[Int]] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["spm_encode", "--model=\(model)", "--output_format=id"]
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("spm-input-\(UUID().uuidString).txt")
    try Data((texts.joined(separator: "\n") + "\n").utf8).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let output = Pipe()
    process.standardInput = try FileHandle(forReadingFrom: input)
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw SpmEncodeFailed(status: process.terminationStatus) }
    var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines.map { $0.split(separator: " ").map { Int($0)! } }
}

struct SpmEncodeFailed: Error { var status: Int32 }
