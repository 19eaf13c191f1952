import Basics
import Configuration
import FoundationEssentials
import SentencePiece

/// ChatGLM-6B's tokenizer, as THUDM/chatglm-6b's `tokenization_chatglm.py` computes it under transformers 4.27:
/// `ice_text.model` (SentencePiece, with the special tokens inside the model) behind a text preprocessing that
/// spells newlines `<n>`, tabs `<|tab|>` and runs of 2-80 spaces `<|blank_N|>`.
///
/// Encoding follows the transformers `tokenize` the release runs: the text is first cut at the tokenizer's special
/// tokens (`<sop>`, `<eop>`, `<unk>`, `<pad>`, `[MASK]`; `[gMASK]` is not one of them and goes to SentencePiece
/// as text), the whitespace next to each cut is stripped, each remaining piece of text is preprocessed and encoded
/// with SentencePiece's dummy prefix, and ids are SentencePiece ids plus `numImageTokens`. A prompt then ends with
/// `[gMASK] <sop>` (`build_inputs_with_special_tokens`). Decoding renders the pieces, undoes the preprocessing and
/// applies transformers' `clean_up_tokenization_spaces`.
public final class ChatGLM6BTokenizer: Sendable {
    /// The tokens the release's tokenizer declares special (bos, eos, unk, pad and mask in tokenizer_config.json).
    public static let splittingTokens = ["<sop>", "<eop>", "<unk>", "<pad>", "[MASK]"]
    /// The longest run of spaces with a token of its own.
    static let maximumBlank = 80

    public let modelURL: URL
    public let numImageTokens: Int
    private let processor: SentencePieceProcessor
    private let specialIds: [String: Int]
    /// The configuration's token layout, when built from one (`specialTokens`).
    private let configuration: TokenizerConfiguration?
    /// tokenizer_config.json's `remove_space`: runs of whitespace become one space and the ends are trimmed.
    public let removesSpace: Bool
    /// tokenizer_config.json's `do_lower_case`: text is lower-cased before encoding.
    public let lowercases: Bool

    /// What tokenizer_config.json says, each field checked; all absent when there is no file.
    static func settings(_ url: URL) throws(TokenizationError)
        -> (numImageTokens: Int?, removeSpace: Bool, doLowerCase: Bool)
    {
        guard FileManager.default.fileExists(atPath: url.path) else { return (nil, false, false) }
        func fail(_ reason: String) -> TokenizationError { .cannotLoadModel(path: url.path, reason: reason) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw fail(error.explanation) }
        guard case .object(let fields)? = JSONValue.parse(data) else { throw fail("not a JSON object") }
        var images: Int?
        if let value = fields["num_image_tokens"], value != .null {
            guard let number = value.numberValue, number >= 0, number <= 1e9, number.rounded() == number else {
                throw fail("num_image_tokens must be a non-negative integer, got \(value)")
            }
            images = Int(number)
        }
        func flag(_ key: String) throws(TokenizationError) -> Bool {
            switch fields[key] {
            case nil, .null?: return false
            case .bool(let value)?: return value
            default: throw fail("\(key) must be true or false")
            }
        }
        return (images, try flag("remove_space"), try flag("do_lower_case"))
    }

    /// Loads `ice_text.model` and checks that its special pieces have the ids `configuration` gives them (the
    /// release's config.json and its tokenizer must agree, or prompts would end with the wrong tokens).
    /// The release's tokenizer_config.json, where there is one, gives `num_image_tokens` (where text ids start; 0
    /// unless it says otherwise) and the text options `remove_space` and `do_lower_case`.
    public convenience init(configuration: TokenizerConfiguration, directory: URL) throws(TokenizationError) {
        let modelURL = directory.appendingPathComponent(configuration.model).standardizedFileURL
        var configuration = configuration
        let settings = try Self.settings(directory.appendingPathComponent("tokenizer_config.json"))
        if let images = settings.numImageTokens { configuration.numImageTokens = images }
        try self.init(
            modelURL: modelURL, numImageTokens: configuration.numImageTokens, configuration: configuration,
            removesSpace: settings.removeSpace, lowercases: settings.doLowerCase)
        let special = SpecialTokenIds(configuration: configuration)
        for (piece, token) in [("[MASK]", CommandToken.mask), ("[gMASK]", .gMask), ("<sop>", .sop), ("<eop>", .eop)]
        where id(of: piece) != special.id(of: token) {
            throw .specialPieceMismatch(
                path: modelURL.path, piece: piece, tokenizerId: id(of: piece) ?? -1,
                configurationId: special.id(of: token))
        }
    }

