/// The texts of a finished blank-filling run.
public struct BlankAnswer: Sendable, Equatable {
    /// Official `answers[i]`: the detokenized final sequence (every filled blank spliced in, a final `eos` dropped).
    public var answer: String
    /// Official `answers_with_style[i]`: the same text with each blank underlined by ANSI escapes (green too for
    /// `[MASK]`/`[sMASK]`), with spaces around blanks for English (all-ASCII) prompts.
    public var styledAnswer: String
    /// Official `blanks[i]`: the detokenized text of each filled blank, in fill order.
    public var blanks: [String]
}

/// Splices generated spans back into the sequence, one blank at a time, the way the official `fill_blanks` loop
/// does, and produces its blank, answer and styled texts.
///
/// Use: while `nextMaskPosition` is not nil, generate from `nextContext` (the sequence plus `<sop>`) with the
/// positions that `nextMaskPosition` and `useGMask` imply, then call `fill(generated:)`; finally call `finish()`.
/// The next blank is always the FIRST generation mask in the current sequence, which includes text generated for
/// earlier blanks (a span that itself contains the mask token is filled next, as in the official code).
public struct AnswerAssembler: Sendable {
    public let special: SpecialTokenIds
    /// Nil on ranks without the SentencePiece model: they splice ids and produce empty texts.
    public let tokenizer: (any PromptTokenizer)?
    public let generationMask: CommandToken
    public let isContinuation: Bool
    public let appendsStartOfPiece: Bool
    public let useGMask: Bool
    public let isEnglish: Bool
    /// The current sequence, without `<sop>`: the prompt with the blanks filled so far.
    public private(set) var sequence: [Int]
    /// Blank texts so far.
    public private(set) var blanks: [String] = []
    private var styledAnswer = ""
    /// Official `last_pos`: where the styled answer's next plain prefix starts.
    private var lastPosition = 0

    public init(prompt: BlankPrompt, tokenizer: any PromptTokenizer) {
        self.init(prompt: prompt, special: tokenizer.specialTokens, tokenizer: tokenizer)
    }

    /// Splices with the ids in `special`; texts come from `tokenizer` when there is one, else they are empty.
    public init(prompt: BlankPrompt, special: SpecialTokenIds, tokenizer: (any PromptTokenizer)?) {
        self.special = special
        self.tokenizer = tokenizer
        self.generationMask = prompt.generationMask
        self.useGMask = prompt.useGMask
        self.isEnglish = prompt.isEnglish
        self.isContinuation = prompt.isContinuation
        self.appendsStartOfPiece = prompt.appendsStartOfPiece
        self.sequence = prompt.ids
    }

    /// Position of the blank to fill next (the first generation mask in `sequence`), nil when none is left; a
    /// continuation has one.
    public var nextMaskPosition: Int? {
        if isContinuation && !blanks.isEmpty { return nil }
        return sequence.firstIndex(of: special.id(of: generationMask))
    }

    /// The context to generate the next blank from: `sequence + [<sop>]`, or `sequence` for a prompt that holds
    /// its `<sop>` already.
    public var nextContext: [Int] { sequence + appended }

    /// What the context adds after `sequence`.
    private var appended: [Int] { appendsStartOfPiece ? [special.id(of: .sop)] : [] }

    /// Where the next blank's context ends for positions and masks, `<sop>` included: the appended `<sop>` for
    /// GLM-130B; for a continuation the FIRST `<sop>` of the context, since the official ChatGLM
    /// `get_masks_and_position_ids` take `seq.index(bos)`: text that spells `<sop>` moves the end of the
    /// bidirectional context there, and the tokens after it are positioned and masked as generated ones.
    public var nextContextLength: Int {
        let context = nextContext
        guard isContinuation, appendsStartOfPiece else { return context.count }
        return context.firstIndex(of: special.id(of: .sop))! + 1
    }

    /// Fills the next blank with `generated` (the ids produced after `<sop>`, possibly ending with the end token
    /// `eop` or `eos`, which is dropped) and returns the blank's text.
    ///
    /// Official splice, with `output = sequence + [<sop>] + generated`, `bog` the first `<sop>` in `output` and
    /// `end` = `output.count`, minus one when the last id is `eop` or `eos`:
    /// `sequence = output[..<mask] + output[bog+1..<end] + output[mask+1..<bog]`; blank = detokenize(output[bog+1..<end]).
    @discardableResult
    public mutating func fill(generated: [Int]) throws(TokenizationError) -> String {
        guard let mask = nextMaskPosition else { throw .noBlankToFill(mask: generationMask) }
        let sop = special.id(of: .sop)
        let output = sequence + appended + generated
        var end = output.count
        if end > 0, special.endTokens.contains(output[end - 1]) { end -= 1 }
        // The generated span starts after the context: for a continuation, text may spell `<sop>` earlier.
        let bog = isContinuation ? sequence.count + appended.count - 1 : output.firstIndex(of: sop)!  // appended
        let prefix = text(slice(output, lastPosition, mask))
        let blank = text(slice(output, bog + 1, end))
        let space = isEnglish ? " " : ""
        styledAnswer +=
            prefix + space + (useGMask ? "\u{1B}[4m" : "\u{1B}[0;32m\u{1B}[4m") + blank
            + (useGMask ? "\u{1B}[0m" : "\u{1B}[0m\u{1B}[0m") + space
        blanks.append(blank)
        lastPosition = mask + end - (bog + 1)
        // A prompt holding its own `<sop>` (ChatGLM2 on) continues in place: the sequence is the context and the
        // generated text.
        sequence =
            appendsStartOfPiece
            ? slice(output, 0, mask) + slice(output, bog + 1, end) + slice(output, mask + 1, bog)
            : slice(output, 0, end)
        return blank
    }

    /// The final texts (official: a final `eos` is dropped, then the whole sequence is detokenized; a
    /// continuation's answer is its generated text).
    public func finish() -> BlankAnswer {
        if isContinuation {
            let answer = blanks.first ?? ""
            return BlankAnswer(answer: answer, styledAnswer: answer, blanks: blanks)
        }
        var output = sequence
        if output.last == special.eos { output.removeLast() }
        return BlankAnswer(
            answer: text(output),
            styledAnswer: styledAnswer + text(slice(output, lastPosition, output.count)),
            blanks: blanks)
    }
}

extension AnswerAssembler {
    fileprivate func text(_ ids: [Int]) -> String { tokenizer?.detokenize(ids) ?? "" }
}

/// Python's `list[start:end]` for non-negative bounds: clamped, empty when `start >= end`.
private func slice(_ ids: [Int], _ start: Int, _ end: Int) -> [Int] {
    let lower = min(max(start, 0), ids.count)
    let upper = min(max(end, 0), ids.count)
    return lower < upper ? Array(ids[lower..<upper]) : []
}
