import Foundation
import Testing

@testable import Checkpoint

/// The writer's files read back identically with this reader and with Python's zipfile + pickle.
@Suite struct WriterTests {
    static func randomTensors(seed: UInt64) -> [(String, HalfTensor)] {
        var generator = SplitMix(state: seed)
        let shapes: [(String, [Int])] = [
            ("transformer.word_embeddings.weight", [40, 8]), ("transformer.final_layernorm.bias", [8]),
            ("a.scalar", []), ("a.rank3", [2, 3, 5]), ("a.rank4", [2, 1, 3, 2]), ("a.empty", [0, 4]),
            ("a.big", [300, 70]),
        ]
        return shapes.map { name, shape in
            let values = (0..<shape.reduce(1, *)).map { _ in Float16(Float(generator.next() % 20001) / 1000 - 10) }
            return (name, HalfTensor(shape: shape, values: values))
        }
    }

    @Test(arguments: [false, true])
    func roundTrip(forceZip64: Bool) throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("model.pt")
        let tensors = Self.randomTensors(seed: forceZip64 ? 7 : 3)
        try TorchCheckpointWriter.write(tensors, to: url, forceZip64: forceZip64)

        let file = try TorchCheckpointFile(path: url.path)
        #expect(file.prefix == "archive")
        #expect(file.names == tensors.map(\.0))
        for entry in file.archive.entries where entry.name.hasPrefix("archive/data/") {
            #expect(entry.dataOffset % 64 == 0, "\(entry.name) at \(entry.dataOffset)")
            try file.archive.verifyChecksum(of: entry.name)
        }
        let reference = try Support.pythonTensors(url.path)
        #expect(reference.keys == tensors.map(\.0))
        for (name, tensor) in tensors {
            #expect(try file.tensor(named: name).shape == tensor.shape)
            #expect(try file.float16(name) == tensor.values, "\(name)")
            #expect(reference.bytes[name] == tensor.values.bytes, "\(name) via Python")
        }
    }

    @Test func pythonSeesTheTorchLayout() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        let url = folder.appendingPathComponent("model.pt")
        try TorchCheckpointWriter.write(Self.randomTensors(seed: 1), to: url)
        let dump =
            try JSONSerialization.jsonObject(with: Support.python(["dump", url.path])) as! [String: [String: Any]]
        let rank3 = try #require(dump["a.rank3"])
        #expect(rank3["dtype"] as? String == "float16")
        #expect(rank3["stride"] as? [Int] == [15, 5, 1])
        #expect(rank3["offset"] as? Int == 0)
    }

    @Test func directoryRoundTrip() throws {
        let folder = try Support.temporaryFolder()
        defer { Support.cleanUp(folder) }
        // Re-shard the MP=1 fixture into 4 files and read it back merged.
        let source = try ShardedCheckpoint(url: Support.mp1)
        var shards: [[(String, HalfTensor)]] = []
        for rank in 0..<4 {
            shards.append(
                try TinyModel.keys.map { name, shape, layout in
                    (
                        name,
                        try source.tensor(
                            name, globalShape: shape, layout: layout, partition: .init(index: rank, count: 4))
                    )
                })
        }
        try TorchCheckpointWriter.writeCheckpointDirectory(shards: shards, to: folder, iteration: 1234)
        let written = try ShardedCheckpoint(url: folder)
        #expect(written.directory.iteration == 1234)
        #expect(written.shardCount == 4)
        #expect(written.keys() == TinyModel.keys.map(\.name))
        let whole = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        for (name, shape, layout) in TinyModel.keys {
            let merged = try written.tensor(name, globalShape: shape, layout: layout)
            #expect(merged.values.bytes == (try whole.float16(name)).bytes, "\(name)")
            let half = try written.tensor(
                name, globalShape: shape, layout: layout, partition: .init(index: 1, count: 2))
            let expected = ReferenceSplit.partition(
                try whole.float16(name), shape: shape, layout: layout, index: 1, count: 2)
            #expect(half.values.bytes == expected.bytes, "\(name)")
        }
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
