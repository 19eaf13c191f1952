import Demo
import Foundation
import SentencePiece
import TestSupport
import Testing

@Suite struct SentencePieceProcessorTests {
    @Test func loadEncodeDecode() throws {
        let processor = try SentencePieceProcessor(modelPath: Fixture.modelPath)
        #expect(processor.pieceCount == 800)
        #expect(processor.unknownId == 0)
        #expect(processor.encode("") == [])
        let ids = processor.encode("The capital of France is Paris.")
        #expect(ids == [22, 16, 117, 458, 399, 23, 3, 611, 207, 230, 3, 21, 155, 123, 21, 7])
        #expect(try processor.decode(ids) == "The capital of France is Paris.")
        #expect(processor.piece(for: 5) == "▁the")
        #expect(processor.piece(for: 800) == nil)
        // A long input exercises the buffer protocol's retry path on decode (output longer than the first guess).
        let long = String(repeating: "清华大学位于中国北京。", count: 300)
        #expect(try processor.decode(processor.encode(long)) == long)
    }

    @Test func outOfRangeIdsThrow() throws {
        let processor = try SentencePieceProcessor(modelPath: Fixture.modelPath)
        #expect(throws: SentencePieceError.idOutOfRange(modelPath: Fixture.modelPath, id: 800, pieceCount: 800)) {
            try processor.decode([1, 800])
        }
        #expect(throws: SentencePieceError.self) { try processor.decode([-1]) }
    }

    @Test func missingFileErrorNamesTheFile() {
        let path = "/nonexistent/dir/model.model"
        let error = #expect(throws: SentencePieceError.self) { try SentencePieceProcessor(modelPath: path) }
        guard case .cannotLoad(let named, _, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(named == path)
        #expect(error?.description.contains(path) == true)
    }

    @Test func fileBasedTrainingWritesALoadableModel() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spm-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let corpus = directory.appendingPathComponent("corpus.txt")
        try Data(Demo.DemoCorpus.text.utf8).write(to: corpus)
        let prefix = directory.appendingPathComponent("m").path
        try SentencePieceTrainer.train(
            arguments: "--input=\(corpus.path) --model_prefix=\(prefix) --vocab_size=800 --num_threads=1")
        let processor = try SentencePieceProcessor(modelPath: prefix + ".model")
        #expect(processor.pieceCount == 800)
        #expect(try processor.decode(processor.encode("The river rose.")) == "The river rose.")
    }

    @Test func trainerReportsBadArguments() {
        #expect(throws: SentencePieceError.self) {
            try SentencePieceTrainer.train(
                arguments: "--input=/nonexistent/x.txt --model_prefix=/tmp/never --vocab_size=10")
        }
    }
}
