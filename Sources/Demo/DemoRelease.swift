import Basics
import Checkpoint
import Configuration
import FoundationEssentials
import GLM
import Partitioning
import Tensors
import Tokenization

/// A random-weights ChatGLM-6B in THUDM/chatglm-6b's release layout, what `create-model` writes for a ChatGLM-6B
/// configuration: `config.json` with the release's field names, `ice_text.model` trained on the project's corpus
/// with the release's special pieces inside it, `tokenizer_config.json`, and the weights (with the release's
/// duplicate `lm_head.weight`) in `pytorch_model.bin` or `files` shards with their index.
///
/// The tokenizer's layout follows the release's: `<pad>` is piece 3, then `[MASK] [gMASK] [sMASK] <unused_0> <sop>
/// <eop>` (so `<sop>` and `<eop>` are `[MASK]`+4 and +5, as config.json's token ids must be), then the pieces the
/// text preprocessing writes (`<n>`, `<|tab|>`, `<|blank_2|>` ... `<|blank_80|>`), then the learned pieces.
enum DemoRelease {
    static let specialPieces = ["[MASK]", "[gMASK]", "[sMASK]", "<unused_0>", "<sop>", "<eop>"]
    static var preprocessingPieces: [String] { ["<n>", "<|tab|>"] + (2...80).map { "<|blank_\($0)|>" } }
    /// The id of `<pad>`, and of the first special piece after it.
    static let padId = 3
    static let maskId = 4

    /// Writes the release; returns a one-line summary. `configuration` gives the sizes; its token ids and vocabulary
    /// size are replaced by the trained tokenizer's (the vocabulary rounded up to a multiple of 64, so that the
    /// usual tensor-parallel degrees divide it).
    static func write(
        _ configuration: ModelConfiguration, vocabularySize: Int, seed: UInt64, eosScale: Float, files: Int,
        to output: URL
    ) throws -> String {
        let arguments =
            TokenizerTrainer.trainingArguments(vocabularySize: vocabularySize)
            + " --pad_id=\(padId) --pad_piece=<pad> --user_defined_symbols="
            + (specialPieces + preprocessingPieces).joined(separator: ",")
        try TokenizerTrainer.train(
            corpus: DemoCorpus.text, vocabularySize: vocabularySize,
            outputPrefix: output.appendingPathComponent("ice_text"),
            arguments: arguments)
        let tokenizer = try ChatGLM6BTokenizer(
            modelURL: output.appendingPathComponent("ice_text.model"), numImageTokens: 0)
        guard tokenizer.id(of: "[MASK]") == maskId, tokenizer.id(of: "<eop>") == maskId + 5 else {
            throw InputError(description: "the trained tokenizer does not put [MASK] at \(maskId): internal error")
        }
        var c = configuration
        c.vocabSize = (tokenizer.pieceCount + 63) / 64 * 64
        c.tokenizer = TokenizerConfiguration(
            model: "ice_text.model", numImageTokens: 0, commandTokensStart: maskId, eos: maskId + 5)
        try Data(releaseConfiguration(c).utf8).write(to: output.appendingPathComponent("config.json"))
        try Data(tokenizerConfiguration.utf8).write(to: output.appendingPathComponent("tokenizer_config.json"))

        var tensors = RandomWeights.generate(
            configuration: c, seed: seed, textTokenCount: tokenizer.pieceCount, eosScale: eosScale
        ).map { ($0.key, CheckpointTensor.float16($0.tensor)) }
        if let embeddings = tensors.first(where: { $0.0 == "transformer.word_embeddings.weight" }) {
            tensors.append(("lm_head.weight", embeddings.1))
        }
        try ReleaseWriter.writeRelease(tensors, files: files, to: output)
        let plural = files == 1 ? "" : "s"
        return "created \(output.path): ChatGLM-6B release layout, \(c.numLayers) layers, hidden \(c.hiddenSize), "
            + "\(files) weight file\(plural), \(tokenizer.pieceCount) tokenizer pieces"
    }

    /// config.json as THUDM/chatglm-6b writes it.
    static func releaseConfiguration(_ c: ModelConfiguration) -> String {
        let fields: [(String, String)] = [
            ("architectures", "[\"ChatGLMModel\"]"), ("model_type", "\"chatglm\""),
            ("bos_token_id", "\(c.tokenizer.commandTokensStart + 4)"), ("eos_token_id", "\(c.tokenizer.eos)"),
            ("mask_token_id", "\(c.tokenizer.commandTokensStart)"),
            ("gmask_token_id", "\(c.tokenizer.commandTokensStart + 1)"), ("pad_token_id", "\(padId)"),
            ("hidden_size", "\(c.hiddenSize)"), ("inner_hidden_size", "\(c.innerHiddenSize)"),
            ("layernorm_epsilon", "\(c.layernormEpsilon)"), ("max_sequence_length", "\(c.maxSequenceLength)"),
            ("num_attention_heads", "\(c.numAttentionHeads)"), ("num_layers", "\(c.numLayers)"),
            ("position_encoding_2d", "true"), ("torch_dtype", "\"float16\""), ("use_cache", "true"),
            ("vocab_size", "\(c.vocabSize)"),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    static let tokenizerConfiguration = """
        {
          "bos_token": "<sop>",
          "eos_token": "<eop>",
          "end_token": "</s>",
          "gmask_token": "[gMASK]",
          "mask_token": "[MASK]",
          "pad_token": "<pad>",
          "unk_token": "<unk>",
          "remove_space": false,
          "do_lower_case": false,
          "tokenizer_class": "ChatGLMTokenizer",
          "num_image_tokens": 0
        }

        """

    /// The files `write` creates (removed when it fails half-way).
    static func writtenFiles(in output: URL) -> [URL] {
        ["config.json", "tokenizer_config.json", "ice_text.model", "ice_text.vocab"].map {
            output.appendingPathComponent($0)
        } + ReleaseWriter.weightFiles(in: output)
    }
}
