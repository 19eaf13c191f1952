import Configuration
import FoundationEssentials
import Tokenization

/// What the targets share across inputs, loaded once: the tokenizer that builds batch prompts.
public struct FuzzContext: Sendable {
    public let tokenizer: IcetkTokenizer?
    public let maxSequenceLength: Int

    /// Loads the tokenizer of the model directory `model` (its config.json and tokenizer file), if given.
    public init(model: URL?) throws {
        guard let model else {
            tokenizer = nil
            maxSequenceLength = 2048
            return
        }
        let configuration = try ModelConfiguration.load(from: model.appendingPathComponent("config.json"))
        tokenizer = try IcetkTokenizer(configuration: configuration.tokenizer, directory: model)
        maxSequenceLength = configuration.maxSequenceLength
    }
}
