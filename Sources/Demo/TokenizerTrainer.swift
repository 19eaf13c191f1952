import Basics
import FoundationEssentials
import SentencePiece
import Tokenization

/// Trains the small SentencePiece unigram models used by the project's tiny demo and test checkpoints.
public enum TokenizerTrainer {
    /// The SentencePiece options that make training reproducible: every sentence in corpus order (no sampling, no
    /// shuffling) and one thread. The corpus is handed over in memory, so no file path ends up in the model and the
    /// same corpus and size give the same model bytes on every run.
    public static func trainingArguments(vocabularySize: Int) -> String {
        [
            "--vocab_size=\(vocabularySize)", "--model_type=unigram", "--character_coverage=0.9995",
            "--num_threads=1", "--input_sentence_size=0", "--shuffle_input_sentence=false",
        ].joined(separator: " ")
    }

    /// Trains a unigram model with `vocabularySize` pieces on `DemoCorpus.text` and writes `<outputPrefix>.model`.
    /// The corpus supports sizes from about 700 (its distinct characters) to about 1500; the fixture's tiny model has 800 pieces.
    public static func trainDemoModel(vocabularySize: Int, outputPrefix: URL) throws(TokenizationError) {
        try train(corpus: DemoCorpus.text, vocabularySize: vocabularySize, outputPrefix: outputPrefix)
    }

    /// Trains on `corpus` (one sentence per line) with the deterministic options above (or `arguments`, which
    /// should start with them) and writes `<outputPrefix>.model`.
    public static func train(
        corpus: String, vocabularySize: Int, outputPrefix: URL, arguments: String? = nil
    ) throws(TokenizationError) {
        let model: [UInt8]
        do {
            model = try SentencePieceTrainer.train(
                arguments: arguments ?? trainingArguments(vocabularySize: vocabularySize), sentences: corpus)
        } catch {
            throw .trainingFailed(reason: error.description)
        }
        let url = outputPrefix.appendingPathExtension("model")
        do { try Data(model).write(to: url, options: .atomic) } catch {
            throw .trainingFailed(reason: "cannot write \(url.path): \(error.explanation)")
        }
    }
}
