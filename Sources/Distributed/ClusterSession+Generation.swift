import Basics
import FoundationEssentials
import GLM
import Generation
import Tokenization

/// What `generate` gives rank 0: the result and every rank's memory.
public struct GenerationOutcome: Sendable {
    public var result: GenerationResult
    public var ranks: [RankResources]
}

/// What `generate` answers: prompt text (blanks to fill, or text to continue), or a conversation in a JSON file of
/// `{role, content}` messages that the model family's chat format turns into the prompt, read on the coordinator.
public enum PromptInput: Sendable {
    case text(String)
    case messagesFile(String)
}

/// What `logits` computes the logits of: prompt text (built into a context as `generate` does) or the ids of a
/// whole context ending with `<sop>`, as the user wrote them.
public enum LogitsContext: Sendable {
    case prompt(String)
    case ids(String)
}

extension ClusterSession {
    /// Fills the blanks of `input` (as the official `generate.py` does) or continues it (the ChatGLM family), or
    /// answers a conversation as the family's `chat()` does, on every rank in lockstep. Rank 0 gets the outcome, the
    /// other ranks nil.
    public func generate(_ input: PromptInput, options: GenerationOptions) throws -> GenerationOutcome? {
        let model = try loadModel()
        // Rank 0 builds the prompt; every rank then follows the same request. Only rank 0 keeps the display text.
        var built: BlankPrompt?
        let request = try share("building the prompt") { tokenizer in
            let blank: BlankPrompt
            switch input {
            case .text(let text):
                try PromptBuilder.checkSize(text, maxSequenceLength: configuration.maxSequenceLength)
                blank = tokenizer.prompt(text)
                try blank.checkLength(maxSequenceLength: configuration.maxSequenceLength)
            case .messagesFile(let path):
                blank = try tokenizer.checkedChatPrompt(
                    ChatMessage.read(contentsOf: URL(fileURLWithPath: path)),
                    maxSequenceLength: configuration.maxSequenceLength)
            }
            try PromptBuilder.checkBlanks(blank, special: tokenizer.specialTokens)
            built = blank
            return GenerationRequest(prompt: blank, options: options)
        }
        let runtime = self.runtime
        runtime.setPhase("generating")
        var result = try blankFiller(model).generate(prompt: built ?? request.prompt, options: request.options) {
            runtime.setPhase("generating: \($0)")
        }
        if case .messagesFile = input, let tokenizer {
            result.answer.answer = tokenizer.chatResponse(result.answer.answer)
            result.answer.styledAnswer = result.answer.answer
        }
        let ranks = runtime.gatherReports(weightBytes: model.weights.byteCount, cacheBytes: result.cacheBytes)
        return isCoordinator ? GenerationOutcome(result: result, ranks: ranks) : nil
    }

    /// The logits at the last context position (`<sop>`), the first decode step's, then with `continuation` (ids
    /// as the user wrote them, `1,2,3`) the logits after each of those tokens is fed as a decoded one (teacher
    /// forcing: what a generation that drew them saw at each step). Rank 0 gets the whole vocabulary's, step after
    /// step, the other ranks nil.
    public func logits(of context: LogitsContext, continuation: String? = nil) throws -> [Float]? {
        let configuration = self.configuration
        // Rank 0 turns the prompt or ids into a context; the others receive it.
        let request = try share("reading the context") { tokenizer in
            let blank: BlankPrompt
            switch context {
            case .prompt(let text):
                try PromptBuilder.checkSize(text, maxSequenceLength: configuration.maxSequenceLength)
                blank = tokenizer.prompt(text)
            case .ids(let text):
                let list = try TokenIdList.parse(text, vocabularySize: configuration.vocabSize)
                do { blank = try tokenizer.prompt(fromIds: list) } catch {
                    throw InputError(description: "--ids: \(error) (<sop> is \(tokenizer.id(of: .sop)))")
                }
            }
            guard blank.ids.count + 1 <= configuration.maxSequenceLength else {
                throw GenerationError.promptTooLong(
                    tokens: blank.ids.count + 1, maximum: configuration.maxSequenceLength)
            }
            return GenerationRequest(prompt: blank, options: GenerationOptions())
        }
        let continued = try share("reading the continuation") { _ in
            let list =
                try continuation.map {
                    try TokenIdList.parse($0, vocabularySize: configuration.vocabSize, option: "--then")
                } ?? []
            guard request.promptIds.count + 1 + list.count <= configuration.maxSequenceLength else {
                throw GenerationError.promptTooLong(
                    tokens: request.promptIds.count + 1 + list.count, maximum: configuration.maxSequenceLength)
            }
            return list
        }
        let blank = request.prompt
        let special = SpecialTokenIds(configuration: configuration.tokenizer)
        let model = try loadModel()

        let maskPosition = blank.ids.firstIndex(of: special.id(of: blank.generationMask))!
        let assembler = AnswerAssembler(prompt: blank, special: special, tokenizer: nil)
        let ids = assembler.nextContext
        let layout = SequenceLayout(
            contextLength: assembler.nextContextLength, maskPosition: maskPosition, useGMask: blank.useGMask)
        runtime.setPhase("computing the logits")
        let cache = model.makeCache(capacity: ids.count + continued.count)
        var steps = [model.forward(tokens: ids, layout: layout, cache: cache)]
        for token in continued { steps.append(model.forward(tokens: [token], layout: layout, cache: cache)) }

        // Each rank holds its vocabulary slice of every step; rank 0 puts them in order.
        let slices = coordinator.collect(report: steps.flatMap { $0 })
        _ = runtime.gatherReports(weightBytes: model.weights.byteCount, cacheBytes: cache.byteCount)
        guard let slices else { return nil }
        let width = slices.map { $0.count / steps.count }
        return (0..<steps.count).flatMap { step in
            slices.indices.flatMap { rank in slices[rank][(step * width[rank])..<((step + 1) * width[rank])] }
        }
    }

    /// Text to icetk ids (no masks, eos or `<sop>` added), on rank 0; nil elsewhere.
    public func tokenize(_ text: String) -> [Int]? {
        tokenizer?.tokenize(text)
    }

    /// Ids as the user wrote them (`1,2,3`) to text, command tokens rendered as `[name]`, on rank 0; nil elsewhere.
    public func detokenize(ids text: String) throws -> String? {
        let vocabularySize = configuration.vocabSize
        return try onCoordinator("reading the ids") { tokenizer in
            tokenizer.detokenize(try TokenIdList.parse(text, vocabularySize: vocabularySize))
        }
    }

    /// The official `fill_blanks` loop over this session's model, its special tokens and the rank group.
    public func blankFiller(_ model: GLMModel) -> BlankFiller {
        BlankFiller(
            model: model, special: SpecialTokenIds(configuration: configuration.tokenizer), tokenizer: tokenizer,
            collectives: runtime.group)
    }
}
