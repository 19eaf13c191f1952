import Coordination

/// Limits and strategy for one generation request.
public struct GenerationOptions: Sendable, Equatable, Codable {
    public var sampling: SamplingParameters
    /// The official `out_seq_length`: each blank stops when its context plus generated tokens reach this.
    public var maxLength: Int?
    /// At most this many tokens per blank.
    public var maxNewTokens: Int?
    /// Beam search instead of sampling (then `sampling` is unused).
    public var beamSearch: BeamSearchParameters?

    public init(
        sampling: SamplingParameters = .greedy, maxLength: Int? = nil, maxNewTokens: Int? = nil,
        beamSearch: BeamSearchParameters? = nil
    ) {
        self.sampling = sampling
        self.maxLength = maxLength
        self.maxNewTokens = maxNewTokens
        self.beamSearch = beamSearch
    }

    /// The official default `out_seq_length`.
    public static let defaultMaxLength = 256

    /// Tokens a blank whose context (with `<sop>`) has `contextLength` tokens may generate, never running past
    /// the model's `maxSequenceLength`.
    /// A continuation (the ChatGLM family, run as transformers' `generate`) draws its first token before any
    /// length check: it gets at least one whenever the model has room.
    public func budget(contextLength: Int, maxSequenceLength: Int, continuation: Bool) -> Int {
        let budget = budget(contextLength: contextLength, maxSequenceLength: maxSequenceLength)
        return continuation && contextLength < maxSequenceLength ? max(budget, 1) : budget
    }

    public func budget(contextLength: Int, maxSequenceLength: Int) -> Int {
        var limit = maxSequenceLength - contextLength
        if let maxNewTokens { limit = min(limit, maxNewTokens) }
        if let maxLength {
            limit = min(limit, maxLength - contextLength)
        } else if maxNewTokens == nil {
            limit = min(limit, Self.defaultMaxLength - contextLength)
        }
        return max(0, limit)
    }
}

/// A batch job fingerprints the settings each request runs with in the wire encoding.
extension GenerationOptions: WireMessage {}
