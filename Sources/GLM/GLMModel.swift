import Configuration
import Partitioning
import Tensors

/// Sums a buffer element-wise across the tensor-parallel group (MPI allreduce); the identity on one rank.
public protocol TensorParallelReduction: Sendable {
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
}

/// The single-rank reduction: nothing to sum with.
public struct SingleRankReduction: TensorParallelReduction {
    public init() {}
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {}
}

/// The GLM block transformer on this rank's weight shard, computing in fp32: GLM-130B (spec section 2) and the
/// architectures built on its block (`Architecture`: ChatGLM-6B), which decide positions, the MLP and alpha.
///
/// `forward` appends new tokens to a `KVCache` and returns the logits of the last new token over this rank's
/// vocabulary slice. Prefill is one call with the whole context; decoding is one call per generated token.
/// `forward(batch:)` does the same for several sequences in one pass (batched and continuous decoding).
public final class GLMModel: @unchecked Sendable {
    public let configuration: ModelConfiguration
    public let weights: GLMWeights
    public let partition: Partition
    public let architecture: Architecture
    let reduction: TensorParallelReduction
    let positions: RotaryPositions

    /// Heads, FFN columns and vocabulary rows this rank holds.
    public let localHeads: Int
    /// The key/value heads this rank holds and caches: one per local head, or with grouped attention the groups its
    /// query heads use (`keyValueGroups` of them, starting at global group `firstGroup`).
    public let localKeyValueHeads: Int
    let firstGroup: Int
    /// Query heads per key/value head (1 without grouping).
    let headsPerGroup: Int
    public let localInner: Int
    public let vocabRange: Range<Int>

    /// When set, `forward` accumulates its time split (matmul, attention, allreduce) here; nil (the default) times
    /// nothing. Set it between forward passes, never during one.
    public var profile: ForwardProfile?

    /// How matrix products may round activations (`.exact` by default: the official math). Set before forwarding.
    public var precision: MatmulPrecision = .exact

    /// Most rows one QKV or MLP product takes at once. A long prompt's products run over chunks of about this many
    /// rows, so their outputs (the pass's largest buffers: `3 h / TP` and `2 ffn / TP` floats per row) stay small
    /// beside the weights and the KV cache; each chunk reads the weights again (on the widen + sgemm path, widens
    /// them again). Passes of at most this many rows (decoding, batches) are one chunk. Set before forwarding.
    public var prefillChunkRows = 256 {
        didSet { precondition(prefillChunkRows > 0, "prefillChunkRows must be positive") }
    }

    public init(
        configuration: ModelConfiguration, weights: GLMWeights, partition: Partition = .whole,
        reduction: TensorParallelReduction = SingleRankReduction()
    ) {
        self.configuration = configuration
        self.weights = weights
        self.partition = partition
        self.reduction = reduction
        architecture = Architecture.of(configuration)
        positions = RotaryPositions(
            scheme: architecture.positions, headDimension: configuration.headDimension,
            base: configuration.rotaryBase ?? 10000)
        localHeads = configuration.numAttentionHeads / partition.count
        switch architecture.queryKeyValue {
        case .interleavedPerHead:
            (localKeyValueHeads, firstGroup, headsPerGroup) = (localHeads, partition.index * localHeads, 1)
        case .grouped:
            let groups = ShardLayout.groups(
                of: partition, heads: configuration.numAttentionHeads, groups: configuration.keyValueHeads)
            (localKeyValueHeads, firstGroup) = (groups.count, groups.lowerBound)
            headsPerGroup = configuration.numAttentionHeads / configuration.keyValueHeads
        }
        localInner = configuration.innerHiddenSize / partition.count
        let rows = configuration.vocabSize / partition.count
        vocabRange = (partition.index * rows)..<((partition.index + 1) * rows)
    }

    /// How `makeCache` stores keys and values (`.fp32` by default). Set before making caches.
    public var cacheFormat: KVCache.Format = .fp32

