import FoundationEssentials

/// GLM-4's tokenizer (`ChatGLM4Tokenizer` of the official `tokenization_chatglm.py`): a tiktoken vocabulary, GLM-4's
/// pre-split, tiktoken's byte-pair rule, and special tokens whose ids follow the ranks.
///
/// Encoding first splits special tokens out of the text as transformers' added-token splitting does: scanning left
/// to right, at each position the longest special token that starts there wins, and the text between them encodes
/// normally (pre-split, then byte-pair encoded piece by piece).
public struct TiktokenTokenizer: Sendable {
    public let vocabulary: TiktokenVocabulary
    /// Special token text to id; every id lies outside the vocabulary's ranks.
    public let specialTokens: [String: Int]

    private let encoder: BytePairEncoder
    private let preTokenizer = GLM4PreTokenizer()
    /// Special tokens as UTF-8, longest first so that the first one that matches is the longest.
    private let specialsByLength: [(bytes: [UInt8], id: Int)]
    /// Whether some special token starts with the byte: most positions need no comparison.
    private let startsSpecial: [Bool]
    private let specialBytes: [Int: [UInt8]]

    /// Loads the vocabulary at `url`; `specialTokens` maps each special token's text to its id.
    /// (A `tokenizer.json`, by its extension, is read as transformers stores GLM-4's vocabulary.)
    public init(vocabulary url: URL, specialTokens: [String: Int]) throws(TiktokenError) {
        let vocabulary =
            url.pathExtension == "json"
            ? try TiktokenVocabulary(tokenizerJSON: url) : try TiktokenVocabulary(contentsOf: url)
        try self.init(vocabulary: vocabulary, specialTokens: specialTokens, file: url.path)
    }

    /// `file` names the vocabulary in errors about the special tokens.
    public init(vocabulary: TiktokenVocabulary, specialTokens: [String: Int], file: String = "tokenizer")
        throws(TiktokenError)
    {
        var tokenOfId: [Int: String] = [:]
        // In id order, so that the error for a shared id names the same pair on every run.
        for (token, id) in specialTokens.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
            func fail(_ problem: TiktokenError.Problem) -> TiktokenError { TiktokenError(file: file, problem: problem) }
            guard id >= 0 else { throw fail(.negativeSpecialTokenId(token, id: id)) }
            guard id >= vocabulary.count else { throw fail(.specialTokenCollidesWithRank(token, id: id)) }
            guard !token.isEmpty else { throw fail(.emptySpecialToken(id: id)) }
            if let first = tokenOfId[id] { throw fail(.duplicateSpecialTokenId(id, first: first, second: token)) }
            tokenOfId[id] = token
        }
        self.vocabulary = vocabulary
        self.specialTokens = specialTokens
        encoder = BytePairEncoder(vocabulary: vocabulary)
        specialsByLength = specialTokens.map { (Array($0.key.utf8), $0.value) }.sorted {
            $0.bytes.count > $1.bytes.count
                || ($0.bytes.count == $1.bytes.count && $0.bytes.lexicographicallyPrecedes($1.bytes))
        }
        var startsSpecial = [Bool](repeating: false, count: 256)
        for special in specialsByLength { startsSpecial[Int(special.bytes[0])] = true }
        self.startsSpecial = startsSpecial
        specialBytes = Dictionary(uniqueKeysWithValues: specialTokens.map { ($0.value, Array($0.key.utf8)) })
    }

    /// The ids of `text`. With `allowingSpecialTokens`, special token text becomes the special ids; without, it is
    /// encoded as plain text (as the official `build_single_message` encodes message content).
    public func encode(_ text: String, allowingSpecialTokens: Bool) -> [Int] {
        let utf8 = Array(text.utf8)
        let bytes = utf8.span
        var ids: [Int] = []
        ids.reserveCapacity(utf8.count / 2)
        var scratch = BytePairEncoder.Scratch()
        var plainStart = 0
        var position = 0
        if allowingSpecialTokens && !specialsByLength.isEmpty {
            while position < bytes.count {
                guard startsSpecial[Int(bytes[position])], let special = special(at: position, bytes) else {
                    position += 1
                    continue
                }
                appendPlain(bytes.extracting(plainStart..<position), to: &ids, scratch: &scratch)
                ids.append(special.id)
                position += special.length
                plainStart = position
            }
        }
        appendPlain(bytes.extracting(plainStart..<bytes.count), to: &ids, scratch: &scratch)
        return ids
    }

    /// The text of `ids`: token bytes concatenated, ill-formed UTF-8 replaced by U+FFFD per maximal ill-formed
    /// subsequence, as Python's `bytes.decode("utf-8", errors="replace")` replaces it. Special ids decode to their
    /// text, ids that are neither ranks nor special to nothing (the official `_convert_id_to_token` gives "").
    /// Unlike transformers' `decode`, no spaces are put around special tokens.
    public func decode(_ ids: [Int]) -> String {
        String(decoding: decodeBytes(ids), as: UTF8.self)
    }

    /// The concatenated bytes of `ids` (special ids as their UTF-8 text; unknown ids as nothing).
    public func decodeBytes(_ ids: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for id in ids {
            if id >= 0 && id < vocabulary.count {
                vocabulary.appendBytes(ofRank: id, to: &bytes)
            } else if let special = specialBytes[id] {
                bytes.append(contentsOf: special)
            }
        }
        return bytes
    }

    /// The longest special token at `position`.
    private func special(at position: Int, _ bytes: Span<UInt8>) -> (id: Int, length: Int)? {
        candidates: for special in specialsByLength where special.bytes.count <= bytes.count - position {
            for (index, byte) in special.bytes.enumerated() where bytes[position + index] != byte {
                continue candidates
            }
            return (special.id, special.bytes.count)
        }
        return nil
    }

    /// Pre-splits plain text (well-formed UTF-8: special tokens end on scalar boundaries) and encodes each piece.
    private func appendPlain(_ text: Span<UInt8>, to ids: inout [Int], scratch: inout BytePairEncoder.Scratch) {
        for piece in preTokenizer.pieces(text) {
            encoder.append(text.extracting(piece), to: &ids, scratch: &scratch)
        }
    }
}
