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
    /// Bytes of the largest KV cache this rank allocated.
    public var cacheBytes: Int
}

/// The official `fill_blanks` loop: fill the generation masks one at a time, left to right, each from the
/// sequence with the earlier blanks spliced in (`AnswerAssembler` does the splicing and the texts).
///
/// Under tensor parallelism every rank runs this same loop in lockstep on the same request: the model's
/// allreduces and the sampler's collectives keep them together, and the sampler returns the same token on every
/// rank. Only the coordinator has a tokenizer, so only its results carry text.
public final class BlankFiller {
    public let model: GLMModel
    public let special: SpecialTokenIds
    public let tokenizer: IcetkTokenizer?
    public let collectives: SamplingCollectives

    public init(
        model: GLMModel, special: SpecialTokenIds, tokenizer: IcetkTokenizer?,
        collectives: SamplingCollectives = SingleRankCollectives()
    ) {
        self.model = model
        self.special = special
        self.tokenizer = tokenizer
        self.collectives = collectives
    }

    /// A single-rank filler with its tokenizer.
    public convenience init(model: GLMModel, tokenizer: IcetkTokenizer) {
        self.init(model: model, special: tokenizer.specialTokens, tokenizer: tokenizer)
    }

    /// Builds the prompt from raw text (`[MASK]`, `[sMASK]`, `[gMASK]` mark the blanks) and fills it.
    public func generate(text: String, options: GenerationOptions) throws -> GenerationResult {
        guard let tokenizer else { preconditionFailure("building a prompt from text needs the tokenizer") }
        return try generate(prompt: PromptBuilder(tokenizer: tokenizer).build(text), options: options)
    }

    public func generate(prompt: BlankPrompt, options: GenerationOptions) throws -> GenerationResult {
        let maxSequence = model.configuration.maxSequenceLength
        try prompt.checkLength(maxSequenceLength: maxSequence)
        let endTokens = special.endTokens
        var sampler = DistributedSampler(parameters: options.sampling, collectives: collectives)
        var assembler = AnswerAssembler(prompt: prompt, special: special, tokenizer: tokenizer)
        var blanks: [BlankResult] = []
        var cacheBytes = 0

        while let maskPosition = assembler.nextMaskPosition {
            let context = assembler.nextContext
            let layout = SequenceLayout(
                contextLength: context.count, maskPosition: maskPosition, useGMask: prompt.useGMask)
            let budget = options.budget(contextLength: context.count, maxSequenceLength: maxSequence)
            var generated: [Int] = []
            var reason = FinishReason.length
            if budget > 0 {
                let cache = model.makeCache(capacity: context.count + budget)
                cacheBytes = max(cacheBytes, cache.byteCount)
                var logits = model.forward(tokens: context, layout: layout, cache: cache)
                for step in 0..<budget {
                    let token = sampler.next(localLogits: logits, vocabularyOffset: model.vocabRange.lowerBound)
                    generated.append(token)
                    if endTokens.contains(token) {
                        reason = .endToken
                        break
                    }
                    if step + 1 < budget {
                        logits = model.forward(tokens: [token], layout: layout, cache: cache)
                    }
                }
            }
            let text = try assembler.fill(generated: generated)
            if reason == .endToken { generated.removeLast() }
            blanks.append(
                BlankResult(
                    contextIds: context, maskPosition: maskPosition, generatedIds: generated, finishReason: reason,
                    text: text))
        }
        return GenerationResult(
            prompt: prompt, blanks: blanks, answer: assembler.finish(), outputIds: assembler.sequence,
            cacheBytes: cacheBytes)
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
