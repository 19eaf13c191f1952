import Foundation

/// A ChatGLM-family model folder of `Tests/Fixtures` (copied from ../shared/fixtures/chatglm): the release files
/// and what the official code computed for them.
public struct ChatGLMFixture: Sendable {
    public struct Case: Decodable, Sendable {
        public var prompt: String
        public var inputIds: [Int]
        public var gen: [Int]
        public var decoded: String
        public var minGap: Double

        enum CodingKeys: String, CodingKey {
            case prompt, gen, decoded
            case inputIds = "input_ids"
            case minGap = "min_gap"
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
}
