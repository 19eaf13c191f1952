import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Partitioning
import SentencePiece
import Tensors
import Tokenization

/// A random-weights ChatGLM3-6B in THUDM/chatglm3-6b's release layout, what `create-model` writes for a
/// configuration of the ChatGLM2 architecture (`configs/chatglm3-demo.json`): `tokenizer.model` (a SentencePiece
/// BPE with byte fallback trained on the project's corpus; the tokenizer code numbers the special tokens after its
/// pieces, as the release's does), `tokenizer_config.json`, `config.json` with the release's field names and the
/// vocabulary padded to a multiple of 64 above the pieces and special tokens, and the weights in
/// `pytorch_model.bin` or `files` shards with their index.
enum DemoChatGLM3Release {
    /// The special tokens ChatGLM3's tokenizer code appends after the pieces.
    static let specialTokenCount = 9

    /// Writes the release from the fields of `configurationFile` (a ChatGLM2-architecture config.json); returns a
    /// one-line summary.
    static func write(
        configurationFile: URL, vocabularySize: Int, seed: UInt64, eosScale: Float, files: Int, to output: URL
    ) throws -> String {
        guard case .object(var fields)? = JSONValue.parse(try Data(contentsOf: configurationFile)) else {
            throw InputError(description: "\(configurationFile.path) is not a JSON object")
        }
        let arguments =
            TokenizerTrainer.trainingArguments(vocabularySize: vocabularySize)
            .replacing("--model_type=unigram", with: "--model_type=bpe") + " --byte_fallback=true"
        try TokenizerTrainer.train(
            corpus: DemoCorpus.text, vocabularySize: vocabularySize,
            outputPrefix: output.appendingPathComponent("tokenizer"), arguments: arguments)
        let pieces = try SentencePieceModelSize.pieceCount(of: output.appendingPathComponent("tokenizer.model"))
        fields["padded_vocab_size"] = .integer((pieces + specialTokenCount + 63) / 64 * 64)
        fields["eos_token_id"] = .integer(2)
        fields["pad_token_id"] = .integer(0)
        fields["_name_or_path"] = .string("glmcluster/chatglm3-demo")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(JSONValue.object(fields)).write(to: output.appendingPathComponent("config.json"))
        try Data(tokenizerConfiguration.utf8).write(to: output.appendingPathComponent("tokenizer_config.json"))
        let configuration = try ModelConfiguration.load(from: output.appendingPathComponent("config.json"))
        guard configuration.architecture == .chatGLM2, configuration.tokenizer.release == .chatGLM3 else {
            throw InputError(
                description: "\(configurationFile.path) does not describe a ChatGLM3-6B release (model_type "
                    + "\"chatglm\" with multi_query_attention)")
        }
        let tensors = RandomWeights.generate(
            configuration: configuration, seed: seed, textTokenCount: pieces, eosScale: eosScale
        ).map { ($0.key, CheckpointTensor.float16($0.tensor)) }
        try ReleaseWriter.writeRelease(tensors, files: files, to: output)
        let plural = files == 1 ? "" : "s"
        return "created \(output.path): ChatGLM3-6B release layout, \(configuration.numLayers) layers, hidden "
            + "\(configuration.hiddenSize), \(configuration.keyValueHeads) key/value groups, \(files) weight "
            + "file\(plural), \(pieces) tokenizer pieces"
    }

    static let tokenizerConfiguration = """
        {
          "name_or_path": "glmcluster/chatglm3-demo",
          "remove_space": false,
          "do_lower_case": false,
          "tokenizer_class": "ChatGLMTokenizer"
        }

        """

    /// The files `write` creates (removed when it fails half-way).
    static func writtenFiles(in output: URL) -> [URL] {
        ["config.json", "tokenizer_config.json", "tokenizer.model", "tokenizer.vocab"].map {
            output.appendingPathComponent($0)
        } + ReleaseWriter.weightFiles(in: output)
    }
}

/// The piece count of a SentencePiece model file.
enum SentencePieceModelSize {
    static func pieceCount(of url: URL) throws -> Int {
        do { return try SentencePieceProcessor(modelPath: url.path).pieceCount } catch {
            throw InputError(description: "cannot read the trained tokenizer \(url.path): \(error)")
        }
    }
}
