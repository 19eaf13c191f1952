import Checkpoint
import Configuration
import Foundation
import GLM
import ModelLoading
import Testing
import Tokenization

/// The official GLM-130B test vectors in `Tests/Fixtures/glm-tiny-icetk` (produced by the official code; see
/// ../shared/fixtures/README.md): paths, the expected outputs, and the model and tokenizer they came from. The one
/// loader every test suite uses.
public enum Fixture {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/glm-tiny-icetk")
    /// The MP=1 checkpoint; `mp2` holds the same weights saved at MP=2.
    public static let checkpointDirectory = root.appendingPathComponent("mp1")
    public static let mp2Directory = root.appendingPathComponent("mp2")
    public static let modelPath = checkpointDirectory.appendingPathComponent("ice_text.model").path

    public struct Expected: Decodable, Sendable {
        public var specialIds: [String: Int]
        public var eos: Int
        public var cases: [Case]
        public var tokenizerRoundTrips: [RoundTrip]

        enum CodingKeys: String, CodingKey {
            case specialIds = "special_ids"
            case eos, cases
            case tokenizerRoundTrips = "tokenizer_round_trips"
        }
    }

    public struct Case: Decodable, Sendable, CustomTestStringConvertible {
        public var name: String
        public var rawText: String
        public var inputIds: [Int]
        public var maskPosition: Int
        public var useGMask: Bool
        public var generationMask: String
        public var expectedGeneratedIds: [Int]
        public var expectedAnswerText: String
        public var expectedBlankText: String
        /// The file of the official logits at the last context position (little-endian float32).
        public var lastPositionLogits: String

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
            case lastPositionLogits = "last_position_logits"
        }

        struct LogitsFile: Decodable { var file: String }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            rawText = try c.decode(String.self, forKey: .rawText)
            inputIds = try c.decode([Int].self, forKey: .inputIds)
            maskPosition = try c.decode(Int.self, forKey: .maskPosition)
            useGMask = try c.decode(Bool.self, forKey: .useGMask)
            generationMask = try c.decode(String.self, forKey: .generationMask)
            expectedGeneratedIds = try c.decode([Int].self, forKey: .expectedGeneratedIds)
            expectedAnswerText = try c.decode(String.self, forKey: .expectedAnswerText)
            expectedBlankText = try c.decode(String.self, forKey: .expectedBlankText)
            lastPositionLogits = try c.decode(LogitsFile.self, forKey: .lastPositionLogits).file
        }

        public var testDescription: String { name }
    }

    public struct RoundTrip: Decodable, Sendable, CustomTestStringConvertible {
        public var text: String?
        public var ids: [Int]
        public var detokenized: String

        public var testDescription: String { text.map { "text \($0.debugDescription)" } ?? "ids \(ids)" }
    }

    public static let expected: Expected = {
        let data = try! Data(contentsOf: root.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()

    public static var cases: [Case] { expected.cases }

    public static let configuration: ModelConfiguration = try! ModelConfiguration.load(
        from: checkpointDirectory.appendingPathComponent("config.json"))

    public static let tokenizer: IcetkTokenizer = try! IcetkTokenizer(
        configuration: configuration.tokenizer, directory: checkpointDirectory)

    /// The official logits of a case at its last context position.
    public static func referenceLogits(_ c: Case) -> [Float] {
        let data = try! Data(contentsOf: root.appendingPathComponent(c.lastPositionLogits))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// Model and tokenizer of the `mp1` or `mp2` checkpoint, on one rank.
    public static func load(_ variant: String) throws -> (GLMModel, IcetkTokenizer) {
        let directory = root.appendingPathComponent(variant)
        let configuration = try ModelConfiguration.load(from: directory.appendingPathComponent("config.json"))
        let tokenizer = try IcetkTokenizer(configuration: configuration.tokenizer, directory: directory)
        let weights = try GLMWeights.load(from: ShardedCheckpoint(url: directory), configuration: configuration)
        return (GLMModel(configuration: configuration, weights: weights), tokenizer)
    }
}
