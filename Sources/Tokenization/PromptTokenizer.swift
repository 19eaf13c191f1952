import Configuration
import FoundationEssentials

/// The text side of a model family, as the coordinator uses it: text to a generation prompt and ids back to text.
/// Generation, batch jobs and the commands see only this; each family's tokenizer file implements it with its
/// official rules (GLM-130B's `fill_blanks` for `IcetkTokenizer`, ChatGLM-6B's `[gMASK] <sop>` continuation for
/// `ChatGLM6BTokenizer`).
public protocol PromptTokenizer: AnyObject, Sendable {
    /// The vocabulary file (batch jobs fingerprint it).
    var modelURL: URL { get }
    /// The special ids, as every rank derives them from the configuration.
    var specialTokens: SpecialTokenIds { get }
    /// The ids of `text`, with no prompt tokens added (`glmcluster tokenize`).
    func tokenize(_ text: String) -> [Int]
    /// The text of `ids` (`glmcluster tokenize --ids`, answers).
    func detokenize(_ ids: [Int]) -> String
    /// The prompt of `text` by the family's official rules.
    func prompt(_ text: String) -> BlankPrompt
    /// The prompt of `ids` that end with `<sop>` (`--ids`).
    func prompt(fromIds idsEndingWithSop: [Int]) throws(TokenizationError) -> BlankPrompt
    /// The prompt of a conversation by the family's official chat format (its `chat()`); the model answers the
    /// last message.
    func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt
    /// An answer to a conversation as the official `chat()` returns it.
    func chatResponse(_ answer: String) -> String
}

extension PromptTokenizer {
    public func id(of token: CommandToken) -> Int { specialTokens.id(of: token) }

    /// The prompt of a conversation (`chatPrompt`), refused by name when its text or its ids exceed what the model
    /// takes.
    public func checkedChatPrompt(_ messages: [ChatMessage], maxSequenceLength: Int) throws -> BlankPrompt {
        try PromptBuilder.checkSize(
            messages.map(\.content).joined(separator: "\n"), maxSequenceLength: maxSequenceLength)
        let prompt = try chatPrompt(messages)
        try prompt.checkLength(maxSequenceLength: maxSequenceLength)
        return prompt
    }
}

extension IcetkTokenizer: PromptTokenizer {
    /// GLM-130B is a base model with no chat format.
    public func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt {
        throw ChatFormatError(
            description: "GLM-130B has no chat format (it is not a chat model): give a --prompt with blanks to fill")
    }

    public func chatResponse(_ answer: String) -> String { answer }

    public func prompt(_ text: String) -> BlankPrompt { PromptBuilder(tokenizer: self).build(text) }

    public func prompt(fromIds idsEndingWithSop: [Int]) throws(TokenizationError) -> BlankPrompt {
        try PromptBuilder(tokenizer: self).prompt(fromIds: idsEndingWithSop)
    }
}

/// The tokenizer of a configuration's model family.
public enum PromptTokenizers {
    /// Loads the tokenizer file that `configuration` names, relative to `directory` (the model directory).
    public static func load(
        for configuration: ModelConfiguration, directory: URL
    ) throws(TokenizationError) -> any PromptTokenizer {
        switch configuration.architecture {
        case .glm130B: try IcetkTokenizer(configuration: configuration.tokenizer, directory: directory)
        case .chatGLM6B: try ChatGLM6BTokenizer(configuration: configuration.tokenizer, directory: directory)
        case .chatGLM2:
            configuration.tokenizer.release == .glm4
                ? try GLM4Tokenizer(configuration: configuration.tokenizer, directory: directory)
                : try ChatGLM2Tokenizer(configuration: configuration.tokenizer, directory: directory)
        }
    }
}
