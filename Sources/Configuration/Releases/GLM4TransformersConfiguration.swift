import Basics
import FoundationEssentials

/// The `config.json` of GLM-4 in transformers' own layout (`GlmForCausalLM`, THUDM/glm-4-9b-chat-hf): the
/// ChatGLM2 architecture under transformers' field names. `rope_theta` is the whole rotary base (10000 x
/// `rope_ratio`), `partial_rotary_factor` 0.5 the half of each head that rotates.
struct GLM4TransformersConfiguration: Decodable {
    var numHiddenLayers: Int
    var hiddenSize: Int
    var numAttentionHeads: Int
    var numKeyValueHeads: Int?
    var headDim: Int?
    var intermediateSize: Int
    var vocabSize: Int
    var maxPositionEmbeddings: Int
    var rmsNormEps: Float?
    var ropeTheta: Double?
    var partialRotaryFactor: Double?
    var attentionBias: Bool?
    var hiddenAct: String?
    var tieWordEmbeddings: Bool?
    var eosTokenId: EndTokens?

    enum CodingKeys: String, CodingKey {
        case numHiddenLayers = "num_hidden_layers"
        case hiddenSize = "hidden_size"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case headDim = "head_dim"
        case intermediateSize = "intermediate_size"
        case vocabSize = "vocab_size"
        case maxPositionEmbeddings = "max_position_embeddings"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case partialRotaryFactor = "partial_rotary_factor"
        case attentionBias = "attention_bias"
        case hiddenAct = "hidden_act"
        case tieWordEmbeddings = "tie_word_embeddings"
        case eosTokenId = "eos_token_id"
    }

    func modelConfiguration(source: String) throws(ConfigurationError) -> ModelConfiguration {
        func invalid(_ field: String, _ expected: String) -> ConfigurationError {
            .invalidValue(file: source, field: field, expected: expected)
        }
        if let partialRotaryFactor, partialRotaryFactor != 0.5 {
            throw invalid("partial_rotary_factor", "0.5 (GLM-4 rotates half of each head), got \(partialRotaryFactor)")
        }
        if let attentionBias, !attentionBias {
            throw invalid("attention_bias", "true (GLM-4's QKV projections have biases), got false")
        }
        if let hiddenAct, hiddenAct != "silu" {
            throw invalid("hidden_act", "\"silu\" (GLM-4's SwiGLU), got \"\(hiddenAct)\"")
        }
        if tieWordEmbeddings == true {
            throw invalid("tie_word_embeddings", "false (GLM-4 has a separate output layer), got true")
        }
        if let headDim, headDim &* numAttentionHeads != hiddenSize {
            throw invalid(
                "head_dim",
                "hidden_size / num_attention_heads = \(numAttentionHeads == 0 ? 0 : hiddenSize / numAttentionHeads), "
                    + "got \(headDim)")
        }
        let groups = numKeyValueHeads ?? numAttentionHeads
        guard groups > 0, numAttentionHeads % groups == 0 else {
            throw invalid(
                "num_key_value_heads", "a positive divisor of num_attention_heads \(numAttentionHeads), got \(groups)")
        }
        if let ropeTheta, !(ropeTheta > 0 && ropeTheta.isFinite) {
            throw invalid("rope_theta", "a positive number, got \(ropeTheta)")
        }
        let directory = URL(fileURLWithPath: source).deletingLastPathComponent()
        let tokenizer = try ChatGLM2TokenizerLayout.read(
            directory: directory, nameOrPath: nil, endTokens: eosTokenId?.ids, source: source)
        var configuration = ModelConfiguration(
            numLayers: numHiddenLayers, hiddenSize: hiddenSize, numAttentionHeads: numAttentionHeads,
            innerHiddenSize: intermediateSize, vocabSize: vocabSize, maxSequenceLength: maxPositionEmbeddings,
            layernormEpsilon: rmsNormEps ?? 1e-5, tokenizer: tokenizer)
        configuration.architecture = .chatGLM2
        configuration.keyValueGroups = groups == numAttentionHeads ? nil : groups
        configuration.rotaryBase = ropeTheta ?? 10000
        return configuration
    }
}
