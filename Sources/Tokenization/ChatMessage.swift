import Basics
import FoundationEssentials

/// One turn of a conversation, OpenAI-style: `{"role": "user" | "assistant" | "system", "content": "..."}`.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// Messages from a JSON array of `{role, content}` objects; `source` names the file or field in errors.
    public static func parse(_ value: JSONValue, source: String) throws(ChatFormatError) -> [ChatMessage] {
        guard case .array(let items) = value, !items.isEmpty else {
            throw ChatFormatError(
                description: "\(source) must be a non-empty JSON array of {\"role\": ..., \"content\": ...} objects")
        }
        var messages: [ChatMessage] = []
        for (index, item) in items.enumerated() {
            guard case .object(let fields) = item, let role = fields["role"]?.stringValue,
                let content = fields["content"]?.stringValue
            else {
                throw ChatFormatError(
                    description: "\(source): message \(index) must be an object with string fields \"role\" and "
                        + "\"content\"")
            }
            if let unknown = fields.keys.sorted().first(where: { $0 != "role" && $0 != "content" }) {
                throw ChatFormatError(description: "\(source): message \(index) has an unknown field \"\(unknown)\"")
            }
            messages.append(ChatMessage(role: role, content: content))
        }
        return messages
    }

    /// Messages from a JSON file (`generate --messages FILE`).
    public static func read(contentsOf url: URL) throws(ChatFormatError) -> [ChatMessage] {
        if let problem = RegularFile.problem(at: url.path) {
            throw ChatFormatError(description: "--messages \(url.path) \(problem)")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ChatFormatError(description: "cannot read --messages \(url.path): \(error.explanation)")
        }
        guard let value = JSONValue.parse(data) else {
            throw ChatFormatError(description: "--messages \(url.path) is not valid JSON")
        }
        if let (key, _) = JSONValue.firstDuplicateKey(in: data) {
            throw ChatFormatError(description: "--messages \(url.path): field \"\(key)\" appears twice in one object")
        }
        return try parse(value, source: "--messages \(url.path)")
    }
}

/// Messages a model's chat format cannot take; the message names the file or field and what was expected.
public struct ChatFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}
