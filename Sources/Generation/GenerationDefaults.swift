import Basics
import Configuration
import Coordination
import FoundationEssentials

/// What a model family's official generation does unless told otherwise: its sampling defaults, its release's
/// `generation_config.json` where there is one, and its rule for invalid scores.
extension GenerationSettings {
    /// The defaults of a family's official generation: GLM-130B's `generate.py` (temperature 1, top-p 0.7,
    /// out_seq_length 256), ChatGLM-6B's `chat()` (temperature 0.95, top-p 0.7, max_length 2048) or the later
    /// releases' `chat()`.
    public init(defaultsOf architecture: ArchitectureKind) {
        self.init()
        switch architecture {
        case .glm130B:
            break
        case .chatGLM6B:
            temperature = 0.95
            topP = 0.7
            defaultMaxLength = 2048
        case .chatGLM2:
            // ChatGLM2-6B's, ChatGLM3-6B's and GLM-4's `chat()`: temperature 0.8, top-p 0.8, max_length 8192.
            temperature = 0.8
            topP = 0.8
            defaultMaxLength = 8192
        }
    }

    /// The family's defaults with a release's `generation_config.json` (transformers' `GenerationConfig`) on top:
    /// `do_sample` (false: greedy), `temperature`, `top_p` (0 keeps the most likely token alone, as transformers'
    /// top-p filter does: greedy), `top_k`, `max_length` and `max_new_tokens` (which wins over `max_length`);
    /// `unappliedKeys` lists the fields that would change the generation but are not applied. `source` names the
    /// file in errors.
    public init(defaultsOf architecture: ArchitectureKind, generationConfig data: Data, source: String)
        throws(GenerationSettingsError)
    {
        self.init(defaultsOf: architecture)
        func fail(_ message: String) -> GenerationSettingsError {
            GenerationSettingsError(description: "\(source): \(message)")
        }
        guard case .object(let fields)? = JSONValue.parse(data) else { throw fail("not a JSON object") }
        func number(_ key: String) throws(GenerationSettingsError) -> Double? {
            guard let value = fields[key], value != .null else { return nil }
            guard let number = value.numberValue, number.isFinite else { throw fail("\"\(key)\" must be a number") }
            return number
        }
        func integer(_ key: String) throws(GenerationSettingsError) -> Int? {
            guard let value = try number(key) else { return nil }
            guard value.rounded() == value, abs(value) < 1e15 else { throw fail("\"\(key)\" must be an integer") }
            return Int(value)
        }
        switch fields["do_sample"] {
        case .bool(let sample)?: greedy = !sample
        case nil, .null?: break
        default: throw fail("\"do_sample\" must be true or false")
        }
        if let value = try number("temperature") { temperature = Float(value) }
        if let value = try number("top_p") {
            if value == 0 { greedy = true } else { topP = Float(value) }
        }
        if let value = try integer("top_k") { topK = value }
        if let value = try integer("max_length") {
            guard value >= 1 else { throw fail("\"max_length\" must be positive, got \(value)") }
            defaultMaxLength = value
        }
        if let value = try integer("max_new_tokens") {
            guard value >= 0 else { throw fail("\"max_new_tokens\" must not be negative, got \(value)") }
            defaultMaxNewTokens = value
        }
        do { try validate() } catch { throw fail(error.description) }
    }
}

extension GenerationSettings {
    /// The fields of a `generation_config.json` that would change a generation but are not applied (beam search,
    /// penalties, another end token than the model's `eos`), so that a release relying on them is not run
    /// differently without a word.
    public static func unappliedKeys(in data: Data, eos: [Int]) -> [String] {
        guard case .object(let fields)? = JSONValue.parse(data) else { return [] }
        let neutral: [String: Double] = [
            "num_beams": 1, "repetition_penalty": 1, "no_repeat_ngram_size": 0, "length_penalty": 1, "min_length": 0,
            "min_new_tokens": 0, "typical_p": 1, "num_beam_groups": 1, "diversity_penalty": 0, "epsilon_cutoff": 0,
            "eta_cutoff": 0, "encoder_repetition_penalty": 1,
        ]
        var keys = neutral.keys.filter { key in
            guard let value = fields[key], value != .null else { return false }
            return value.numberValue != neutral[key]
        }
        let listed = fields["eos_token_id"].flatMap {
            $0.arrayValue?.compactMap(\.numberValue) ?? $0.numberValue.map { [$0] }
        }
        if let value = fields["eos_token_id"], value != .null, listed.map(Set.init) != Set(eos.map(Double.init)) {
            keys.append("eos_token_id")
        }
        for key in ["bad_words_ids", "forced_eos_token_id", "forced_bos_token_id", "suppress_tokens"]
        where fields[key] != nil && fields[key] != .null {
            keys.append(key)
        }
        return keys.sorted()
    }
}

/// Rank 0 reads the release's defaults and sends them to the other ranks.
extension GenerationSettings: WireMessage {}

extension ModelConfiguration {
    /// The token the family's official `chat()` draws when a logit is NaN or infinite
    /// (`InvalidScoreLogitsProcessor`: every score 0, this one 5e4): 5 for ChatGLM-6B, ChatGLM2-6B and ChatGLM3-6B,
    /// 198 for GLM-4; nil where the official code has no such rule (GLM-130B).
    public var invalidScoreToken: Int? {
        switch architecture {
        case .glm130B: nil
        case .chatGLM6B: 5
        case .chatGLM2: tokenizer.release == .glm4 ? 198 : 5
        }
    }
}
