/// A prompt ready for blank filling, as the official `fill_blanks` (GLM-130B `generate.py`) builds it.
public struct BlankPrompt: Sendable, Equatable {
    /// The context ids WITHOUT the final `<sop>`: callers append it for each blank (`appendsStartOfPiece`); or,
    /// for the releases that put `[gMASK] <sop>` first (ChatGLM2 on), the whole context.
    public var ids: [Int]
    /// The kind of blank that is filled: `[MASK]` if the text has one, else `[sMASK]` if it has one, else `[gMASK]`.
    /// Masks of other kinds stay in the context untouched.
    public var generationMask: CommandToken
    /// Official `use_gmask`: true unless the text has `[MASK]` or `[sMASK]`. With it positions run 0, 1, 2, ...;
    /// without it `<sop>` and the generated tokens all take the mask's position.
    public var useGMask: Bool
    /// The raw text as the official script shows it (`" [gMASK]"` appended when the text had no mask).
    public var displayText: String
    /// Official `isEnglish(raw_text)`: every character is ASCII. It only adds spaces around blanks in
    /// `BlankAnswer.styledAnswer`.
    public var isEnglish: Bool
    /// A continuation (the ChatGLM family): the one generation mask before `<sop>` is filled once, and the answer
    /// is the generated text alone, not the prompt with its blanks filled.
    public var isContinuation: Bool
    /// Whether generation starts after an appended `<sop>` (GLM-130B, ChatGLM-6B), or right after `ids` (ChatGLM2
    /// on, whose prompts begin with `[gMASK] <sop>`).
    public var appendsStartOfPiece: Bool

    public init(
        ids: [Int], generationMask: CommandToken, useGMask: Bool, displayText: String, isEnglish: Bool,
        isContinuation: Bool = false, appendsStartOfPiece: Bool = true
    ) {
        self.ids = ids
        self.generationMask = generationMask
        self.useGMask = useGMask
        self.displayText = displayText
        self.isEnglish = isEnglish
        self.isContinuation = isContinuation
        self.appendsStartOfPiece = appendsStartOfPiece
    }

    /// Official length check (`len(seq) > max_sequence_length` raises "text too long."); the count excludes `<sop>`.
    public func checkLength(maxSequenceLength: Int) throws(TokenizationError) {
        if ids.count > maxSequenceLength {
            throw .promptTooLong(length: ids.count, maxSequenceLength: maxSequenceLength)
        }
    }
}

/// Builds `BlankPrompt`s with the official `fill_blanks` rules.
public struct PromptBuilder: Sendable {
    public let tokenizer: IcetkTokenizer

    public init(tokenizer: IcetkTokenizer) { self.tokenizer = tokenizer }

    /// Bytes of prompt text allowed per position of `max_sequence_length`: far above what any token covers in
    /// ordinary text, so only text that could never fit is refused, before tokenizing it (which takes about a second
    /// per megabyte). Pathological text that normalisation shrinks (megabytes of spaces) is refused too.
    public static let maximumBytesPerPosition = 256

    /// The most blanks of the generation mask's kind one prompt may ask to fill. Each blank is a prefill of the
    /// whole context so far (the official `fill_blanks`), so the work grows with the square of their number: a
    /// thousand blanks in one tiny-model prompt ran for minutes without a word.
    public static let maximumBlanks = 128

    /// Refuses a prompt with more blanks to fill than `maximumBlanks` (a continuation fills one).
    public static func checkBlanks(_ prompt: BlankPrompt, special: SpecialTokenIds) throws(TokenizationError) {
        guard !prompt.isContinuation else { return }
        let mask = special.id(of: prompt.generationMask)
        let blanks = prompt.ids.reduce(0) { $0 + ($1 == mask ? 1 : 0) }
        if blanks > Self.maximumBlanks {
            throw .tooManyBlanks(count: blanks, mask: prompt.generationMask, maximum: Self.maximumBlanks)
        }
    }

    /// Refuses text too large to be a prompt of at most `maxSequenceLength` tokens, without tokenizing it.
    public static func checkSize(_ text: String, maxSequenceLength: Int) throws(TokenizationError) {
        let limit = maxSequenceLength * maximumBytesPerPosition
        if text.utf8.count > limit { throw .promptTooLarge(bytes: text.utf8.count, limit: limit) }
    }

