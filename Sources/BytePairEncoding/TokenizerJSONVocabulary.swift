import FoundationEssentials

/// GLM-4's vocabulary as transformers' `tokenizer.json` stores it (glm-4-9b-chat-hf): a byte-level BPE whose vocab
/// maps each token, written in GPT-2's byte-to-character alphabet, to its id. The release's converter wrote it from
/// the tiktoken ranks (the id is the rank, the merges follow rank order), so the same tokens and ranks make the same
/// tiktoken vocabulary: each token's bytes are recovered from the alphabet and the ranks kept. The file must split
/// text with GLM-4's pattern, or its tokens would not be GLM-4's.
extension TiktokenVocabulary {
    /// GLM-4's pre-split pattern (`GLM4PreTokenizer`), as its tokenizer files write it.
    public static let glm4Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    private struct File: Decodable {
        struct Model: Decodable {
            var type: String?
            var vocab: [String: Int]
        }
        var model: Model
    }

    /// Loads the vocabulary of a `tokenizer.json` at `url`.
    public init(tokenizerJSON url: URL) throws(TiktokenError) {
        func fail(_ expected: String) -> TiktokenError {
            TiktokenError(file: url.path, problem: .notGLM4TokenizerJSON(expected))
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TiktokenError(file: url.path, problem: .unreadable("\(error)"))
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw fail("a JSON object with model.vocab, an object of tokens and ids (\(error))")
        }
        guard file.model.type == nil || file.model.type == "BPE" else {
            throw fail("a BPE model, found \(file.model.type!)")
        }
        // The pattern is stored JSON-escaped; compare it unescaped.
        guard let text = String(data: data, encoding: .utf8),
            text.contains(Self.glm4Pattern.replacing("\\", with: "\\\\"))
        else {
            throw fail("GLM-4's pre-tokenizer pattern \(Self.glm4Pattern)")
        }
        let alphabet = Self.byteOfCharacter
        var lines = ""
        for (token, id) in file.model.vocab.sorted(by: { $0.value < $1.value }) {
            var bytes: [UInt8] = []
            for scalar in token.unicodeScalars {
                guard let byte = alphabet[scalar] else {
                    throw fail("tokens in GPT-2's byte alphabet; \(token.debugDescription) (id \(id)) is not")
                }
                bytes.append(byte)
            }
            lines += Data(bytes).base64EncodedString() + " \(id)\n"
        }
        try self.init(parsing: Array(lines.utf8), file: url.path)
    }

    /// GPT-2's `bytes_to_unicode`, inverted: printable Latin-1 bytes stand for themselves, the other bytes for the
    /// characters from U+0100 on, in byte order.
    static let byteOfCharacter: [Unicode.Scalar: UInt8] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        var table: [Unicode.Scalar: UInt8] = [:]
        for byte in printable { table[Unicode.Scalar(UInt8(byte))] = UInt8(byte) }
        var next = 256
        for byte in 0...255 where !printable.contains(byte) {
            table[Unicode.Scalar(UInt32(next))!] = UInt8(byte)
            next += 1
        }
        return table
    }()
}
