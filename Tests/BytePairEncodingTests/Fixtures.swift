import BytePairEncoding
import Foundation

/// The official GLM-4 tokenizer fixture in `Tests/Fixtures/glm-4-9b-chat-tiny` (copied from
/// ../shared/fixtures/chatglm: a 1000-rank tiktoken vocabulary and what the official `tokenization_chatglm.py`
/// computed with it) and the Python-generated pre-split cases next to it.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let glm4 = directory.appendingPathComponent("glm-4-9b-chat-tiny")
    static let vocabularyURL = glm4.appendingPathComponent("tokenizer.model")

    /// The special tokens of `tokenizer_config.json`'s `added_tokens_decoder` (ids 1000-1013).
    static func specialTokens() throws -> [String: Int] {
        struct Config: Decodable {
            struct AddedToken: Decodable { var content: String }
            var addedTokensDecoder: [String: AddedToken]
            enum CodingKeys: String, CodingKey { case addedTokensDecoder = "added_tokens_decoder" }
        }
        let config = try JSONDecoder().decode(
            Config.self, from: Data(contentsOf: glm4.appendingPathComponent("tokenizer_config.json")))
        var tokens: [String: Int] = [:]
        for (id, token) in config.addedTokensDecoder { tokens[token.content] = Int(id)! }
        return tokens
    }

    static func tokenizer() throws -> TiktokenTokenizer {
        try TiktokenTokenizer(vocabulary: vocabularyURL, specialTokens: specialTokens())
    }

    struct Expected: Decodable {
        struct Message: Decodable {
            var role: String
            var content: String
        }

        /// A plain string, or chat messages that the official chat template turned into the prompt.
        enum Prompt: Decodable {
            case text(String)
            case messages([Message])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .text(text)
                } else {
                    self = .messages(try container.decode([Message].self))
                }
            }
        }

        struct Case: Decodable {
            var prompt: Prompt
            var inputIds: [Int]
            var gen: [Int]
            var decoded: String
            enum CodingKeys: String, CodingKey {
                case prompt, gen, decoded
                case inputIds = "input_ids"
            }
        }

        struct TokenizerCheck: Decodable {
            var text: String
            var ids: [Int]
            var decoded: String
        }

        var cases: [String: Case]
        var tokenizerChecks: [TokenizerCheck]
        enum CodingKeys: String, CodingKey {
            case cases
            case tokenizerChecks = "tokenizer_checks"
        }
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: glm4.appendingPathComponent("expected.json")))
    }

    /// `Tests/Fixtures/glm4-pretokenizer-cases.json`, written by `Tests/Reference/make_glm4_pretokenizer_cases.py`
    /// from Python `regex` and a Python transcription of tiktoken's merge rule (and checked by its pytest).
    struct PreTokenizerCases: Decodable {
        struct Case: Decodable {
            var pieces: [String]
            /// The byte-pair ids over the tiny vocabulary; present for the first strings and the long runs.
            var ids: [Int]?
            var text: String { pieces.joined() }
        }

        struct Decoding: Decodable {
            /// Hexadecimal bytes.
            var bytes: String
            /// Python's `bytes.decode("utf-8", errors="replace")` of them.
            var text: String
        }

        var pattern: String
        var cases: [Case]
        var decoding: [Decoding]
    }

    static let preTokenizerCases = Result {
        try JSONDecoder().decode(
            PreTokenizerCases.self,
            from: Data(contentsOf: directory.appendingPathComponent("glm4-pretokenizer-cases.json")))
    }
}

extension Fixtures.Expected.Case {
    /// The prompt text the official tokenizer encoded after `[gMASK]<sop>`: the string itself, or the chat
    /// template of `tokenizer_config.json` (`<|role|>{metadata}\n{content}` per message with empty metadata, then
    /// `<|assistant|>`) rendered without the leading `[gMASK]<sop>`.
    var promptText: String {
        switch prompt {
        case .text(let text): text
        case .messages(let messages):
            messages.filter { !$0.content.isEmpty }.map { "<|\($0.role)|>\n\($0.content)" }.joined() + "<|assistant|>"
        }
    }
}
