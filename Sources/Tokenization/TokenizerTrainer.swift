import Foundation
import SentencePiece

/// Trains the small SentencePiece unigram models used by the project's tiny demo and test checkpoints.
public enum TokenizerTrainer {
    /// The SentencePiece options that make training reproducible: the whole corpus in file order (no sampling, no
    /// shuffling) and one thread, so the same corpus and size give the same model bytes on every run.
    public static func trainingArguments(input: String, modelPrefix: String, vocabularySize: Int) -> String {
        [
            "--input=\(input)", "--model_prefix=\(modelPrefix)", "--vocab_size=\(vocabularySize)",
            "--model_type=unigram", "--character_coverage=0.9995", "--num_threads=1",
            "--input_sentence_size=0", "--shuffle_input_sentence=false",
        ].joined(separator: " ")
    }

    /// Trains a unigram model with `vocabularySize` pieces on `DemoCorpus.text` and writes
    /// `<outputPrefix>.model` and `<outputPrefix>.vocab`. The corpus supports sizes up to about 1500; the fixture's
    /// tiny model has 800. Paths must not contain whitespace (SentencePiece splits its arguments at spaces).
    public static func trainDemoModel(vocabularySize: Int, outputPrefix: URL) throws(TokenizationError) {
        try train(corpus: DemoCorpus.text, vocabularySize: vocabularySize, outputPrefix: outputPrefix)
    }

    /// Trains on `corpus` (one sentence per line) with the deterministic options above.
    public static func train(corpus: String, vocabularySize: Int, outputPrefix: URL) throws(TokenizationError) {
        let prefix = outputPrefix.path
        guard !prefix.contains(where: \.isWhitespace) else {
            throw .trainingFailed(reason: "output prefix \(prefix) contains whitespace")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("glm-tokenizer-corpus-\(UUID().uuidString)")
        let input = directory.appendingPathComponent("corpus.txt")
        guard !input.path.contains(where: \.isWhitespace) else {
            throw .trainingFailed(reason: "temporary path \(input.path) contains whitespace")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(corpus.utf8).write(to: input)
        } catch {
            throw .trainingFailed(reason: "cannot write the corpus to \(input.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            try SentencePieceTrainer.train(
                arguments: trainingArguments(input: input.path, modelPrefix: prefix, vocabularySize: vocabularySize))
        } catch {
            throw .trainingFailed(reason: error.description)
        }
    }
}
