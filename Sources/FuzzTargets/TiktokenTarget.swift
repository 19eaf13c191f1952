import BytePairEncoding

/// GLM-4's tokenizer inputs: the bytes read as a tiktoken vocabulary file (`<base64> <rank>` lines, validated), and
/// as text (invalid UTF-8 repaired) pre-split and encoded with a small byte-level vocabulary with merges and special
/// tokens, then decoded back.
enum TiktokenTarget {
    /// Every single byte, then a few merges (`th`, `the`, ` the`, `你`'s bytes...), and two special tokens.
    static let tokenizer: TiktokenTokenizer? = {
        var lines = (0..<256).map { byte in "\(base64([UInt8(byte)])) \(byte)" }
        for (rank, token) in ["th", "the", " the", "in", "ing", "  ", "\n\n", "你", "你好"].enumerated() {
            lines.append("\(base64(Array(token.utf8))) \(256 + rank)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        guard let vocabulary = try? TiktokenVocabulary(parsing: Array(text.utf8), file: "fuzz-vocabulary") else {
            return nil
        }
        return try? TiktokenTokenizer(
            vocabulary: vocabulary, specialTokens: ["<|user|>": 300, "[gMASK]": 301], file: "fuzz-vocabulary")
    }()

    static func run(_ bytes: UnsafeRawBufferPointer) {
        _ = try? TiktokenVocabulary(parsing: Array(bytes), file: "fuzz.model")
        guard let tokenizer else { return }
        let text = String(decoding: bytes, as: UTF8.self)
        let ids = tokenizer.encode(text, allowingSpecialTokens: true)
        _ = tokenizer.decode(ids)
        _ = tokenizer.encode(text, allowingSpecialTokens: false)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[(value >> (18 - 6 * position)) & 63] : "=")
            }
            index += 3
        }
        return out
    }
}
