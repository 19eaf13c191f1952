import BytePairEncoding
import Configuration
import FoundationEssentials

/// GLM-4's tokenizer as its `tokenization_chatglm.py` (`ChatGLM4Tokenizer`) and transformers run it: tiktoken's
/// byte-level BPE over the release's `tokenizer.model` (base64 token and rank per line; or transformers'
/// `tokenizer.json` of the same vocabulary, glm-4-9b-chat-hf's) after GLM-4's regex
/// pre-split, the added special tokens of `tokenizer_config.json` split out of the text first (transformers splits
/// every added token, so text that spells one is that token), `[gMASK] <sop>` before every prompt, and the chat
/// template of `tokenizer_config.json`.
public final class GLM4Tokenizer: LeadingMaskPrompts {
    public let modelURL: URL
    public let specialTokens: SpecialTokenIds
    private let encoding: TiktokenTokenizer

    public init(configuration: TokenizerConfiguration, directory: URL) throws(TokenizationError) {
        modelURL = directory.appendingPathComponent(configuration.model).standardizedFileURL
        do {
            encoding = try TiktokenTokenizer(vocabulary: modelURL, specialTokens: configuration.namedTokenIds)
        } catch {
            throw .cannotLoadModel(path: modelURL.path, reason: "\(error)")
        }
        specialTokens = SpecialTokenIds(configuration: configuration)
    }

    public func tokenize(_ text: String) -> [Int] { encoding.encode(text, allowingSpecialTokens: true) }

    public func detokenize(_ ids: [Int]) -> String { encoding.decode(ids) }

    /// The release's chat template (`apply_chat_template(..., add_generation_prompt=True)`): `[gMASK]<sop>`, per
    /// message with content `<|role|>\n{content}`, then `<|assistant|>`, the whole text tokenized at once.
    public func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt {
        try ChatRoles.check(messages, model: "GLM-4")
        var text = "[gMASK]<sop>"
        for message in messages where !message.content.isEmpty {
            text += "<|\(message.role)|>\n\(message.content)"
        }
        text += "<|assistant|>"
        return continuation(ids: tokenize(text), displayText: text)
    }

    /// GLM-4's `process_response`, as ChatGLM3's.
    public func chatResponse(_ answer: String) -> String { ChatRoles.roleResponse(answer) }
}
