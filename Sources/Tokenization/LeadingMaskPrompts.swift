import Configuration

/// The prompts of the releases that put `[gMASK] <sop>` first (ChatGLM2-6B, ChatGLM3-6B, GLM-4): a plain prompt is
/// those two tokens and the text's ids, and the model continues after the last id; the whole context is the prompt
/// (`BlankPrompt.appendsStartOfPiece` false).
protocol LeadingMaskPrompts: PromptTokenizer {}

extension LeadingMaskPrompts {
    /// The id of a special token of the release (`TokenizerConfiguration.namedTokens`).
    func special(_ name: String) -> Int { specialTokens.configuration.namedToken(name)! }

    /// `[gMASK] <sop>` and the text's ids (`tokenizer(text)`).
    public func prompt(_ text: String) -> BlankPrompt {
        continuation(ids: [special("[gMASK]"), special("<sop>")] + tokenize(text), displayText: text)
    }

    /// Any ids holding `[gMASK]`: the model continues after the last.
    public func prompt(fromIds ids: [Int]) throws(TokenizationError) -> BlankPrompt {
        guard ids.contains(special("[gMASK]")) else { throw .noBlankToFill(mask: .gMask) }
        return continuation(ids: ids, displayText: detokenize(ids))
    }

    /// The prompt of a whole context `ids`.
    func continuation(ids: [Int], displayText: String) -> BlankPrompt {
        BlankPrompt(
            ids: ids, generationMask: .gMask, useGMask: true, displayText: displayText,
            isEnglish: displayText.unicodeScalars.allSatisfy(\.isASCII), isContinuation: true,
            appendsStartOfPiece: false)
    }
}
