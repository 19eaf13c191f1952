import GLM
import Tokenization

/// One request's generation as a step-by-step state machine, so that a scheduler can advance many requests with
/// one batched forward pass per step (`ContinuousBatcher`), and a single request runs through the same code.
///
/// A step: the scheduler asks every active task for its `nextSegments()` (a whole context to prefill, or the
/// last drawn token of each live sequence), runs them all in one `GLMModel.forward(batch:)`, and hands each task
/// its segments' logits in `consume`. Tasks are deterministic given their logits, and every collective they make
/// (the samplers') happens in `consume` in task order, so all tensor-parallel ranks stay in lockstep.
public protocol GenerationTask: AnyObject {
    /// Segments for the next forward pass; empty only when `isFinished`.
    func nextSegments() -> [ForwardSegment]
    /// Takes the last-token logits (this rank's vocabulary slice) of the segments `nextSegments()` returned, in
    /// order. Collective under tensor parallelism.
    func consume(_ logits: [[Float]]) throws
    var isFinished: Bool { get }
    /// The outcome, once finished.
    var result: GenerationResult? { get }
    /// Most sequences this task forwards in one step (its share of `--max-batch`).
    var batchSlots: Int { get }
    /// Most KV-cache bytes it holds at once (reserved against `--kv-memory` when it is admitted).
    var reservedCacheBytes: Int { get }
    /// When each generated token was drawn (all blanks, in order), for latency figures.
    var tokenTimes: [ContinuousClock.Instant] { get }
}

/// The sampling strategy (official BaseStrategy) of one request: the `fill_blanks` loop as a state machine —
/// blanks filled left to right, each from the sequence with the earlier blanks spliced in.
public final class SamplingTask: GenerationTask {
    public let model: GLMModel
    public let prompt: BlankPrompt
    public let options: GenerationOptions
    private var sampler: DistributedSampler
    private var assembler: AnswerAssembler
    private let endTokens: Set<Int>
    private var blanks: [BlankResult] = []
    private var cacheBytes = 0
    /// The blank being filled: its context, layout, cache, budget and tokens so far; nil between blanks.
    private var current: Blank?
    public private(set) var result: GenerationResult?
    public private(set) var tokenTimes: [ContinuousClock.Instant] = []
    public let reservedCacheBytes: Int
    public var batchSlots: Int { 1 }

    private struct Blank {
        var context: [Int]
        var maskPosition: Int
        var layout: SequenceLayout
        var cache: KVCache
        var budget: Int
        var generated: [Int] = []
        /// The token the next forward pass feeds (nil: the context is still to be prefilled).
        var pending: Int?
    }

    /// Validates the prompt (length) and prepares the first blank; `tokenizer` only on the coordinator.
    public init(
        model: GLMModel, prompt: BlankPrompt, options: GenerationOptions, special: SpecialTokenIds,
        tokenizer: (any PromptTokenizer)?, collectives: SamplingCollectives
    ) throws {
        self.model = model
        self.prompt = prompt
        self.options = options
        try prompt.checkLength(maxSequenceLength: model.configuration.maxSequenceLength)
        sampler = DistributedSampler(
            parameters: options.sampling, collectives: collectives,
            invalidScoreToken: model.configuration.invalidScoreToken)
        assembler = AnswerAssembler(prompt: prompt, special: special, tokenizer: tokenizer)
        endTokens = special.endTokens
        reservedCacheBytes = Self.cacheBound(model: model, prompt: prompt, options: options, special: special)
        try advance()
    }

    /// KV-cache bytes the largest blank of this request can need: context plus budget, at most the model's
    /// maximum sequence length. Later blanks' contexts grow by what earlier blanks generated, so with several
    /// blanks the bound assumes every earlier blank used its whole budget.
    static func cacheBound(
        model: GLMModel, prompt: BlankPrompt, options: GenerationOptions, special: SpecialTokenIds, sequences: Int = 1
    ) -> Int {
        let c = model.configuration
        let maskId = special.id(of: prompt.generationMask)
        let blanks = prompt.isContinuation ? 1 : max(1, prompt.ids.filter { $0 == maskId }.count)
        var context = prompt.ids.count + 1
        var tokens = 0
        for _ in 0..<blanks {
            let budget = options.budget(
                contextLength: context, maxSequenceLength: c.maxSequenceLength, continuation: prompt.isContinuation)
            tokens = max(tokens, context + budget)
            context += budget
        }
        return sequences
            * KVCache.byteCount(
                layers: c.numLayers, localHeads: model.localKeyValueHeads, headDimension: c.headDimension,
                capacity: min(tokens, c.maxSequenceLength), format: model.cacheFormat)
    }

