import Basics
import FoundationEssentials
import SentencePiece

/// The `config.json` of THUDM/chatglm2-6b, chatglm3-6b and glm-4-9b-chat (`ChatGLMConfig` of their
/// `configuration_chatglm.py`), field for field as the releases write it; `modelConfiguration` turns it into the
/// engine's description, with the special-token ids that the release's tokenizer code gives.
struct ChatGLM2Configuration: Decodable {
    var numLayers: Int
    var hiddenSize: Int
    var numAttentionHeads: Int
    var kvChannels: Int?
    var ffnHiddenSize: Int
    var paddedVocabSize: Int
    var seqLength: Int
    var layernormEpsilon: Float?
    var multiQueryAttention: Bool?
    var multiQueryGroupNum: Int?
    var rmsnorm: Bool?
    var postLayerNorm: Bool?
    var addBiasLinear: Bool?
    var addQkvBias: Bool?
    var applyResidualConnectionPostLayernorm: Bool?
    var originalRope: Bool?
    var ropeRatio: Double?
    var quantizationBit: Int?
    var eosTokenId: EndTokens?
    var nameOrPath: String?

    enum CodingKeys: String, CodingKey {
        case numLayers = "num_layers"
        case hiddenSize = "hidden_size"
        case numAttentionHeads = "num_attention_heads"
        case kvChannels = "kv_channels"
        case ffnHiddenSize = "ffn_hidden_size"
        case paddedVocabSize = "padded_vocab_size"
        case seqLength = "seq_length"
        case layernormEpsilon = "layernorm_epsilon"
        case multiQueryAttention = "multi_query_attention"
        case multiQueryGroupNum = "multi_query_group_num"
        case rmsnorm
        case postLayerNorm = "post_layer_norm"
        case addBiasLinear = "add_bias_linear"
        case addQkvBias = "add_qkv_bias"
        case applyResidualConnectionPostLayernorm = "apply_residual_connection_post_layernorm"
        case originalRope = "original_rope"
        case ropeRatio = "rope_ratio"
        case quantizationBit = "quantization_bit"
        case eosTokenId = "eos_token_id"
        case nameOrPath = "_name_or_path"
    }

    /// The engine's description. The architecture's switches must have the released values (each other value is
    /// a model no release has, refused by name); the tokenizer files beside config.json give the special ids.
    func modelConfiguration(source: String) throws(ConfigurationError) -> ModelConfiguration {
        func invalid(_ field: String, _ expected: String) -> ConfigurationError {
            .invalidValue(file: source, field: field, expected: expected)
        }
        for (field, value, released) in [
            ("rmsnorm", rmsnorm, true), ("post_layer_norm", postLayerNorm, true),
            ("add_bias_linear", addBiasLinear, false), ("add_qkv_bias", addQkvBias, true),
            ("apply_residual_connection_post_layernorm", applyResidualConnectionPostLayernorm, false),
            ("original_rope", originalRope, true),
        ] where value != nil && value != released {
            throw invalid(field, "\(released) (as every ChatGLM2-6B, ChatGLM3-6B and GLM-4-9B release), got \(value!)")
        }
        if let kvChannels, kvChannels &* numAttentionHeads != hiddenSize {
            throw invalid(
                "kv_channels",
                "hidden_size / num_attention_heads = \(numAttentionHeads == 0 ? 0 : hiddenSize / numAttentionHeads) "
                    + "(the released head layout), got \(kvChannels)")
        }
        if let quantizationBit, ![0, 4, 8].contains(quantizationBit) {
            throw invalid("quantization_bit", "0, 4 or 8, got \(quantizationBit)")
        }
        var groups: Int? = nil
        if multiQueryAttention ?? false {
            guard let count = multiQueryGroupNum, count > 0, numAttentionHeads % count == 0 else {
                throw invalid(
                    "multi_query_group_num",
                    "a positive divisor of num_attention_heads \(numAttentionHeads), got "
                        + (multiQueryGroupNum.map(String.init) ?? "nothing"))
            }
            groups = count
        }
        if let ropeRatio, !(ropeRatio > 0 && ropeRatio.isFinite) {
            throw invalid("rope_ratio", "a positive number, got \(ropeRatio)")
        }
        let directory = URL(fileURLWithPath: source).deletingLastPathComponent()
        let tokenizer = try ChatGLM2TokenizerLayout.read(
            directory: directory, nameOrPath: nameOrPath, endTokens: eosTokenId?.ids, source: source)
        var configuration = ModelConfiguration(
            numLayers: numLayers, hiddenSize: hiddenSize, numAttentionHeads: numAttentionHeads,
            innerHiddenSize: ffnHiddenSize, vocabSize: paddedVocabSize, maxSequenceLength: seqLength,
            layernormEpsilon: layernormEpsilon ?? 1e-5, tokenizer: tokenizer)
        configuration.architecture = .chatGLM2
        configuration.keyValueGroups = groups
        configuration.rotaryBase = 10000 * (ropeRatio ?? 1)
        return configuration
    }
}

/// `eos_token_id` as the releases write it: one id (ChatGLM2/3) or a list (GLM-4).
struct EndTokens: Decodable {
    var ids: [Int]

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(Int.self) {
            ids = [id]
        } else {
            ids = try container.decode([Int].self)
        }
    }
}