    /// A cache able to hold `capacity` tokens for this model, in `cacheFormat`.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(
            layers: configuration.numLayers, localHeads: localKeyValueHeads,
            headDimension: configuration.headDimension, capacity: capacity, format: cacheFormat)
    }

    /// Runs `tokens` (the sequence's tokens from index `cache.count` on) through the model and returns the
    /// last token's logits over `vocabRange`.
    public func forward(tokens: [Int], layout: SequenceLayout, cache: KVCache) -> [Float] {
        forward(batch: [ForwardSegment(tokens: tokens, layout: layout, cache: cache)])[0]
    }

    /// One forward pass over several sequences at once (batched and continuous decoding): each segment brings the
    /// new tokens of one sequence (a whole context to prefill, or one decoded token), its layout and its own cache.
    /// The rows of all segments go through every matrix product together (one weight read for the whole batch,
    /// one allreduce per reduction point); attention runs per segment against its own cache, with its own positions
    /// and mask. Returns each segment's last-token logits over `vocabRange`, in segment order.
    public func forward(batch segments: [ForwardSegment]) -> [[Float]] {
        let h = configuration.hiddenSize
        precondition(!segments.isEmpty, "an empty batch")
        precondition(
            Set(segments.map { ObjectIdentifier($0.cache) }).count == segments.count,
            "two segments of one batch share a KV cache")
        for segment in segments {
            let (start, n) = (segment.cache.count, segment.tokens.count)
            precondition(
                n > 0 && start + n <= segment.cache.capacity,
                "KV cache overflow: \(start)+\(n) > \(segment.cache.capacity)")
        }
        let batch = BatchRows(segments)
        let n = batch.rows
        let chunks = rowChunks(n)  // of the QKV and MLP products, the same in every layer
        let alpha = architecture.residualScale(configuration)
        let profile = self.profile
        let forwardStart = profile == nil ? 0 : ForwardProfile.now()
        defer { profile?.addForward(ForwardProfile.now() &- forwardStart) }

        // Two `[rows, h]` buffers for the whole pass: each sublayer reads only the LayerNorm of its input
        // (DeepNorm: `alpha * LN(x) + f(LN(x))`), so once `normalised` holds LN(x), `x` is free to take the
        // sublayer's output and then the residual sum in place. A long prefill holds 2 activations, not 4.
        var x = embed(segments.flatMap(\.tokens))
        var normalised = [Float](repeating: 0, count: n * h)
        var tables: [(cos: [Float], sin: [Float])] = []
        tables.reserveCapacity(n)
        for segment in segments {
            let start = segment.cache.count
            for r in 0..<segment.tokens.count {
                tables.append(positions.table(layout: segment.layout, index: start + r))
            }
        }

        switch architecture.residual {
        case .deepNorm:
            for (l, w) in weights.layers.enumerated() {
                normalise(x, rows: n, weight: w.inputLayerNormWeight, bias: w.inputLayerNormBias, into: &normalised)
                x.withUnsafeMutableBufferPointer { out in
                    attend(
                        layer: l, weights: w, input: normalised, batch: batch, chunks: chunks, tables: tables,
                        into: out)
                    finishRowParallel(out, rows: n, bias: w.attentionDenseBias)
                }
                // y = alpha * a + Attention(a); m = LN_post(y)
                Self.residual(alpha, normalised, into: &x)
                normalise(
                    x, rows: n, weight: w.postAttentionLayerNormWeight, bias: w.postAttentionLayerNormBias,
                    into: &normalised)
                x.withUnsafeMutableBufferPointer { out in
                    feedForward(weights: w, input: normalised, chunks: chunks, into: out)
                    finishRowParallel(out, rows: n, bias: w.dense4HToHBias)
                }
                // x_{l+1} = alpha * m + MLP(m)
                Self.residual(alpha, normalised, into: &x)
            }
        case .preNorm:
            // The residual stream `x` stays; each sublayer writes its output into `branch`, which is then added.
            var branch = [Float](repeating: 0, count: n * h)
            for (l, w) in weights.layers.enumerated() {
                normalise(x, rows: n, weight: w.inputLayerNormWeight, bias: w.inputLayerNormBias, into: &normalised)
                branch.withUnsafeMutableBufferPointer { out in
                    attend(
                        layer: l, weights: w, input: normalised, batch: batch, chunks: chunks, tables: tables,
                        into: out)
                    finishRowParallel(out, rows: n, bias: w.attentionDenseBias)
                }
                Self.residual(1, branch, into: &x)
                normalise(
                    x, rows: n, weight: w.postAttentionLayerNormWeight, bias: w.postAttentionLayerNormBias,
                    into: &normalised)
                branch.withUnsafeMutableBufferPointer { out in
                    feedForward(weights: w, input: normalised, chunks: chunks, into: out)
                    finishRowParallel(out, rows: n, bias: w.dense4HToHBias)
                }
                Self.residual(1, branch, into: &x)
            }
        }
        for (segment, start) in zip(segments, batch.starts) { segment.cache.count = start + segment.tokens.count }
        // A long pass's activations are freed by now but stay resident in the heap (glibc keeps blocks below its
        // raised mmap threshold) while decoding fills the rest of the KV cache; handing their pages back keeps the
        // peak near weights plus cache (measured: docs/BENCHMARKS.md, "Memory and start-up").
        if n > Self.heapReleaseRows { FreedHeapPages.release() }

        // Each segment's last row: final LayerNorm, then the logits of all segments in one product.
        let count = segments.count
        var lastRows = [Float](repeating: 0, count: count * h)
        for s in 0..<count {
            let row = batch.rowOffsets[s] + segments[s].tokens.count - 1
            lastRows.replaceSubrange((s * h)..<((s + 1) * h), with: x[(row * h)..<((row + 1) * h)])
        }
        var last = [Float](repeating: 0, count: count * h)
        normalise(
            lastRows, rows: count, weight: weights.finalLayerNormWeight, bias: weights.finalLayerNormBias, into: &last)
        let vocabulary = vocabRange.count
        var logits = [Float](repeating: 0, count: count * vocabulary)
        last.withUnsafeBufferPointer { input in
            logits.withUnsafeMutableBufferPointer { out in
                profile.measure(.matmul) {
                    linear(
                        input.baseAddress!, rows: count, weight: weights.logitsMatrix, bias: nil,
                        into: out.baseAddress!)
                }
            }
        }
        if count == 1 { return [logits] }
        return (0..<count).map { Array(logits[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// Passes of more rows than this (prefills) hand their freed activation pages back to the kernel afterwards.
    static let heapReleaseRows = 64

    /// `0..<rows` in near-equal consecutive ranges of at most `prefillChunkRows` rows (a prompt just over the limit
    /// gives two halves, not a 1-row tail for the GEMV kernels).
    func rowChunks(_ rows: Int) -> [Range<Int>] {
        let count = max(1, (rows + prefillChunkRows - 1) / prefillChunkRows)
        return (0..<count).map { (($0 * rows) / count)..<((($0 + 1) * rows) / count) }
    }
}
