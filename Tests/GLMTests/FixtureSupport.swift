import Checkpoint
import Configuration
import Foundation
import GLM
import ModelLoading
import Partitioning
import Testing
import Tokenization

/// Paths and loaders for the official test vectors in Tests/Fixtures/glm-tiny-icetk.
enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/glm-tiny-icetk")

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var raw_text: String
        var input_ids: [Int]
        var mask_position: Int
        var use_gmask: Bool
        var expected_generated_ids: [Int]
        var expected_answer_text: String
        var expected_blank_text: String
        var last_position_logits: Logits
        struct Logits: Decodable, Sendable { var file: String }
        var testDescription: String { name }
    }

    struct Expected: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        let data = try! Data(contentsOf: root.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data).cases
    }()

    static func referenceLogits(_ c: Case) -> [Float] {
        let data = try! Data(contentsOf: root.appendingPathComponent(c.last_position_logits.file))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
    }

    /// Model, tokenizer and configuration of the `mp1` or `mp2` checkpoint, loaded once per process.
    static func load(_ variant: String) throws -> (GLMModel, IcetkTokenizer) {
        let directory = root.appendingPathComponent(variant)
        let configuration = try ModelConfiguration.load(from: directory.appendingPathComponent("config.json"))
        let tokenizer = try IcetkTokenizer(configuration: configuration.tokenizer, directory: directory)
        let weights = try GLMWeights.load(from: ShardedCheckpoint(url: directory), configuration: configuration)
        return (GLMModel(configuration: configuration, weights: weights), tokenizer)
    }
}
