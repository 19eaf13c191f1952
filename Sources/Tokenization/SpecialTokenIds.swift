import Configuration

/// The ids of the command tokens and eos, known from the configuration alone: what the ranks that have no
/// SentencePiece model (every rank but the coordinator) need to follow a generation.
public struct SpecialTokenIds: Sendable, Equatable {
    public let configuration: TokenizerConfiguration

    public init(configuration: TokenizerConfiguration) { self.configuration = configuration }

    public func id(of token: CommandToken) -> Int { configuration.commandTokensStart + token.offset }
    public var eos: Int { configuration.eos }
    /// `<eop>` and eos: drawing either ends a blank.
    public var endTokens: Set<Int> { [id(of: .eop), eos] }
}

extension IcetkTokenizer {
    public var specialTokens: SpecialTokenIds { SpecialTokenIds(configuration: configuration) }
}
