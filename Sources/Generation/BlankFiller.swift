import GLM
import Tokenization

/// Why a blank stopped.
public enum FinishReason: String, Sendable, Codable {
    /// `<eop>` or eos was drawn.
    case endToken = "end_token"
    /// The length budget (`--max-length` / `--max-new-tokens` / the model's maximum) ran out.
    case length
}

/// One filled blank.
public struct BlankResult: Sendable, Equatable {
    /// The blank's context, ending with `<sop>`.
    public var contextIds: [Int]
    public var maskPosition: Int
    /// Generated ids without the end token.
    public var generatedIds: [Int]
    public var finishReason: FinishReason
    public var text: String
}

/// The outcome of filling every blank of a prompt.
public struct GenerationResult: Sendable, Equatable {
    public var prompt: BlankPrompt
    public var blanks: [BlankResult]
    /// The official answer texts: the prompt with every blank spliced in, detokenized as one sequence.
    public var answer: BlankAnswer
    /// The final sequence with every blank spliced in.
    public var outputIds: [Int]
    /// Bytes of the largest KV cache this rank allocated (all beams together for beam search).
    public var cacheBytes: Int
    /// Beam search: every finished beam of the last blank, best first (the first is this result itself);
    /// empty for sampling.
    public var beams: [RankedBeam] = []
}

/// One finished beam of beam search.
public struct RankedBeam: Sendable, Equatable {
    /// Generated ids of the last blank, without the end token.
    public var generatedIds: [Int]
    public var finishReason: FinishReason
    /// Cumulative log-probability divided by the length penalty `((5 + length) / 6)^length_penalty`.
    public var score: Double
    /// The official answer texts with this beam in the last blank.
    public var answer: BlankAnswer
}

/// The official `fill_blanks` loop for one prompt: fill the generation masks one at a time, left to right, each
/// from the sequence with the earlier blanks spliced in (`SamplingTask` is the loop, `AnswerAssembler` does the
/// splicing and the texts).
///
/// Under tensor parallelism every rank runs this same loop in lockstep on the same request: the model's
/// allreduces and the sampler's collectives keep them together, and the sampler returns the same token on every
/// rank. Only the coordinator has a tokenizer, so only its results carry text.
public final class BlankFiller {
    public let model: GLMModel
    public let special: SpecialTokenIds
    public let tokenizer: (any PromptTokenizer)?
    public let collectives: SamplingCollectives

    public init(
        model: GLMModel, special: SpecialTokenIds, tokenizer: (any PromptTokenizer)?,
        collectives: SamplingCollectives = SingleRankCollectives()
    ) {
        self.model = model
        self.special = special
        self.tokenizer = tokenizer
        self.collectives = collectives
    }

    /// A single-rank filler with its tokenizer.
    public convenience init(model: GLMModel, tokenizer: any PromptTokenizer) {
        self.init(model: model, special: tokenizer.specialTokens, tokenizer: tokenizer)
    }

    /// Fills the blanks of `prompt`; `onPass` hears of each forward pass before it runs.
    public func generate(
        prompt: BlankPrompt, options: GenerationOptions, onPass: ((BatchPass) -> Void)? = nil
    ) throws -> GenerationResult {
        let task = try makeTask(prompt: prompt, options: options)
        try ContinuousBatcher.runAlone(task, model: model, onPass: onPass)
        return task.result!
    }

    /// The task for one request: beam search when `options.beamSearch` is set, else sampling.
    public func makeTask(prompt: BlankPrompt, options: GenerationOptions) throws -> GenerationTask {
        if let beams = options.beamSearch {
            return try BeamSearchTask(
                model: model, prompt: prompt, options: options, parameters: beams, special: special,
                tokenizer: tokenizer, collectives: collectives)
        }
        return try SamplingTask(
            model: model, prompt: prompt, options: options, special: special, tokenizer: tokenizer,
            collectives: collectives)
    }

    /// What the request occupies in a batch (sequences, KV-cache bytes), known before it starts.
    public func footprint(prompt: BlankPrompt, options: GenerationOptions) -> (slots: Int, cacheBytes: Int) {
        let slots = options.beamSearch?.beams ?? 1
        return (
            slots,
            SamplingTask.cacheBound(model: model, prompt: prompt, options: options, special: special, sequences: slots)
        )
    }
}

/// What stops a generation request before it starts.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case promptTooLong(tokens: Int, maximum: Int)

    public var description: String {
        switch self {
        case .promptTooLong(let tokens, let maximum):
            "prompt too long: \(tokens) tokens with <sop>, the model's max_sequence_length is \(maximum)"
        }
    }
}