/// Where each ChatGLM2-architecture release's tokenizer code puts its special tokens.
///
/// - ChatGLM2-6B's `SPTokenizer` appends `[MASK] [gMASK] [sMASK] sop eop` after the SentencePiece pieces; its
///   `chat()` ends on eos alone.
/// - ChatGLM3-6B's appends the role tokens `<|system|> <|user|> <|assistant|> <|observation|>` after those; its
///   `chat()` ends on eos, `<|user|>` or `<|observation|>`.
/// - GLM-4's `tokenizer_config.json` lists its added tokens with their ids (`added_tokens_decoder`); its `chat()`
///   ends on the `eos_token_id` list of config.json. Its vocabulary is `tokenizer.model` (tiktoken's format), or in
///   transformers' own layout `tokenizer.json`.
///
/// ChatGLM2 and ChatGLM3 ship the same `tokenizer.model` and `config.json` fields; the release's name
/// (`_name_or_path` in config.json, `name_or_path` in tokenizer_config.json) tells them apart, and one that names
/// neither is read as ChatGLM3, whose tokenizer is ChatGLM2's plus the role tokens.
enum ChatGLM2TokenizerLayout {
    static let modelName = "tokenizer.model"

    static func read(directory: URL, nameOrPath: String?, endTokens: [Int]?, source: String)
        throws(ConfigurationError) -> TokenizerConfiguration
    {
        let settingsURL = directory.appendingPathComponent("tokenizer_config.json")
        let settings = try tokenizerSettings(settingsURL)
        let tokenizerClass = settings["tokenizer_class"]?.stringValue
        if tokenizerClass == "ChatGLM4Tokenizer" || settings["added_tokens_decoder"] != nil {
            return try glm4(settings: settings, file: settingsURL.path, endTokens: endTokens, source: source)
        }
        let modelURL = directory.appendingPathComponent(modelName)
        let pieces: Int
        do { pieces = try SentencePieceProcessor(modelPath: modelURL.path).pieceCount } catch {
            throw .unreadable(file: modelURL.path, reason: "\(error) (the release's SentencePiece tokenizer)")
        }
        let names = [nameOrPath, settings["name_or_path"]?.stringValue].compactMap { $0?.lowercased() }
        let release: TokenizerRelease =
            names.contains { $0.contains("chatglm2") } && !names.contains { $0.contains("chatglm3") }
            ? .chatGLM2 : .chatGLM3
        var special = ["[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>"]
        if release == .chatGLM3 { special += ["<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"] }
        let named = Dictionary(uniqueKeysWithValues: special.enumerated().map { ($1, pieces + $0) })
        // SentencePiece's eos (`</s>`, id 2 in the releases), which config.json's `eos_token_id` repeats.
        let eos = endTokens?.first ?? 2
        let ends = release == .chatGLM3 ? [eos, named["<|user|>"]!, named["<|observation|>"]!] : [eos]
        var configuration = TokenizerConfiguration(
            model: modelName, numImageTokens: 0, commandTokensStart: pieces, eos: eos)
        configuration.release = release
        configuration.namedTokens = named.map { NamedToken(text: $0.key, id: $0.value) }.sorted { $0.id < $1.id }
        configuration.endTokens = ends
        return configuration
    }

    /// GLM-4: the ids of `added_tokens_decoder`, and config.json's end-of-sequence list.
    private static func glm4(settings: [String: JSONValue], file: String, endTokens: [Int]?, source: String)
        throws(ConfigurationError) -> TokenizerConfiguration
    {
        guard case .object(let added)? = settings["added_tokens_decoder"] else {
            throw .invalidValue(
                file: file, field: "added_tokens_decoder",
                expected: "an object of GLM-4's special tokens by id (\"151329\": {\"content\": \"<|endoftext|>\"})")
        }
        var named: [String: Int] = [:]
        for (key, value) in added {
            guard let id = Int(key), id >= 0, case .object(let token) = value,
                let content = token["content"]?.stringValue, !content.isEmpty
            else {
                throw .invalidValue(
                    file: file, field: "added_tokens_decoder", expected: "ids with {\"content\": text}, got \"\(key)\"")
            }
            if let other = named[content], other != id {
                throw .invalidValue(
                    file: file, field: "added_tokens_decoder", expected: "each token once, got \(content) twice")
            }
            named[content] = id
        }
        for required in ["[gMASK]", "<sop>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|observation|>"]
        where named[required] == nil {
            throw .invalidValue(
                file: file, field: "added_tokens_decoder",
                expected: "GLM-4's special tokens, \(required) among them (it is missing)")
        }
        let ends = endTokens ?? [named["<|endoftext|>"]!, named["<|user|>"]!, named["<|observation|>"]!]
        guard !ends.isEmpty else { throw .invalidValue(file: source, field: "eos_token_id", expected: "ids") }
        // transformers' own layout ships the vocabulary as tokenizer.json instead of the tiktoken file.
        let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
        let vocabulary =
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent(modelName).path)
                && FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path)
            ? "tokenizer.json" : modelName
        var configuration = TokenizerConfiguration(
            model: vocabulary, numImageTokens: 0, commandTokensStart: named["[gMASK]"]!, eos: ends[0])
        configuration.release = .glm4
        configuration.namedTokens = named.map { NamedToken(text: $0.key, id: $0.value) }.sorted { $0.id < $1.id }
        configuration.endTokens = ends
        return configuration
    }

    /// `tokenizer_config.json` as an object (empty when the release has none).
    private static func tokenizerSettings(_ url: URL) throws(ConfigurationError) -> [String: JSONValue] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        if let problem = RegularFile.problem(at: url.path) { throw .unreadable(file: url.path, reason: problem) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .unreadable(file: url.path, reason: error.explanation) }
        guard case .object(let fields)? = JSONValue.parse(data) else {
            throw .malformed(file: url.path, reason: "not a JSON object")
        }
        return fields
    }
}
