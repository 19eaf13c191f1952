import Foundation
import Partitioning
import TestSupport
import Testing

@testable import Checkpoint

/// A Hugging Face release folder (`pytorch_model.bin.index.json` + `pytorch_model-0000N-of-0000M.bin`) read as it
/// is published, against Python's own zip and pickle readers (reference_reader.py).
@Suite struct ReleaseCheckpointTests {
    static func release() throws -> URL { try ChatGLMFixture.chatGLM6B.get().directory }

    @Test func everyTensorReadsAsPythonReadsIt() throws {
        let release = try ReleaseCheckpoint(directory: Self.release())
        #expect(release.files.count == 4)
        var python: [String: Data] = [:]
        for file in release.files { python.merge(try Support.pythonTensors(file.path).bytes) { $1 } }
        #expect(Set(release.keys) == Set(python.keys))
        for key in release.keys {
            let shape = try release.file(holding: key).tensor(named: key).shape
            let tensor = try release.tensor(key, globalShape: shape, layout: .replicated)
            #expect(tensor.values.withUnsafeBytes { Data($0) } == python[key], "\(key)")
        }
    }

    /// Rows and columns of a partition are the rows and columns of the whole tensor.
    @Test(arguments: [1, 2, 4])
    func partitionsAreSlicesOfTheWholeTensor(count: Int) throws {
        let release = try ReleaseCheckpoint(directory: Self.release())
        for (key, layout) in [
            ("transformer.layers.1.attention.query_key_value.weight", ShardLayout.rows),
            ("transformer.layers.1.attention.dense.weight", .columns),
            ("transformer.layers.2.mlp.dense_h_to_4h.weight", .rowsGLU),
            ("transformer.layers.0.mlp.dense_4h_to_h.bias", .columns),
        ] {
            let shape = try release.file(holding: key).tensor(named: key).shape
            let whole = try release.tensor(key, globalShape: shape, layout: .replicated).values
            let columns = shape.count == 2 ? shape[1] : 1
            for index in 0..<count {
                let part = try release.tensor(
                    key, globalShape: shape, layout: layout, partition: Partition(index: index, count: count))
                var expected: [Float16] = []
                switch layout {
                case .rows:
                    let rows = shape[0] / count
                    expected = Array(whole[(index * rows * columns)..<((index + 1) * rows * columns)])
                case .rowsGLU:
                    let half = shape[0] / 2
                    let rows = half / count
                    for start in [index * rows, half + index * rows] {
                        expected += whole[(start * columns)..<((start + rows) * columns)]
                    }
                default:
                    let width = (shape.count == 2 ? shape[1] : shape[0]) / count
                    for row in 0..<(shape.count == 2 ? shape[0] : 1) {
                        let start = row * (shape.count == 2 ? shape[1] : 0) + index * width
                        expected += whole[start..<(start + width)]
                    }
                }
                #expect(part.values == expected, "\(key) \(index)/\(count)")
            }
        }
    }

    /// A copy of the release whose index `edit` rewrites.
    static func releaseWithIndex(_ edit: (inout String) -> Void) throws -> URL {
        let folder = try Support.temporaryFolder().appendingPathComponent("release")
        try FileManager.default.copyItem(at: Self.release(), to: folder)
        let index = folder.appendingPathComponent(ReleaseCheckpoint.indexName)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: index.path)
        var text = try String(contentsOf: index, encoding: .utf8)
        edit(&text)
        try text.write(to: index, atomically: false, encoding: .utf8)
        return folder
    }

    @Test(arguments: [
        ("../outside.bin", "must name a file in the release folder"),
        ("pytorch_model-00009-of-00004.bin", "not a regular file"),
        ("", "must name a file in the release folder"),
    ])
    func indexNamingUnusableFilesIsRefused(name: String, message: String) throws {
        let folder = try Self.releaseWithIndex {
            $0 = $0.replacingOccurrences(
                of: "\"lm_head.weight\": \"pytorch_model-00004-of-00004.bin\"", with: "\"lm_head.weight\": \"\(name)\"")
        }
        defer { Support.cleanUp(folder.deletingLastPathComponent()) }
        let error = Support.error { _ = try ReleaseCheckpoint(directory: folder) }
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    /// A folder with both a `pytorch_model.bin` and an index is read as transformers' `from_pretrained` reads it:
    /// the single file. It used to take the index's files, so the official code and GLMCluster loaded other weights.
    @Test func aSingleFileBesideAnIndexIsTheRelease() throws {
        let folder = try Self.releaseWithIndex { _ in }
        defer { Support.cleanUp(folder.deletingLastPathComponent()) }
        let tensor = HalfTensor(shape: [2], values: [1, 2])
        try TorchCheckpointWriter.write(
            [("only.weight", tensor)], to: folder.appendingPathComponent("pytorch_model.bin"))
        let release = try ReleaseCheckpoint(directory: folder)
        #expect(release.files.map(\.lastPathComponent) == ["pytorch_model.bin"] && release.keys == ["only.weight"])
    }

    @Test func malformedIndexIsRefused() throws {
        let folder = try Self.releaseWithIndex { $0 = "{\"metadata\": {}}" }
        defer { Support.cleanUp(folder.deletingLastPathComponent()) }
        let error = Support.error { _ = try ReleaseCheckpoint(directory: folder) }
        #expect(error?.description.contains("weight_map") == true, "\(String(describing: error))")
        let empty = try Support.temporaryFolder()
        defer { Support.cleanUp(empty) }
        let missing = Support.error { _ = try ReleaseCheckpoint(directory: empty) }
        #expect(missing?.description.contains("not a PyTorch release") == true, "\(String(describing: missing))")
    }
}
