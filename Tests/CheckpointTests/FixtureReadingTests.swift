import Foundation
import Testing

@testable import Checkpoint

/// Reading the official torch-written fixture files, checked against Python's zipfile + pickle + numpy.
@Suite struct FixtureReadingTests {
    @Test func directoryListsShards() throws {
        let mp1 = try CheckpointDirectory(url: Support.mp1)
        #expect(mp1.iteration == 49300)
        #expect(mp1.shardCount == 1)
        let mp2 = try CheckpointDirectory(url: Support.mp2)
        #expect(mp2.shardCount == 2)
        #expect(mp2.shardURLs.map(\.lastPathComponent) == ["mp_rank_00_model_states.pt", "mp_rank_01_model_states.pt"])
    }

    @Test func keysAndShapesMatchTheSpec() throws {
        let file = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        #expect(file.prefix == "mp_rank_00_model_states")
        #expect(file.names == TinyModel.keys.map(\.name))
        for (name, shape, _) in TinyModel.keys {
            let tensor = try file.tensor(named: name)
            #expect(tensor.shape == shape, "\(name)")
            #expect(tensor.dtype == .float16, "\(name)")
            #expect(tensor.isContiguous, "\(name)")
        }
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        #expect(sharded.keys() == TinyModel.keys.map(\.name))
    }

    @Test(arguments: [(1, 0), (2, 0), (2, 1)])
    func valuesMatchPythonReader(modelParallel: Int, rank: Int) throws {
        let path = Support.shardPath(modelParallel == 1 ? Support.mp1 : Support.mp2, rank)
        let file = try TorchCheckpointFile(path: path)
        let reference = try Support.pythonTensors(path)
        #expect(file.names == reference.keys)
        for name in reference.keys {
            let values = try file.float16(name)
            #expect(values.bytes == reference.bytes[name], "\(name)")
        }
        // A value known from the fixture, so the test fails if both readers went wrong the same way.
        let layerNorm = try file.float32("transformer.layers.0.input_layernorm.weight")
        #expect(layerNorm.first == 1.07421875)
    }

    @Test func storageBytesAndConversions() throws {
        let file = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        let name = "transformer.layers.0.attention.query_key_value.weight"
        let halves = try file.float16(name)
        let floats = try file.float32(name)
        #expect(floats == halves.map(Float.init))
        let raw = try file.withStorageBytes(of: name) { Data($0) }
        #expect(raw == halves.bytes)
        // Every entry's CRC matches: the mapping hands out the right bytes.
        for entry in file.archive.entries { try file.archive.verifyChecksum(of: entry.name) }
        #expect(throws: CheckpointError.self) { try file.int8(name) }
    }
}
