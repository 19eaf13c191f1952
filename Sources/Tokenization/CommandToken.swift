/// The icetk command tokens of GLM-130B, in id order: they take consecutive ids from
/// `TokenizerConfiguration.commandTokensStart` (150000 in the official layout).
public enum CommandToken: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// `[MASK]` (150000): a short blank; generation takes the mask's position.
    case mask
    /// `[gMASK]` (150001): generation of a long continuation with plain positions.
    case gMask
    /// `[sMASK]` (150002): a sentence-level blank.
    case sMask
    /// `eod` (150003).
    case eod
    /// `sop` (150004): start of a generated span; generation reads the logits at it.
    case sop
    /// `eop` (150005): end of a generated span.
    case eop
    /// `ENC` (150006).
    case enc
    /// `dBLOCK` (150007).
    case dBlock

    /// Offset from `commandTokensStart`.
    public var offset: Int { rawValue }

    /// The official name (SwissArmyTransformer's `add_special_tokens` list).
    public var officialName: String {
        switch self {
        case .mask: "[MASK]"
        case .gMask: "[gMASK]"
        case .sMask: "[sMASK]"
        case .eod: "eod"
        case .sop: "sop"
        case .eop: "eop"
        case .enc: "ENC"
        case .dBlock: "dBLOCK"
        }
    }

    /// The token's text in the ChatGLM2-on releases' special-token lists (`TokenizerConfiguration.namedTokens`).
    public var releaseText: String {
        switch self {
        case .sop: "<sop>"
        case .eop: "<eop>"
        default: officialName
        }
    }

    /// How detokenized text shows the token: the official name in brackets, so `[gMASK]` shows as `[[gMASK]]`
    /// and `sop` as `[sop]`.
    public var renderedText: String { "[" + officialName + "]" }

    /// The three blank kinds, which may appear in prompt text as `[MASK]`, `[sMASK]`, `[gMASK]`.
    public var isMask: Bool { self == .mask || self == .gMask || self == .sMask }

    /// The mask whose text spelling is `text` (`"[MASK]"`, `"[sMASK]"` or `"[gMASK]"`).
    public init?(maskText text: String) {
        switch text {
        case "[MASK]": self = .mask
        case "[sMASK]": self = .sMask
        case "[gMASK]": self = .gMask
        default: return nil
        }
    }

    public var description: String { officialName }
}
