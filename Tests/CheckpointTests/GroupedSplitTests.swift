import Foundation
import Partitioning
import TestSupport
import Testing

@testable import Checkpoint

/// Grouped multi-query attention's fused QKV (ChatGLM2's `query_key_value`: 4 query heads, 2 key/value groups of
/// 16 rows each in the tiny release) split for 1, 2 and 4 ranks against the naive element-by-element reference:
/// each rank's query heads, then the key and value rows of the groups those heads read.
@Suite struct GroupedSplitTests {
    static let release = try! ReleaseCheckpoint(
        directory: ChatGLMFixture.chatGLM2.get().directory)
    static let layout = ShardLayout.groupedQueryKeyValue(heads: 4, groups: 2)

    @Test(arguments: [1, 2, 4]) func releaseTensorsSplitAsTheReference(partitions: Int) throws {
        for (key, shape) in [
            ("transformer.encoder.layers.0.self_attention.query_key_value.weight", [128, 64]),
            ("transformer.encoder.layers.2.self_attention.query_key_value.bias", [128]),
        ] {
            let whole = try Self.release.tensor(key, globalShape: shape, layout: .replicated)
            for index in 0..<partitions {
                let part = try Self.release.tensor(
                    key, globalShape: shape, layout: Self.layout, partition: Partition(index: index, count: partitions))
                let expected = ReferenceSplit.partition(
                    whole.values, shape: shape, layout: Self.layout, index: index, count: partitions)
                #expect(part.values.bytes == expected.bytes, "\(key) \(index)/\(partitions)")
                #expect(part.shape.reduce(1, *) == part.values.count)
            }
        }
    }

    /// Eight ranks share 2 groups: ranks 0-3 hold group 0, ranks 4-7 group 1, each its own query head.
    @Test func moreRanksThanGroupsShareAGroup() throws {
        let layout = ShardLayout.groupedQueryKeyValue(heads: 32, groups: 2)
        for index in 0..<8 {
            let groups = ShardLayout.groups(of: Partition(index: index, count: 8), heads: 32, groups: 2)
            #expect(groups == (index / 4)..<(index / 4 + 1))
            let spec = WeightSpec(key: "qkv", shape: [(32 + 4) * 128, 4096], layout: layout)
            #expect(spec.shape(of: Partition(index: index, count: 8)) == [(4 + 2) * 128, 4096])
        }
        // Degrees that neither divide nor are divided by the group count are refused by name.
        let spec = WeightSpec(
            key: "qkv", shape: [(12 + 6) * 8, 16], layout: .groupedQueryKeyValue(heads: 12, groups: 3))
        #expect(throws: PartitionError.self) { try spec.boxes(of: Partition(index: 0, count: 2)) }
    }
}
