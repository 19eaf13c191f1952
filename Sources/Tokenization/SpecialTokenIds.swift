import Configuration

/// The ids of the command tokens and eos, known from the configuration alone: what the ranks that have no
/// SentencePiece model (every rank but the coordinator) need to follow a generation.
public struct SpecialTokenIds: Sendable, Equatable {
    public let configuration: TokenizerConfiguration

    public init(configuration: TokenizerConfiguration) { self.configuration = configuration }

    /// The token's id: from the release's named tokens where it names them (-1 for a token it does not have),
    /// else from the command-token layout.
    public func id(of token: CommandToken) -> Int {
        guard configuration.namedTokens != nil else { return configuration.commandTokensStart + token.offset }
        return configuration.namedToken(token.releaseText) ?? -1
    }
    public var eos: Int { configuration.eos }
    /// What ends a blank: the release's end-of-sequence list where it has one, else `<eop>` and eos.
    public var endTokens: Set<Int> {
        if let list = configuration.endTokens { return Set(list) }
        return [id(of: .eop), eos]
    }
}

extension IcetkTokenizer {
    public var specialTokens: SpecialTokenIds { SpecialTokenIds(configuration: configuration) }
}
