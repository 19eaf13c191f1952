import Basics

/// A list of token ids as a user writes it: `1,2,3` (commas or spaces).
public enum TokenIdList {
    /// The ids, each checked against the vocabulary; errors name `option`.
    public static func parse(_ text: String, vocabularySize: Int, option: String = "--ids") throws -> [Int] {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false)
        // Commas separate ids: one with nothing before or after it ("1,,2", a trailing comma) is a typo, and a
        // typo in an id list must not silently give another context.
        if fields.count > 1, let empty = fields.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
            throw InputError(description: "\(option): an empty id after \(empty) comma-separated ids in \"\(text)\"")
        }
        let parts = fields.flatMap { $0.split(separator: " ") }.map(String.init)
        guard !parts.isEmpty else {
            throw InputError(description: "\(option): expected comma-separated token ids, got nothing")
        }
        return try parts.map { part in
            guard let id = Int(part), id >= 0, id < vocabularySize else {
                throw InputError(description: "\(option): \"\(part)\" is not a token id in [0, \(vocabularySize))")
            }
            return id
        }
    }
}
