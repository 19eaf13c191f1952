/// How a tensor is split across the model-parallel shards of a checkpoint (spec section 3) and across
/// tensor-parallel ranks.
public enum ShardLayout: Sendable, Equatable {
    /// Identical on every shard (LayerNorms, row-parallel biases); shard 0 is read.
    case replicated
    /// Dimension 0 split into contiguous blocks (embeddings, QKV weight and bias).
    case rows
    /// Dimension 0 holds the halves `[x1 ; x2]` of a GLU projection; each shard is `[its x1 block ; its x2 block]`
    /// (`dense_h_to_4h` weight and bias). Concatenating shards plainly would interleave the halves wrongly.
    case rowsGLU
    /// Dimension 1 split into contiguous blocks (dimension 0 for 1-D tensors): `attention.dense`, `dense_4h_to_h`.
    case columns
    /// Dimension 0 holds `heads` query heads, then `groups` key heads, then `groups` value heads, each a block of
    /// rows of one head's width (grouped multi-query attention's fused QKV weight and bias). A part holds its
    /// consecutive query heads and the key and value heads of the groups they use: its share of the groups when
    /// the part count divides them, else the one group its heads belong to (the same group on several parts).
    case groupedQueryKeyValue(heads: Int, groups: Int)
}

extension ShardLayout {
    /// The key/value groups part `partition` holds of `groups` in all, for `heads` query heads (`heads` and
    /// `groups` divisible as `groupedQueryKeyValue` requires).
    public static func groups(of partition: Partition, heads: Int, groups: Int) -> Range<Int> {
        let localHeads = heads / partition.count
        let headsPerGroup = heads / groups
        let first = partition.index * localHeads / headsPerGroup
        let count = max(1, groups / partition.count)
        return first..<first + count
    }
}
