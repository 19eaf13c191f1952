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
public final class ChatGLM2Tokenizer: PromptTokenizer {
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

    private func special(_ name: String) -> Int { specialTokens.configuration.namedToken(name)! }

    /// `[gMASK] <sop>` and the text's ids (`tokenizer(text)`); generation continues after them.
    public func prompt(_ text: String) -> BlankPrompt {
        prompt(ids: [special("[gMASK]"), special("<sop>")] + tokenize(text), displayText: text)
    }

    /// Any ids: the model continues after the last.
    public func prompt(fromIds ids: [Int]) throws(TokenizationError) -> BlankPrompt {
        guard ids.contains(special("[gMASK]")) else { throw .noBlankToFill(mask: .gMask) }
        return prompt(ids: ids, displayText: detokenize(ids))
    }

    private func prompt(ids: [Int], displayText: String) -> BlankPrompt {
        BlankPrompt(
            ids: ids, generationMask: .gMask, useGMask: true, displayText: displayText,
            isEnglish: displayText.unicodeScalars.allSatisfy(\.isASCII), isContinuation: true,
            appendsStartOfPiece: false)
    }

    /// ChatGLM2's `build_prompt` (`[Round i]\n\n问：...\n\n答：...\n\n`, rounds from 1) or ChatGLM3's
    /// `build_chat_input` (per message its role token, the ids of `"\n"`, the ids of the content; then
    /// `<|assistant|>`).
    public func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt {
        switch release {
        case .chatGLM2:
            let text = try Self.roundsText(messages, model: "ChatGLM2-6B", header: { "[Round \($0 + 1)]\n\n" })
            return prompt(text)
        default:
            try ChatRoles.check(messages, model: "ChatGLM3-6B")
            var ids = [special("[gMASK]"), special("<sop>")]
            for message in messages {
                ids += [special("<|\(message.role)|>")] + tokenize("\n") + tokenize(message.content)
            }
            ids.append(special("<|assistant|>"))
            return prompt(ids: ids, displayText: detokenize(ids))
        }
    }

    /// The text of ChatGLM2's `build_prompt`: earlier exchanges as `{header}问：{q}\n\n答：{a}\n\n`, then the
    /// question as `{header}问：{q}\n\n答：`. Messages alternate user and assistant, starting and ending with user.
    static func roundsText(_ messages: [ChatMessage], model: String, header: (Int) -> String)
        throws(ChatFormatError) -> String
    {
        for (index, message) in messages.enumerated() {
            let expected = index % 2 == 0 ? "user" : "assistant"
            guard message.role == expected else {
                throw ChatFormatError(
                    description: "message \(index) has role \"\(message.role)\"; \(model)'s chat takes user and "
                        + "assistant messages in turn, starting and ending with user (it has no system prompt)")
            }
        }
        guard messages.count % 2 == 1 else {
            throw ChatFormatError(description: "the last message must be the user's (the model answers it)")
        }
        var text = ""
        for round in 0..<(messages.count / 2) {
            text += header(round) + "问：\(messages[2 * round].content)\n\n答：\(messages[2 * round + 1].content)\n\n"
        }
        return text + header(messages.count / 2) + "问：\(messages[messages.count - 1].content)\n\n答："
    }

    /// ChatGLM2's `process_response` (whitespace trimmed, `[[训练时间]]` replaced) or ChatGLM3's (the text after
    /// the last `<|assistant|>`, its metadata line split off).
    public func chatResponse(_ answer: String) -> String {
        release == .chatGLM2 ? ChatRoles.trimmed(answer) : ChatRoles.roleResponse(answer)
    }
}

/// What the role-token chats (ChatGLM3, GLM-4) share: their roles and their `process_response`.
enum ChatRoles {
    static let roles: Set<String> = ["system", "user", "assistant", "observation"]

    /// Every role is one of `roles`; the model answers the last message, which is the user's or an observation.
    static func check(_ messages: [ChatMessage], model: String) throws(ChatFormatError) {
        for (index, message) in messages.enumerated() where !roles.contains(message.role) {
            throw ChatFormatError(
                description: "message \(index) has role \"\(message.role)\"; \(model)'s chat takes system, user, "
                    + "assistant and observation messages")
        }
        guard let last = messages.last, last.role == "user" || last.role == "observation" else {
            throw ChatFormatError(description: "the last message must be the user's (the model answers it)")
        }
    }

    /// ChatGLM2's `process_response`: trimmed, `[[训练时间]]` as `2023年`.
    static func trimmed(_ answer: String) -> String {
        let text = String(answer.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        return text.replacing("[[训练时间]]", with: "2023年")
    }

    /// ChatGLM3's and GLM-4's `process_response` for a plain answer: the part after the last `<|assistant|>`; a
    /// first line there is metadata (a tool's name), and without one the content is trimmed. A tool call keeps its
    /// content as generated.
    static func roleResponse(_ answer: String) -> String {
        let response =
            answer.split(separator: "<|assistant|>", omittingEmptySubsequences: false).last.map(String.init) ?? answer
        guard let newline = response.firstIndex(of: "\n") else { return trimmed(response) }
        let metadata = response[..<newline]
        let content = String(response[response.index(after: newline)...])
        return metadata.allSatisfy(\.isWhitespace) ? trimmed(content) : content
    }
}
