import Configuration
import FoundationEssentials
import SentencePiece

/// ChatGLM2-6B's and ChatGLM3-6B's tokenizer as their `tokenization_chatglm.py` (`SPTokenizer`) runs it: the
/// release's SentencePiece BPE model (byte fallback for what it lacks), the special tokens numbered after its pieces
/// (`[MASK] [gMASK] [sMASK] sop eop`, then ChatGLM3's role tokens), `[gMASK] <sop>` before every prompt.
///
/// Text is encoded as SentencePiece encodes it: text that spells a special token stays text, as the official
/// tokenizer keeps it (ChatGLM3's `encode_special_tokens` is off by default). Special ids decode to nothing in
/// ChatGLM2 (its `convert_id_to_token` gives "") and to their text in ChatGLM3 (`SPTokenizer.decode`); bos, eos and
/// the padding id decode to nothing in both.
public final class ChatGLM2Tokenizer: LeadingMaskPrompts {
    public let modelURL: URL
    public let specialTokens: SpecialTokenIds
    public let release: TokenizerRelease
    private let processor: SentencePieceProcessor
    private let pieceCount: Int
    /// Special tokens by id.
    private let specialText: [Int: String]

    public init(configuration: TokenizerConfiguration, directory: URL) throws(TokenizationError) {
        modelURL = directory.appendingPathComponent(configuration.model).standardizedFileURL
        do { processor = try SentencePieceProcessor(modelPath: modelURL.path) } catch {
            throw .cannotLoadModel(path: modelURL.path, reason: "\(error)")
        }
        pieceCount = processor.pieceCount
        let named = configuration.namedTokenIds
        // The configuration numbered the special tokens from this file's piece count; another file since then
        // would shift every special id.
        guard named["[MASK]"] == pieceCount else {
            throw .cannotLoadModel(
                path: modelURL.path,
                reason: "it has \(pieceCount) pieces but the configuration numbers the special tokens from "
                    + "\(named["[MASK]"].map(String.init) ?? "nothing") (did the file change?)")
        }
        specialTokens = SpecialTokenIds(configuration: configuration)
        release = configuration.release ?? .chatGLM3
        specialText = Dictionary(uniqueKeysWithValues: named.map { ($1, $0) })
    }

    public func tokenize(_ text: String) -> [Int] { processor.encode(text).map(Int.init) }

    public func detokenize(_ ids: [Int]) -> String {
        var text = ""
        var run: [Int32] = []
        func flush() {
            guard !run.isEmpty else { return }
            text += (try? processor.decode(run)) ?? ""
            run.removeAll(keepingCapacity: true)
        }
        let silent: Set<Int> = [Int(processor.unknownId), 1, 2]  // pad (unk), bos, eos
        for id in ids {
            if let special = specialText[id] {
                flush()
                if release != .chatGLM2 { text += Self.officialText(special) }
            } else if id >= 0, id < pieceCount, !silent.contains(id) {
                run.append(Int32(id))
            }
        }
        flush()
        return text
    }

    /// The text the official tokenizer gives a special token (`sop`, `eop` without brackets).
    private static func officialText(_ name: String) -> String {
        switch name {
        case "<sop>": "sop"
        case "<eop>": "eop"
        default: name
        }
    }

    /// ChatGLM2's `build_prompt` (`[Round i]\n\n问：...\n\n答：...\n\n`, rounds from 1) or ChatGLM3's
    /// `build_chat_input` (per message its role token, the ids of `"\n"`, the ids of the content; then
    /// `<|assistant|>`).
    public func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt {
        switch release {
        case .chatGLM2:
            try ChatRoles.checkTurns(messages, model: "ChatGLM2-6B")
            return prompt(ChatRoles.roundsText(messages, firstRound: 1, separator: "\n\n"))
        default:
            try ChatRoles.check(messages, model: "ChatGLM3-6B")
            var ids = [special("[gMASK]"), special("<sop>")]
            for message in messages {
                ids += [special("<|\(message.role)|>")] + tokenize("\n") + tokenize(message.content)
            }
            ids.append(special("<|assistant|>"))
            return continuation(ids: ids, displayText: detokenize(ids))
        }
    }

    /// ChatGLM2's `process_response` (whitespace trimmed, `[[训练时间]]` replaced) or ChatGLM3's (the text after
    /// the last `<|assistant|>`, its metadata line split off).
    public func chatResponse(_ answer: String) -> String {
        release == .chatGLM2 ? ChatRoles.trimmed(answer) : ChatRoles.roleResponse(answer)
    }
}
