import Configuration
import FoundationEssentials
import SentencePiece

/// The GLM-130B text tokenizer: icetk's text part as wrapped by SwissArmyTransformer 0.2.12
/// (`tokenization/icetk_glm_130B`), the version the official GLM-130B code runs.
///
/// Id layout (`TokenizerConfiguration`): text id = SentencePiece id + `numImageTokens`; the eight `CommandToken`s
/// follow from `commandTokensStart`; `eos` is SentencePiece's `</s>` in the text range (20002 officially).
/// Sendable: all stored properties are immutable and `SentencePieceProcessor` is safe to share.
public final class IcetkTokenizer: Sendable {
    public let configuration: TokenizerConfiguration
    /// The SentencePiece model file in use.
    public let modelURL: URL
    private let processor: SentencePieceProcessor

    /// Loads the SentencePiece model named by `configuration.model`, relative to `directory` (the directory holding
    /// config.json) unless it is an absolute path.
    public init(configuration: TokenizerConfiguration, directory: URL) throws(TokenizationError) {
        let url =
            configuration.model.hasPrefix("/")
            ? URL(fileURLWithPath: configuration.model)
            : directory.appendingPathComponent(configuration.model).standardizedFileURL
        let processor: SentencePieceProcessor
        do { processor = try SentencePieceProcessor(modelPath: url.path) } catch {
            throw .cannotLoadModel(path: url.path, reason: error.description)
        }
        if configuration.numImageTokens + processor.pieceCount > configuration.commandTokensStart {
            throw .vocabularyOverlap(
                path: url.path, pieceCount: processor.pieceCount, numImageTokens: configuration.numImageTokens,
                commandTokensStart: configuration.commandTokensStart)
        }
        self.configuration = configuration
        self.modelURL = url
        self.processor = processor
    }

    /// Number of SentencePiece pieces (text ids are `textIds`).
    public var pieceCount: Int { processor.pieceCount }
    /// The ids that stand for SentencePiece pieces.
    public var textIds: Range<Int> { configuration.numImageTokens..<(configuration.numImageTokens + pieceCount) }
    /// The end-of-sequence id (`</s>`, 20002 officially); a generation end token besides `eop`.
    public var eosId: Int { configuration.eos }
    /// `<unk>` as a model id (20000 officially).
    public var unknownId: Int { Int(processor.unknownId) + configuration.numImageTokens }

    public func id(of token: CommandToken) -> Int { configuration.commandTokensStart + token.offset }

    public func commandToken(for id: Int) -> CommandToken? {
        CommandToken(rawValue: id - configuration.commandTokensStart)
    }

    /// Whether `id` is a text id or a command token (the ids this tokenizer can produce or render by name).
    public func isValid(_ id: Int) -> Bool { textIds.contains(id) || commandToken(for: id) != nil }

    /// Official `tokenize`: SentencePiece ids of `text` (no BOS/EOS, newlines are not kept) plus `numImageTokens`.
    public func tokenize(_ text: String) -> [Int] {
        processor.encode(text).map { Int($0) + configuration.numImageTokens }
    }

    /// Official `detokenize`: the ids are cut at every command token and at `eos`; each plain run between cuts is
    /// decoded as a whole by SentencePiece (then `<n>` becomes a newline, as icetk does) and each cut id is shown as
    /// `[name]` (`[[gMASK]]`, `[sop]`, and `[</s>]` for eos). The parts are joined with nothing in between.
    ///
    /// Ids that are neither text nor command ids (image ids, padding rows) make the official code fail; here they
    /// are cut out too and rendered `<image_N>` (below `numImageTokens`, icetk's name) or `<unused_N>`.
    public func detokenize(_ ids: [Int]) -> String {
        var text = ""
        var run: [Int32] = []
        func flush() {
            guard !run.isEmpty else { return }
            // Every id in `run` is a valid piece, so decoding cannot fail.
            let decoded = (try? processor.decode(run)) ?? ""
            text += decoded.replacing("<n>", with: "\n")
            run.removeAll(keepingCapacity: true)
        }
        for id in ids {
            if id == eosId {
                flush()
                text += "[</s>]"
            } else if let command = commandToken(for: id) {
                flush()
                text += command.renderedText
            } else if textIds.contains(id) {
                run.append(Int32(id - configuration.numImageTokens))
            } else {
                flush()
                text += id >= 0 && id < configuration.numImageTokens ? "<image_\(id)>" : "<unused_\(id)>"
            }
        }
        flush()
        return text
    }

    /// The SentencePiece piece of a text id (for example `"▁the"`), or the rendered name of a command token or eos.
    public func piece(for id: Int) -> String? {
        if id == eosId { return "[</s>]" }
        if let command = commandToken(for: id) { return command.renderedText }
        guard textIds.contains(id) else { return nil }
        return processor.piece(for: Int32(id - configuration.numImageTokens))
    }
}
