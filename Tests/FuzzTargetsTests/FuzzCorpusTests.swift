import Checkpoint
import Configuration
import Foundation
import FuzzTargets
import Testing
import TestSupport

/// The committed fuzz inputs (Fuzz/): every seed and every past finding goes through its target in-process, as
/// libFuzzer would run it, so a finding that comes back crashes this test. The seeds must also be what they claim
/// to be (valid inputs that reach deep into the readers), checked against values Python wrote into them.
@Suite struct FuzzCorpusTests {
    static let fuzzFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")
    static let context = Result { try FuzzContext(model: Fixture.checkpointDirectory) }

    static func inputs(_ kind: String, _ target: FuzzTarget) throws -> [URL] {
        let folder = fuzzFolder.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsAndFindingsRunWithoutCrashing(target: FuzzTarget) throws {
        let context = try Self.context.get()
        let findings = (try? Self.inputs("regressions", target)) ?? []
        let files = try Self.inputs("corpus", target) + findings
        #expect(files.count >= 2, "the \(target) corpus is missing")
        for file in files {
            let bytes = try Data(contentsOf: file)
            bytes.withUnsafeBytes { target.run($0, context: context) }
        }
    }

    /// The seeds open, and hold what make_seeds.py wrote: the strided view is the transpose of its storage, the
    /// offset view starts 4 elements in, the int8 and fp32 tensors keep their values.
    @Test(arguments: ["small.pt", "small-zip64.pt"])
    func checkpointSeedsAreValidCheckpoints(name: String) throws {
        let file = try TorchCheckpointFile(
            path: Self.fuzzFolder.appendingPathComponent("corpus/checkpoint").appendingPathComponent(name).path)
        #expect(file.tensors.count == 5)
        let embedding = try file.float16("transformer.word_embeddings.weight")
        #expect(embedding == (0..<24).map { Float16(0.25 * Float($0)) })
        let transposed = try file.float16("transformer.layers.0.attention.dense.weight")
        let expected: [Float16] = (0..<16).map { (index: Int) -> Float16 in
            let row = index / 4
            let column = index % 4
            return Float16(1 + 0.25 * Float(row + 4 * column))
        }
        #expect(transposed == expected)
        #expect(try file.float16("transformer.layers.0.input_layernorm.weight") == [2, 2.25, 2.5, 2.75])
        #expect(try file.float32("transformer.final_layernorm.bias") == [1, 2, 3, 4])
        #expect(try file.int8("transformer.layers.0.mlp.dense_h_to_4h.weight") == (0..<12).map { Int8($0) })
        for entry in file.archive.entries { try file.archive.verifyChecksum(of: entry.name) }
    }

    /// Every configuration seed is accepted, or is a release of a family this version recognises but does not run.
    @Test func configurationSeedsAreValid() throws {
        for file in try Self.inputs("corpus", .config) {
            do {
                _ = try ModelConfiguration.decode(Data(contentsOf: file), source: file.path)
            } catch ConfigurationError.unsupportedFamily(_, let family) {
                #expect(ModelFamily(rawValue: family) != nil, "\(file.lastPathComponent): \(family)")
            }
        }
    }

    /// Each past finding is now refused with an error (not merely survived).
    @Test func findingsAreRefused() throws {
        for file in try Self.inputs("regressions", .config) {
            #expect(throws: ConfigurationError.self, "\(file.lastPathComponent)") {
                _ = try ModelConfiguration.decode(Data(contentsOf: file), source: file.path)
            }
        }
        for file in try Self.inputs("regressions", .checkpoint) {
            #expect(throws: CheckpointError.self, "\(file.lastPathComponent)") {
                _ = try TorchCheckpointFile(path: file.path)
            }
        }
        for file in try Self.inputs("regressions", .pickle) {
            let bytes = try Data(contentsOf: file)
            #expect(throws: CheckpointError.self, "\(file.lastPathComponent)") {
                _ = try bytes.withUnsafeBytes { try TorchCheckpointFile.tensorViews(pickle: $0, path: file.path) }
            }
        }
    }
}