    /// From raw text, exactly as the official code does:
    /// 1. the generation mask is `[MASK]` if the text contains `[MASK]`, else `[sMASK]` if it contains `[sMASK]`,
    ///    else `[gMASK]`; `useGMask` is true when it contains neither `[MASK]` nor `[sMASK]`;
    /// 2. the text is split at every match of `\[[sg]?MASK\]`, each piece tokenized separately (an empty piece gives
    ///    no ids) with the matched mask's id between pieces;
    /// 3. if the text does not contain `MASK]` (note: not the bracketed form), `[gMASK]` is appended to the ids and
    ///    `" [gMASK]"` to the text;
    /// 4. if the text (after step 3) does not end with `MASK]`, `eos` is appended. So an auto-appended `[gMASK]`
    ///    never gets `eos`, and trailing spaces after a final mask do.
    /// Matching works on Unicode scalars, like Python's `str`.
    public func build(_ rawText: String) -> BlankPrompt {
        let scalars = Array(rawText.unicodeScalars)
        let generationMask: CommandToken =
            scalars.contains(subsequence: "[MASK]") ? .mask : scalars.contains(subsequence: "[sMASK]") ? .sMask : .gMask
        let useGMask = !scalars.contains(subsequence: "[MASK]") && !scalars.contains(subsequence: "[sMASK]")

        var ids: [Int] = []
        var pieceStart = 0
        var index = 0
        while index < scalars.count {
            if let (mask, length) = maskMatch(scalars, at: index) {
                ids += tokenizer.tokenize(String(String.UnicodeScalarView(scalars[pieceStart..<index])))
                ids.append(tokenizer.id(of: mask))
                index += length
                pieceStart = index
            } else {
                index += 1
            }
        }
        ids += tokenizer.tokenize(String(String.UnicodeScalarView(scalars[pieceStart...])))

        var displayText = rawText
        var displayScalars = scalars
        if !scalars.contains(subsequence: "MASK]") {
            ids.append(tokenizer.id(of: generationMask))
            displayText += " " + generationMask.officialName
            displayScalars += (" " + generationMask.officialName).unicodeScalars
        }
        if !displayScalars.ends(with: "MASK]") {
            ids.append(tokenizer.eosId)
        }
        return BlankPrompt(
            ids: ids, generationMask: generationMask, useGMask: useGMask, displayText: displayText,
            isEnglish: displayScalars.allSatisfy(\.isASCII))
    }

    /// From ids that end with `<sop>` (`--ids` input): drops the `<sop>` and derives the mask kind the way the
    /// official code derives it from text (`[MASK]` beats `[sMASK]` beats `[gMASK]`; `useGMask` when neither
    /// `[MASK]` nor `[sMASK]` occurs). The blank is the first occurrence of the generation mask
    /// (`BlankPrompt`/`AnswerAssembler.nextMaskPosition`); ids without one throw `noBlankToFill`.
    /// `displayText` is the detokenized ids and `isEnglish` is computed from it.
    public func prompt(fromIds idsEndingWithSop: [Int]) throws(TokenizationError) -> BlankPrompt {
        guard let last = idsEndingWithSop.last, last == tokenizer.id(of: .sop) else {
            throw .missingStartOfPiece(lastId: idsEndingWithSop.last)
        }
        let ids = Array(idsEndingWithSop.dropLast())
        let hasMask = ids.contains(tokenizer.id(of: .mask))
        let hasSMask = ids.contains(tokenizer.id(of: .sMask))
        let generationMask: CommandToken = hasMask ? .mask : hasSMask ? .sMask : .gMask
        guard ids.contains(tokenizer.id(of: generationMask)) else { throw .noBlankToFill(mask: generationMask) }
        let text = tokenizer.detokenize(ids)
        return BlankPrompt(
            ids: ids, generationMask: generationMask, useGMask: !hasMask && !hasSMask, displayText: text,
            isEnglish: text.unicodeScalars.allSatisfy(\.isASCII))
    }

    /// The official pattern `\[[sg]?MASK\]` at `index`: the mask and the match length.
    private func maskMatch(_ scalars: [Unicode.Scalar], at index: Int) -> (CommandToken, Int)? {
        guard scalars[index] == "[" else { return nil }
        var cursor = index + 1
        var mask = CommandToken.mask
        if cursor < scalars.count, scalars[cursor] == "s" || scalars[cursor] == "g" {
            mask = scalars[cursor] == "s" ? .sMask : .gMask
            cursor += 1
        }
        guard scalars[cursor...].starts(with: "MASK]".unicodeScalars) else { return nil }
        return (mask, cursor + 5 - index)
    }
}

extension BlankPrompt {
    /// Position of the first generation mask in `ids` (the official `seq.index(mask_token)`), nil if none.
    public func maskPosition(tokenizer: some PromptTokenizer) -> Int? {
        ids.firstIndex(of: tokenizer.id(of: generationMask))
    }
}

extension Array where Element == Unicode.Scalar {
    fileprivate func contains(subsequence text: String) -> Bool {
        let needle = Array(text.unicodeScalars)
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    fileprivate func ends(with text: String) -> Bool {
        let needle = Array(text.unicodeScalars)
        return needle.count <= count && self[(count - needle.count)...].elementsEqual(needle)
    }
}
