import Basics
import FoundationEssentials

/// THUDM/chatglm-6b's `config.json` (`ChatGLMConfig` of its `configuration_chatglm.py`), field for field as the
/// release writes it; `modelConfiguration` turns it into the engine's description.
struct ChatGLM6BConfiguration: Decodable {
    var hiddenSize: Int
    var innerHiddenSize: Int
    var numLayers: Int
    var numAttentionHeads: Int
    var vocabSize: Int
    var layernormEpsilon: Float?
    var maxSequenceLength: Int
    var bosTokenId: Int
    var eosTokenId: Int
    var maskTokenId: Int
    var gmaskTokenId: Int
    var positionEncoding2D: Bool?
    var quantizationBit: Int?
    var quantizationEmbeddings: Bool?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case innerHiddenSize = "inner_hidden_size"
        case numLayers = "num_layers"
        case numAttentionHeads = "num_attention_heads"
        case vocabSize = "vocab_size"
        case layernormEpsilon = "layernorm_epsilon"
        case maxSequenceLength = "max_sequence_length"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case maskTokenId = "mask_token_id"
        case gmaskTokenId = "gmask_token_id"
        case positionEncoding2D = "position_encoding_2d"
        case quantizationBit = "quantization_bit"
        case quantizationEmbeddings = "quantization_embeddings"
    }

    /// The engine's description. The release's special tokens sit where icetk's command tokens do
    /// (`[MASK]`, `[gMASK]`, `[sMASK]`, eod, `<sop>`, `<eop>` from `mask_token_id` on, `<eop>` ending each answer), so
    /// the command-token layout describes them; any other arrangement is refused by name.
    func modelConfiguration(source: String) throws(ConfigurationError) -> ModelConfiguration {
        func invalid(_ field: String, _ expected: String) -> ConfigurationError {
            .invalidValue(file: source, field: field, expected: expected)
        }
        guard positionEncoding2D ?? true else {
            throw invalid("position_encoding_2d", "true (ChatGLM-6B's 2D positions; 1D is not a released model)")
        }
        // The official int4 and int8 releases quantize the four layer matrices, which the weights themselves show
        // (int8 tensors with scales); a release that also quantizes its embeddings does not load yet.
        if let quantizationBit, ![0, 4, 8].contains(quantizationBit) {
            throw invalid("quantization_bit", "0, 4 or 8, got \(quantizationBit)")
        }
        if quantizationEmbeddings == true {
            throw invalid(
                "quantization_embeddings",
                "false: releases with quantized embeddings (chatglm-6b-int4-qe) do not load yet; use chatglm-6b-int4")
        }
        if vocabSize >= TokenizerConfiguration.commandTokenCount,
            maskTokenId < 0 || maskTokenId > vocabSize - TokenizerConfiguration.commandTokenCount
        {
            throw invalid(
                "mask_token_id",
                "an id in [0, vocab_size - \(TokenizerConfiguration.commandTokenCount)] = [0, "
                    + "\(vocabSize - TokenizerConfiguration.commandTokenCount)] (the special tokens follow it), got \(maskTokenId)"
            )
        }
        for (field, value, offset) in [
            ("gmask_token_id", gmaskTokenId, 1), ("bos_token_id", bosTokenId, 4), ("eos_token_id", eosTokenId, 5),
        ] where value != maskTokenId &+ offset {
            throw invalid(
                field,
                "mask_token_id + \(offset) = \(maskTokenId &+ offset) (the release's special-token layout), "
                    + "got \(value)"
            )
        }
        var configuration = ModelConfiguration(
            numLayers: numLayers, hiddenSize: hiddenSize, numAttentionHeads: numAttentionHeads,
            innerHiddenSize: innerHiddenSize, vocabSize: vocabSize, maxSequenceLength: maxSequenceLength,
            layernormEpsilon: layernormEpsilon ?? 1e-5,
            tokenizer: TokenizerConfiguration(
                model: "ice_text.model", numImageTokens: 0, commandTokensStart: maskTokenId, eos: eosTokenId))
        configuration.architecture = .chatGLM6B
        return configuration
    }
}
