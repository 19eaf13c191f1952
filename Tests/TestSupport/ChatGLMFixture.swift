import Foundation

/// A ChatGLM-family model folder of `Tests/Fixtures` (copied from ../shared/fixtures/chatglm): the release files
/// and what the official code computed for them.
public struct ChatGLMFixture: Sendable {
    public struct Case: Decodable, Sendable {
        /// The prompt text (empty for a case given as messages).
        public var prompt: String
        /// The conversation the official chat prompt builder took (ChatGLM3, GLM-4), nil for text.
        public var messages: [[String: String]]?
        public var inputIds: [Int]
        public var gen: [Int]
        public var decoded: String
        public var minGap: Double

        enum CodingKeys: String, CodingKey {
            case prompt, gen, decoded
            case inputIds = "input_ids"
            case minGap = "min_gap"
        }

        public init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            if let text = try? container.decode(String.self, forKey: .prompt) {
                prompt = text
            } else {
                prompt = ""
                messages = try container.decode([[String: String]].self, forKey: .prompt)
            }
            inputIds = try container.decode([Int].self, forKey: .inputIds)
            gen = try container.decode([Int].self, forKey: .gen)
            decoded = try container.decode(String.self, forKey: .decoded)
            minGap = try container.decode(Double.self, forKey: .minGap)
        }
    }

    public struct TokenizerCheck: Decodable, Sendable {
        public var text: String
        public var ids: [Int]
        public var decoded: String
    }

    struct Expected: Decodable {
        var cases: [String: Case]
        var tokenizerChecks: [TokenizerCheck]

        enum CodingKeys: String, CodingKey {
            case cases
            case tokenizerChecks = "tokenizer_checks"
        }
    }

    public let directory: URL
    public let cases: [String: Case]
    public let tokenizerChecks: [TokenizerCheck]

    /// `name` is the folder, e.g. `chatglm-6b-tiny`.
    public init(_ name: String) throws {
        directory = Fixture.root.deletingLastPathComponent().appendingPathComponent(name)
        let expected = try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("expected.json")))
        cases = expected.cases
        tokenizerChecks = expected.tokenizerChecks
    }

    public static let chatGLM6B = Result { try ChatGLMFixture("chatglm-6b-tiny") }
    public static let chatGLM2 = Result { try ChatGLMFixture("chatglm2-6b-tiny") }
    public static let chatGLM3 = Result { try ChatGLMFixture("chatglm3-6b-tiny") }
    public static let glm4 = Result { try ChatGLMFixture("glm-4-9b-chat-tiny") }
}
