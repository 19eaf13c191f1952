import Foundation
import SentencePiece
import Testing
import Tokenization

@testable import Demo

@Suite struct TokenizerTrainerTests {
    @Test func demoTrainingIsDeterministicAndRoundTrips() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("demo-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first")
        let second = directory.appendingPathComponent("second")
        try TokenizerTrainer.trainDemoModel(vocabularySize: 800, outputPrefix: first)
        try TokenizerTrainer.trainDemoModel(vocabularySize: 800, outputPrefix: second)
        let a = try Data(contentsOf: first.appendingPathExtension("model"))
        let b = try Data(contentsOf: second.appendingPathExtension("model"))
        #expect(a == b)

        let processor = try SentencePieceProcessor(modelPath: first.appendingPathExtension("model").path)
        #expect(processor.pieceCount == 800)
        for sentence in ["The river rose after three days of rain.", "我们一起去公园散步。"] {
            let ids = processor.encode(sentence)
            #expect(!ids.isEmpty)
            #expect(try processor.decode(ids) == sentence)
        }

        // The trained model plugs into the icetk layout like the fixture's ice_text.model.
        let tokenizer = try IcetkTokenizer(
            configuration: .init(model: "first.model", numImageTokens: 20000, commandTokensStart: 150000, eos: 20002),
            directory: directory)
        let text = "Small models are useful for tests."
        #expect(tokenizer.detokenize(tokenizer.tokenize(text)) == text)
    }

    @Test func tooLargeVocabularyFailsClearly() throws {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("demo-tok-big-\(UUID().uuidString)")
        #expect(throws: TokenizationError.self) {
            try TokenizerTrainer.trainDemoModel(vocabularySize: 100_000, outputPrefix: prefix)
        }
    }

    @Test func corpusIsBilingualAndLargeEnough() {
        let lines = DemoCorpus.text.split(separator: "\n")
        #expect(lines.count >= 300)
        #expect(lines.filter { $0.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } }.count >= 100)
        #expect(Set(lines).count == lines.count)
    }
}
