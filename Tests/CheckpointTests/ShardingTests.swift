import Foundation
import Partitioning
import Testing

@testable import Checkpoint

/// Merging and re-splitting the MP=2 and MP=1 fixtures (both written by torch from the same weights).
@Suite struct ShardingTests {
    @Test func mergingTwoShardsEqualsTheSingleShard() throws {
        let whole = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        for (name, shape, layout) in TinyModel.keys {
            let merged = try sharded.tensor(name, globalShape: shape, layout: layout)
            #expect(merged.shape == shape, "\(name)")
            #expect(merged.values.bytes == (try whole.float16(name)).bytes, "\(name)")
        }
    }

    /// The torch-written MP=2 shards are the spec's split of the MP=1 tensors; the naive reference agrees.
    @Test func referenceSplitReproducesTorchShards() throws {
        let whole = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        for rank in 0..<2 {
            let shard = try TorchCheckpointFile(path: Support.shardPath(Support.mp2, rank))
            for (name, shape, layout) in TinyModel.keys {
                let expected = ReferenceSplit.partition(
                    try whole.float16(name), shape: shape, layout: layout, index: rank, count: 2)
                #expect(try shard.float16(name).bytes == expected.bytes, "\(name) rank \(rank)")
            }
        }
    }

    /// Naive concatenation along dim 0 is NOT the MP=1 `dense_h_to_4h`: guards against a layout mix-up.
    @Test func gluRowsAreNotPlainConcatenation() throws {
        let name = "transformer.layers.0.mlp.dense_h_to_4h.weight"
        let whole = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0)).float16(name)
        let shard0 = try TorchCheckpointFile(path: Support.shardPath(Support.mp2, 0)).float16(name)
        let shard1 = try TorchCheckpointFile(path: Support.shardPath(Support.mp2, 1)).float16(name)
        #expect((shard0 + shard1).bytes != whole.bytes)
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        let asRows = try sharded.tensor(name, globalShape: [192, 32], layout: .rows)
        #expect(asRows.values.bytes != whole.bytes)
    }

    @Test(arguments: [1, 2, 4])
    func splittingMatchesReference(partitions: Int) throws {
        let whole = try TorchCheckpointFile(path: Support.shardPath(Support.mp1, 0))
        let fromOne = try ShardedCheckpoint(url: Support.mp1)
        let fromTwo = try ShardedCheckpoint(url: Support.mp2)
        for (name, shape, layout) in TinyModel.keys {
            let full = try whole.float16(name)
            for index in 0..<partitions {
                let partition = Partition(index: index, count: partitions)
                let expected = ReferenceSplit.partition(
                    full, shape: shape, layout: layout, index: index, count: partitions)
                let a = try fromOne.tensor(name, globalShape: shape, layout: layout, partition: partition)
                let b = try fromTwo.tensor(name, globalShape: shape, layout: layout, partition: partition)
                #expect(a.values.bytes == expected.bytes, "\(name) \(partition) from MP=1")
                #expect(b.values.bytes == expected.bytes, "\(name) \(partition) from MP=2")
                #expect(a.shape.reduce(1, *) == a.values.count)
            }
        }
    }

    /// Splitting MP=1 in two gives exactly the torch-written MP=2 shard files.
    @Test func splittingIntoTwoEqualsTorchShards() throws {
        let fromOne = try ShardedCheckpoint(url: Support.mp1)
        for rank in 0..<2 {
            let shard = try TorchCheckpointFile(path: Support.shardPath(Support.mp2, rank))
            for (name, shape, layout) in TinyModel.keys {
                let part = try fromOne.tensor(
                    name, globalShape: shape, layout: layout, partition: .init(index: rank, count: 2))
                #expect(part.shape == (try shard.tensor(named: name)).shape, "\(name)")
                #expect(part.values.bytes == (try shard.float16(name)).bytes, "\(name)")
            }
        }
    }

    @Test func indivisiblePartitionIsAnError() throws {
        let sharded = try ShardedCheckpoint(url: Support.mp2)
        let error = Support.error {
            _ = try sharded.tensor(
                "transformer.layers.0.attention.dense.weight", globalShape: [32, 32], layout: .columns,
                partition: .init(index: 0, count: 3))
        }
        #expect(error?.description.contains("transformer.layers.0.attention.dense.weight") == true)
    }
}
