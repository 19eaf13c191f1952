import Basics
import Configuration
import Coordination
import FoundationEssentials

/// What a model family's official generation does unless told otherwise: its sampling defaults, its release's
/// `generation_config.json` where there is one, and its rule for invalid scores.
extension GenerationSettings {
    /// The defaults of a family's official generation: GLM-130B's `generate.py` (temperature 1, top-p 0.7,
    /// out_seq_length 256) or ChatGLM-6B's `chat()` (temperature 0.95, top-p 0.7, max_length 2048).
    public init(defaultsOf architecture: ArchitectureKind) {
        self.init()
        switch architecture {
        case .glm130B:
            break
        case .chatGLM6B:
            temperature = 0.95
            topP = 0.7
            defaultMaxLength = 2048
        }
    }

    /// The family's defaults with a release's `generation_config.json` (transformers' `GenerationConfig`) on top:
    /// `do_sample` (false: greedy), `temperature`, `top_p`, `top_k` and `max_length`; other fields are left to
    /// the model. `source` names the file in errors.
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
        if let value = try number("top_p") { topP = Float(value) }
        if let value = try integer("top_k") { topK = value }
        if let value = try integer("max_length") {
            guard value >= 1 else { throw fail("\"max_length\" must be positive, got \(value)") }
            defaultMaxLength = value
        }
        do { try validate() } catch { throw fail(error.description) }
    }
}

/// Rank 0 reads the release's defaults and sends them to the other ranks.
extension GenerationSettings: WireMessage {}

extension ArchitectureKind {
    /// The token the family's official `chat()` draws when a logit is NaN or infinite
    /// (`InvalidScoreLogitsProcessor`: every score 0, this one 5e4); nil where the official code has no such rule.
    public var invalidScoreToken: Int? {
        switch self {
        case .glm130B: nil
        case .chatGLM6B: 5
        }
    }
}
