/// What went wrong in tokenization, prompt building or blank filling, with the file or ids concerned.
public enum TokenizationError: Error, CustomStringConvertible, Equatable {
    /// The SentencePiece model named by the configuration is missing, unreadable or corrupt.
    case cannotLoadModel(path: String, reason: String)
    /// The model has more pieces than fit between `num_image_tokens` and `command_tokens_start`.
    case vocabularyOverlap(path: String, pieceCount: Int, numImageTokens: Int, commandTokensStart: Int)
    /// The tokenizer model lacks a special token its family keeps inside it (ChatGLM-6B's `[gMASK]`, `<sop>`, ...).
    case missingSpecialPiece(path: String, piece: String)
    /// The tokenizer model gives a special token another id than the model's configuration does.
    case specialPieceMismatch(path: String, piece: String, tokenizerId: Int, configurationId: Int)
    /// A prompt (ids before `<sop>`) is longer than the model's `max_sequence_length`; the official check is
    /// `len(seq) > max_sequence_length` ("text too long.").
    case promptTooLong(length: Int, maxSequenceLength: Int)
    /// A prompt so large that it cannot fit whatever its tokens (`PromptBuilder.checkSize`).
    case promptTooLarge(bytes: Int, limit: Int)
    /// A prompt with more blanks than `PromptBuilder.maximumBlanks`.
    case tooManyBlanks(count: Int, mask: CommandToken, maximum: Int)
    /// `--ids` input must end with `<sop>`.
    case missingStartOfPiece(lastId: Int?)
    /// There is no blank of the generation mask's kind left to fill.
    case noBlankToFill(mask: CommandToken)
    /// Training the demo tokenizer failed.
    case trainingFailed(reason: String)

    public var description: String {
        switch self {
        case .cannotLoadModel(let path, let reason):
            "cannot load tokenizer model \(path): \(reason)"
        case .promptTooLarge(let bytes, let limit):
            "the prompt has \(bytes) bytes, more than the \(limit) (\(PromptBuilder.maximumBytesPerPosition) per "
                + "position of max_sequence_length) that any prompt which fits can have"
        case .tooManyBlanks(let count, let mask, let maximum):
            "the prompt has \(count) \(mask.officialName) blanks to fill; at most \(maximum) are allowed (each is a "
                + "prefill of the whole context, so their cost grows with the square of their number)"
        case .missingSpecialPiece(let path, let piece):
            "tokenizer model \(path) has no piece \(piece), which this model family's prompts need"
        case .specialPieceMismatch(let path, let piece, let tokenizerId, let configurationId):
            "tokenizer model \(path) gives \(piece) the id \(tokenizerId), but config.json says "
                + "\(configurationId); the tokenizer and the configuration belong to different releases"
        case .vocabularyOverlap(let path, let count, let image, let command):
            "tokenizer model \(path) has \(count) pieces: text ids \(image)..<\(image + count) would overlap the command tokens from \(command)"
        case .promptTooLong(let length, let limit):
            "prompt too long: \(length) tokens before <sop>, the model's max_sequence_length is \(limit)"
        case .missingStartOfPiece(let last):
            "prompt ids must end with <sop>; the last id is \(last.map(String.init) ?? "missing (no ids)")"
        case .noBlankToFill(let mask):
            "no \(mask.officialName) left to fill in the sequence"
        case .trainingFailed(let reason):
            "tokenizer training failed: \(reason)"
        }
    }
}
