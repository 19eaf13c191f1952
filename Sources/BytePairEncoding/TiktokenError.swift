/// What went wrong loading a tiktoken vocabulary file or building a tokenizer over it, and where: the file, the
/// 1-based line when one line is at fault, and the problem.
public struct TiktokenError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        /// The file could not be read: the system's reason.
        case unreadable(String)
        /// A line is empty; every line is `<base64 token> <rank>`.
        case emptyLine
        /// The token field (quoted) is not padded standard base64.
        case notBase64(String)
        /// The token field is padding only, so the token has no bytes.
        case emptyToken
        /// The line has a token but no rank.
        case missingRank
        /// The line has a third field (quoted) after the rank.
        case extraField(String)
        /// The rank field (quoted) is not a non-negative decimal integer.
        case rankNotInteger(String)
        /// The token's bytes already appeared, with another rank, on `firstLine`.
        case duplicateToken(firstLine: Int)
        /// The rank already appeared on `firstLine`.
        case duplicateRank(Int, firstLine: Int)
        /// A rank lies outside `0..<count` (`count` is the number of lines), so `missing` has no token.
        case rankOutOfRange(Int, count: Int, missing: Int)
        /// No token is this single byte, so some texts could not be encoded.
        case missingByte(UInt8)
        /// A special token's id is also a rank of the vocabulary.
        case specialTokenCollidesWithRank(String, id: Int)
        /// Two special tokens share an id.
        case duplicateSpecialTokenId(Int, first: String, second: String)
        /// A special token's id is negative.
        case negativeSpecialTokenId(String, id: Int)
        /// A special token is the empty string.
        case emptySpecialToken(id: Int)
        /// A transformers `tokenizer.json` that is not GLM-4's byte-level BPE: what was expected.
        case notGLM4TokenizerJSON(String)
    }

    /// The vocabulary file's path, or the name a caller gave the bytes it parsed.
    public var file: String
    /// The 1-based line at fault; nil for problems of the whole file or of the special tokens.
    public var line: Int?
    public var problem: Problem

    public init(file: String, line: Int? = nil, problem: Problem) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String {
        let place = line.map { "\(file) line \($0)" } ?? file
        let expectedLine = "expected '<base64 token> <rank>'"
        let what: String
        switch problem {
        case .unreadable(let reason): what = "cannot read the tiktoken vocabulary: \(reason)"
        case .emptyLine: what = "\(expectedLine), found an empty line"
        case .notBase64(let field): what = "\(expectedLine), but the token \(quoted(field)) is not padded base64"
        case .emptyToken: what = "\(expectedLine), but the token is padding only (no bytes)"
        case .missingRank: what = "\(expectedLine), but the rank is missing"
        case .extraField(let field): what = "\(expectedLine), found an extra field \(quoted(field)) after the rank"
        case .rankNotInteger(let field):
            what = "\(expectedLine), but the rank \(quoted(field)) is not a non-negative decimal integer"
        case .duplicateToken(let firstLine): what = "the token's bytes are already the token of line \(firstLine)"
        case .duplicateRank(let rank, let firstLine): what = "rank \(rank) is already the rank of line \(firstLine)"
        case .rankOutOfRange(let rank, let count, let missing):
            what =
                "rank \(rank) is outside 0..<\(count): the ranks must be 0..<\(count) without gaps, "
                + "\(missing) is missing"
        case .missingByte(let byte):
            what = "no token is the single byte \(hex(byte)); a tiktoken vocabulary needs one for each of the 256 bytes"
        case .specialTokenCollidesWithRank(let token, let id):
            what = "special token \(quoted(token)) has id \(id), which is a rank of the vocabulary"
        case .duplicateSpecialTokenId(let id, let first, let second):
            what = "special tokens \(quoted(first)) and \(quoted(second)) share id \(id)"
        case .negativeSpecialTokenId(let token, let id): what = "special token \(quoted(token)) has negative id \(id)"
        case .emptySpecialToken(let id): what = "the special token of id \(id) is empty"
        case .notGLM4TokenizerJSON(let expected): what = "not GLM-4's tokenizer.json: expected \(expected)"
        }
        return "\(place): \(what)"
    }
}

private func quoted(_ text: String) -> String { "'\(text)'" }

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return "0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
}