    /// `configuration`: the model's token layout, when the caller has one (`specialTokens` then follows it).
    public init(
        modelURL: URL, numImageTokens: Int, configuration: TokenizerConfiguration? = nil, removesSpace: Bool = false,
        lowercases: Bool = false
    ) throws(TokenizationError) {
        let processor: SentencePieceProcessor
        do { processor = try SentencePieceProcessor(modelPath: modelURL.path) } catch {
            throw .cannotLoadModel(path: modelURL.path, reason: error.description)
        }
        var specialIds: [String: Int] = [:]
        for piece in Self.splittingTokens + ["[gMASK]", "[sMASK]"] {
            let id = processor.id(ofPiece: piece)
            guard piece == "<unk>" || id != processor.unknownId else {
                throw .missingSpecialPiece(path: modelURL.path, piece: piece)
            }
            specialIds[piece] = Int(id) + numImageTokens
        }
        self.modelURL = modelURL
        self.numImageTokens = numImageTokens
        self.processor = processor
        self.specialIds = specialIds
        self.configuration = configuration
        self.removesSpace = removesSpace
        self.lowercases = lowercases
    }

    /// Number of SentencePiece pieces (text ids are `numImageTokens ..< numImageTokens + pieceCount`).
    public var pieceCount: Int { processor.pieceCount }

    /// The id of a special token such as `[gMASK]` or `<sop>`.
    public func id(of token: String) -> Int? { specialIds[token] }

    /// The ids of `text` without the prompt's closing `[gMASK] <sop>` (the official `tokenizer.encode(text,
    /// add_special_tokens=False)`).
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for part in Self.split(text, at: Self.splittingTokens) {
            switch part {
            case .special(let token): ids.append(specialIds[token]!)
            case .text(let chunk): ids += encodeText(chunk)
            }
        }
        return ids
    }

    /// The model input for a prompt: its ids, then `[gMASK]` and `<sop>`.
    public func promptIds(_ text: String) -> [Int] {
        encode(text) + [specialIds["[gMASK]"]!, specialIds["<sop>"]!]
    }

    /// The text of `ids`, as the official `tokenizer.decode(ids)` renders it (padding ids dropped, ids below
    /// `numImageTokens` rendered `<image_N>`).
    public func decode(_ ids: [Int]) -> String {
        var text = ""
        var run: [Int32] = []
        func flush() {
            guard !run.isEmpty else { return }
            text += (try? processor.decode(run)) ?? ""
            run.removeAll(keepingCapacity: true)
        }
        for id in ids where id != specialIds["<pad>"] {
            let piece = id - numImageTokens
            if piece >= 0 && piece < processor.pieceCount {
                run.append(Int32(piece))
            } else {
                flush()
                text += id >= 0 && id < numImageTokens ? "<image_\(id)>" : ""
            }
        }
        flush()
        return Self.cleanUpSpaces(Self.postprocess(text))
    }

    /// SentencePiece ids of one run of text between special tokens.
    private func encodeText(_ text: String) -> [Int] {
        // `preprocess_text`, applied to each piece of text between special tokens, before `SPTokenizer`'s own.
        var text = text
        if removesSpace { text = text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        if lowercases { text = text.lowercased() }
        return processor.encode(Self.preprocess(text)).map { Int($0) + numImageTokens }
    }

    // MARK: - The official text transformations

    /// `SPTokenizer._preprocess`: newlines, tabs, then runs of spaces from the longest down.
    static func preprocess(_ text: String) -> String {
        var text = text.replacing("\n", with: "<n>").replacing("\t", with: "<|tab|>")
        for length in stride(from: maximumBlank, through: 2, by: -1) where text.contains("  ") {
            text = text.replacing(String(repeating: " ", count: length), with: "<|blank_\(length)|>")
        }
        return text
    }

    /// `SPTokenizer.postprocess`.
    static func postprocess(_ text: String) -> String {
        var text = text.replacing("<n>", with: "\n").replacing("<|tab|>", with: "\t")
        for length in 2...maximumBlank where text.contains("<|blank_") {
            text = text.replacing("<|blank_\(length)|>", with: String(repeating: " ", count: length))
        }
        return text
    }

    /// transformers' `clean_up_tokenization`, which `decode` applies by default.
    static func cleanUpSpaces(_ text: String) -> String {
        var text = text
        for (from, to) in [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ] {
            text = text.replacing(from, with: to)
        }
        return text
    }

    enum Part: Equatable {
        case special(String)
        case text(String)
    }

    /// transformers' split at special tokens: the leftmost, longest match first; the whitespace on both sides of
    /// each special token is stripped from its neighbours; empty pieces of text are dropped.
    static func split(_ text: String, at tokens: [String]) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(text)
        var pendingText = ""
        while !rest.isEmpty {
            let match = tokens.compactMap { token in rest.firstRange(of: token).map { (token, $0) } }
                .min { ($0.1.lowerBound, -$0.0.count) < ($1.1.lowerBound, -$1.0.count) }
            guard let (token, range) = match else {
                pendingText += rest
                break
            }
            pendingText += rest[..<range.lowerBound]
            parts.append(.text(pendingText))
            parts.append(.special(token))
            pendingText = ""
            rest = rest[range.upperBound...]
        }
        parts.append(.text(pendingText))
        // Strip around each special token, then drop what became empty.
        for index in parts.indices {
            guard case .special = parts[index] else { continue }
            if index > 0, case .text(let left) = parts[index - 1] {
                parts[index - 1] = .text(String(left.reversed().drop { $0.isWhitespace }.reversed()))
            }
            if index + 1 < parts.count, case .text(let right) = parts[index + 1] {
                parts[index + 1] = .text(String(right.drop { $0.isWhitespace }))
            }
        }
        return parts.filter { $0 != .text("") }
    }
}

