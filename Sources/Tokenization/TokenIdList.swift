import Basics

/// A list of token ids as a user writes it: `1,2,3` (commas or spaces).
public enum TokenIdList {
    /// The ids, each checked against the vocabulary; errors name `option`.
    public static func parse(_ text: String, vocabularySize: Int, option: String = "--ids") throws -> [Int] {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
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
