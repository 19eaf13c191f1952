import Coordination
import Tokenization

/// What the coordinator broadcasts so that every rank can follow one generation in lockstep: the prompt ids and
/// blank kind (built from text on rank 0, the only rank with the tokenizer) and the options.
public struct GenerationRequest: Sendable, Equatable, Codable {
    public var promptIds: [Int]
    /// `CommandToken` raw value of the generation mask.
    public var generationMask: Int
    public var useGMask: Bool
    /// A continuation (the ChatGLM family): every rank must fill exactly one blank, as rank 0 does.
    public var isContinuation: Bool
    /// Whether generation starts after an appended `<sop>` (`BlankPrompt.appendsStartOfPiece`).
    public var appendsStartOfPiece: Bool
    public var options: GenerationOptions

    public init(prompt: BlankPrompt, options: GenerationOptions) {
        promptIds = prompt.ids
        generationMask = prompt.generationMask.rawValue
        useGMask = prompt.useGMask
        isContinuation = prompt.isContinuation
        appendsStartOfPiece = prompt.appendsStartOfPiece
        self.options = options
    }

    /// The prompt as the other ranks see it (no display text: they print nothing).
    public var prompt: BlankPrompt {
        BlankPrompt(
            ids: promptIds, generationMask: CommandToken(rawValue: generationMask) ?? .gMask, useGMask: useGMask,
            displayText: "", isEnglish: false, isContinuation: isContinuation,
            appendsStartOfPiece: appendsStartOfPiece)
    }
}

/// Rank 0 sends requests to the other ranks in the wire encoding.
extension GenerationRequest: WireMessage {}