extension ChatGLM6BTokenizer: PromptTokenizer {
    /// The configuration's layout, or the one the model's own pieces give (`[MASK]` first, `<eop>` ending answers).
    public var specialTokens: SpecialTokenIds {
        let configuration =
            self.configuration
            ?? TokenizerConfiguration(
                model: modelURL.lastPathComponent, numImageTokens: numImageTokens,
                commandTokensStart: id(of: "[MASK]")!, eos: id(of: "<eop>")!)
        return SpecialTokenIds(configuration: configuration)
    }

    public func tokenize(_ text: String) -> [Int] { encode(text) }

    public func detokenize(_ ids: [Int]) -> String { decode(ids) }

    /// The official prompt: the text's ids, then `[gMASK]`; the caller appends `<sop>`. Generation continues after
    /// `<sop>` once, the answer being what it generates.
    public func prompt(_ text: String) -> BlankPrompt {
        BlankPrompt(
            ids: encode(text) + [id(of: "[gMASK]")!], generationMask: .gMask, useGMask: true, displayText: text,
            isEnglish: text.unicodeScalars.allSatisfy(\.isASCII), isContinuation: true)
    }

    /// Ids ending with `<sop>`; the generation mask is the first `[gMASK]`, else the first `[MASK]` (the official
    /// `get_masks_and_position_ids`).
    public func prompt(fromIds idsEndingWithSop: [Int]) throws(TokenizationError) -> BlankPrompt {
        guard let last = idsEndingWithSop.last, last == id(of: "<sop>") else {
            throw .missingStartOfPiece(lastId: idsEndingWithSop.last)
        }
        let ids = Array(idsEndingWithSop.dropLast())
        let mask: CommandToken = ids.contains(id(of: "[gMASK]")!) ? .gMask : .mask
        guard ids.contains(specialTokens.id(of: mask)) else { throw .noBlankToFill(mask: .gMask) }
        let text = decode(ids)
        return BlankPrompt(
            ids: ids, generationMask: mask, useGMask: mask == .gMask, displayText: text,
            isEnglish: text.unicodeScalars.allSatisfy(\.isASCII), isContinuation: true)
    }
}

extension ChatGLM6BTokenizer {
    /// The official `chat()` prompt: the question alone without history, else every earlier exchange as
    /// `[Round i]\n问：{question}\n答：{answer}\n` and the question as `[Round n]\n问：{question}\n答：`. Messages
    /// alternate user and assistant and end with the user's; ChatGLM-6B has no system prompt.
    public func chatPrompt(_ messages: [ChatMessage]) throws(ChatFormatError) -> BlankPrompt {
        prompt(try chatText(messages))
    }

    /// The text of `chatPrompt`.
    public func chatText(_ messages: [ChatMessage]) throws(ChatFormatError) -> String {
        try ChatRoles.checkTurns(messages, model: "ChatGLM-6B")
        guard messages.count > 1 else { return messages[0].content }
        return ChatRoles.roundsText(messages, firstRound: 0, separator: "\n")
    }

    /// The official `process_response`: surrounding whitespace stripped, the training-date placeholder filled, and
    /// ASCII `, ! : ; ?` next to a CJK ideograph (U+4E00-U+9FFF) made full-width.
    public func chatResponse(_ answer: String) -> String {
        let trimmed = answer.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
        var scalars = Array(String(trimmed).replacing("[[训练时间]]", with: "2023年").unicodeScalars)
        func isIdeograph(_ scalar: Unicode.Scalar) -> Bool { (0x4E00...0x9FFF).contains(scalar.value) }
        // The official order: per mark, the ones after an ideograph, then the ones before one.
        let marks: [(Unicode.Scalar, Unicode.Scalar)] = [(",", "，"), ("!", "！"), (":", "："), (";", "；"), ("?", "？")]
        for (ascii, wide) in marks {
            for index in scalars.indices.dropFirst() where scalars[index] == ascii && isIdeograph(scalars[index - 1]) {
                scalars[index] = wide
            }
            for index in scalars.indices.dropLast() where scalars[index] == ascii && isIdeograph(scalars[index + 1]) {
                scalars[index] = wide
            }
        }
        return String(String.UnicodeScalarView(scalars))
    }
}