    public var isFinished: Bool { result != nil }

    /// The tokens of the blank being filled, so far (the last drawn may be an end token); empty once finished.
    /// What a chat streams while it generates.
    public var tokensSoFar: [Int] { current?.generated ?? [] }

    public func nextSegments() -> [ForwardSegment] {
        guard let blank = current else { return [] }
        return [
            ForwardSegment(
                tokens: blank.pending.map { [$0] } ?? blank.context, layout: blank.layout, cache: blank.cache)
        ]
    }

    public func consume(_ logits: [[Float]]) throws {
        guard var blank = current else { preconditionFailure("consume on a finished task") }
        let token = sampler.next(localLogits: logits[0], vocabularyOffset: model.vocabRange.lowerBound)
        tokenTimes.append(.now)
        blank.generated.append(token)
        if endTokens.contains(token) {
            current = blank
            try finishBlank(reason: .endToken)
        } else if blank.generated.count >= blank.budget {
            current = blank
            try finishBlank(reason: .length)
        } else {
            blank.pending = token
            current = blank
        }
    }

    /// Starts the next blank, filling blanks with no budget at once; finishes the task when none is left.
    private func advance() throws {
        if let next = try OpenedBlank.next(model: model, options: options, assembler: &assembler, blanks: &blanks) {
            cacheBytes = max(cacheBytes, next.cache.byteCount)
            current = Blank(
                context: next.context, maskPosition: next.maskPosition, layout: next.layout, cache: next.cache,
                budget: next.budget)
            return
        }
        current = nil
        result = GenerationResult(
            prompt: prompt, blanks: blanks, answer: assembler.finish(), outputIds: assembler.sequence,
            cacheBytes: cacheBytes)
    }

    private func finishBlank(reason: FinishReason) throws {
        guard let blank = current else { return }
        current = nil  // releases the blank's cache
        var generated = blank.generated
        let text = try assembler.fill(generated: generated)
        if reason == .endToken { generated.removeLast() }
        blanks.append(
            BlankResult(
                contextIds: blank.context, maskPosition: blank.maskPosition, generatedIds: generated,
                finishReason: reason, text: text))
        try advance()
    }
}

/// The next blank of a prompt that has tokens to generate, with a fresh cache for its context and budget. Shared
/// by the sampling and beam-search tasks (the official `fill_blanks` order: left to right, each from the sequence
/// with the earlier blanks spliced in).
struct OpenedBlank {
    var context: [Int]
    var maskPosition: Int
    var layout: SequenceLayout
    var budget: Int
    var cache: KVCache

    /// Fills the blanks that have no budget left (empty, finish reason `length`, appended to `blanks`) and opens
    /// the first one with a budget; nil when every blank is filled.
    static func next(
        model: GLMModel, options: GenerationOptions, assembler: inout AnswerAssembler, blanks: inout [BlankResult]
    ) throws -> OpenedBlank? {
        let maxSequence = model.configuration.maxSequenceLength
        while let maskPosition = assembler.nextMaskPosition {
            let context = assembler.nextContext
            let budget = options.budget(
                contextLength: context.count, maxSequenceLength: maxSequence, continuation: assembler.isContinuation)
            let layout = SequenceLayout(
                contextLength: assembler.nextContextLength, maskPosition: maskPosition, useGMask: assembler.useGMask)
            if budget > 0 {
                return OpenedBlank(
                    context: context, maskPosition: maskPosition, layout: layout, budget: budget,
                    cache: model.makeCache(capacity: context.count + budget))
            }
            let text = try assembler.fill(generated: [])
            blanks.append(
                BlankResult(
                    contextIds: context, maskPosition: maskPosition, generatedIds: [], finishReason: .length,
                    text: text))
        }
        return nil
    }
}
