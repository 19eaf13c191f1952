/// How a tensor is split across the model-parallel shards of a checkpoint (spec section 3).
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
}
