import Configuration
import Foundation
import Testing
import Tokenization

/// The official GLM-130B test vectors in `Tests/Fixtures/glm-tiny-icetk` (see shared/fixtures/README.md).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/glm-tiny-icetk")
    static let checkpointDirectory = directory.appendingPathComponent("mp1")
    static let modelPath = checkpointDirectory.appendingPathComponent("ice_text.model").path

    struct Expected: Decodable {
        var specialIds: [String: Int]
        var eos: Int
        var cases: [Case]
        var tokenizerRoundTrips: [RoundTrip]

        enum CodingKeys: String, CodingKey {
            case specialIds = "special_ids"
            case eos, cases
            case tokenizerRoundTrips = "tokenizer_round_trips"
        }
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var rawText: String
        var inputIds: [Int]
        var maskPosition: Int
        var useGMask: Bool
        var generationMask: String
        var expectedGeneratedIds: [Int]
        var expectedAnswerText: String
        var expectedBlankText: String

        enum CodingKeys: String, CodingKey {
            case name
            case rawText = "raw_text"
            case inputIds = "input_ids"
            case maskPosition = "mask_position"
            case useGMask = "use_gmask"
            case generationMask = "generation_mask"
            case expectedGeneratedIds = "expected_generated_ids"
            case expectedAnswerText = "expected_answer_text"
            case expectedBlankText = "expected_blank_text"
        }

        var testDescription: String { name }
    }

    struct RoundTrip: Decodable, CustomTestStringConvertible {
        var text: String?
        var ids: [Int]
        var detokenized: String

        var testDescription: String { text.map { "text \($0.debugDescription)" } ?? "ids \(ids)" }
    }

    static let expected: Expected = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()

    static let configuration: ModelConfiguration = try! ModelConfiguration.load(
        from: checkpointDirectory.appendingPathComponent("config.json"))

    static let tokenizer: IcetkTokenizer = try! IcetkTokenizer(
        configuration: configuration.tokenizer, directory: checkpointDirectory)
}
