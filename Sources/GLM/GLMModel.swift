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
    private let reduction: TensorParallelReduction
    private let positions: RotaryPositions

    /// Heads, FFN columns and vocabulary rows this rank holds.
    public let localHeads: Int
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
        positions = RotaryPositions(scheme: architecture.positions, headDimension: configuration.headDimension)
        localHeads = configuration.numAttentionHeads / partition.count
        localInner = configuration.innerHiddenSize / partition.count
        let rows = configuration.vocabSize / partition.count
        vocabRange = (partition.index * rows)..<((partition.index + 1) * rows)
    }

    /// How `makeCache` stores keys and values (`.fp32` by default). Set before making caches.
    public var cacheFormat: KVCache.Format = .fp32

    /// A cache able to hold `capacity` tokens for this model, in `cacheFormat`.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(
            layers: configuration.numLayers, localHeads: localHeads, headDimension: configuration.headDimension,
            capacity: capacity, format: cacheFormat)
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
                        input.baseAddress!, rows: count, weight: weights.wordEmbeddings, bias: nil,
                        into: out.baseAddress!)
                }
            }
        }
        if count == 1 { return [logits] }
        return (0..<count).map { Array(logits[($0 * vocabulary)..<(($0 + 1) * vocabulary)]) }
    }

    /// Passes of more rows than this (prefills) hand their freed activation pages back to the kernel afterwards.
    static let heapReleaseRows = 64

    /// Query rows up to which attention skips BLAS (`VectorKernels.attentionHead` per head, heads in parallel);
    /// longer blocks run two sgemm calls per head.
    static let directAttentionRows = 8

    /// `output = alpha * scaled + output` element-wise, in place (the DeepNorm residuals).
    private static func residual(_ alpha: Float, _ scaled: [Float], into output: inout [Float]) {
        let count = scaled.count
        scaled.withUnsafeBufferPointer { a in
            output.withUnsafeMutableBufferPointer { y in
                VectorKernels.scaledAdd(alpha, a.baseAddress!, y.baseAddress!, into: y.baseAddress!, count: count)
            }
        }
    }

    /// LayerNorm of `rows` rows of width h with the model's epsilon.
    private func normalise(_ input: [Float], rows n: Int, weight: [Float], bias: [Float], into output: inout [Float]) {
        let h = configuration.hiddenSize
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                layerNorm(
                    x.baseAddress!, rows: n, width: h, weight: weight, bias: bias,
                    epsilon: configuration.layernormEpsilon, into: y.baseAddress!)
            }
        }
    }

    /// Vocab-parallel embedding lookup: rows outside this rank's range are zero, then summed across ranks.
    private func embed(_ tokens: [Int]) -> [Float] {
        let h = configuration.hiddenSize
        var x = [Float](repeating: 0, count: tokens.count * h)
        x.withUnsafeMutableBufferPointer { out in
            for (i, token) in tokens.enumerated() where vocabRange.contains(token) {
                weights.wordEmbeddings.widenRows(
                    token - vocabRange.lowerBound, count: 1, into: out.baseAddress! + i * h)
            }
            if partition.count > 1 { profile.measure(.allreduce) { reduction.sum(out) } }
        }
        return x
    }

    /// `0..<rows` in near-equal consecutive ranges of at most `prefillChunkRows` rows (a prompt just over the limit
    /// gives two halves, not a 1-row tail for the GEMV kernels).
    func rowChunks(_ rows: Int) -> [Range<Int>] {
        let count = max(1, (rows + prefillChunkRows - 1) / prefillChunkRows)
        return (0..<count).map { (($0 * rows) / count)..<((($0 + 1) * rows) / count) }
    }

    /// Self-attention of one layer for the batch's new rows; writes this rank's partial output `[rows, h]`, to be
    /// reduced with `finishRowParallel` once the buffers here are freed (the allreduce needs its own). `output`
    /// holds the queries until the dense product overwrites it.
    private func attend(
        layer: Int, weights w: LayerWeights, input: [Float], batch: BatchRows, chunks: [Range<Int>],
        tables: [(cos: [Float], sin: [Float])], into output: UnsafeMutableBufferPointer<Float>
    ) {
        let (h, d) = (configuration.hiddenSize, configuration.headDimension)
        let n = batch.rows
        let localWidth = localHeads * d
        let scale = 1 / Float(d).squareRoot()
        var qkv = [Float](repeating: 0, count: chunks.map(\.count).max()! * 3 * localWidth)
        // The context `[rows, localWidth]`: the front of `qkv` (dead once split) when one chunk holds every row,
        // else a buffer of its own.
        var chunkedContext = [Float](repeating: 0, count: chunks.count > 1 ? n * localWidth : 0)
        let heads = localHeads
        let segments = batch.segments
        // Scores: every (direct segment, head) pair gets its own `[rows_s, total_s]` block (they run in parallel);
        // longer segments reuse one block of the largest such size, one head at a time.
        let direct = segments.indices.filter { segments[$0].tokens.count <= Self.directAttentionRows }
        var scoreOffsets = [Int](repeating: 0, count: segments.count)
        var directScores = 0
        for s in direct {
            scoreOffsets[s] = directScores
            directScores += heads * segments[s].tokens.count * batch.totals[s]
        }
        let longSegments = segments.indices.filter { segments[$0].tokens.count > Self.directAttentionRows }
        let longScores = longSegments.map { segments[$0].tokens.count * batch.totals[$0] }.max() ?? 0
        var scores = [Float](repeating: 0, count: directScores + longScores)
        // Rotated queries, head-major per segment (segment s, head h rows start at
        // `(rowOffsets[s] * localHeads + h * rows_s) * d`), in `output`: its `[rows, h]` is free until the dense
        // product, which runs after the last query is read.
        let q = output.baseAddress!
        qkv.withUnsafeMutableBufferPointer { qkv in
            scores.withUnsafeMutableBufferPointer { s in
                chunkedContext.withUnsafeMutableBufferPointer { chunkedContext in
                    let qkv = qkv.baseAddress!
                    let s = s.baseAddress!
                    let ctx = chunks.count > 1 ? chunkedContext.baseAddress! : qkv
                    for chunk in chunks {
                        input.withUnsafeBufferPointer { a in
                            profile.measure(.matmul) {
                                linear(
                                    a.baseAddress! + chunk.lowerBound * h, rows: chunk.count,
                                    weight: w.queryKeyValue, bias: w.queryKeyValueBias, into: qkv,
                                    precision: precision)
                            }
                        }
                        profile.measure(.attention) {
                            split(qkv, rows: chunk, layer: layer, batch: batch, tables: tables, queries: q)
                        }
                    }
                    profile.measure(.attention) {
                        // Few query rows: dot products and axpys over the cache beat n-row sgemm calls; every
                        // (segment, head) pair in parallel.
                        ComputeThreads.parallelFor(direct.count * heads) { range in
                            for task in range {
                                let (index, head) = (direct[task / heads], task % heads)
                                let segment = segments[index]
                                let (first, rows, total) = (
                                    batch.rowOffsets[index], segment.tokens.count, batch.totals[index]
                                )
                                segment.cache.attendDirectly(
                                    layer: layer, head: head, queries: q + (first * heads + head * rows) * d,
                                    rows: rows, total: total, scale: scale, firstQuery: batch.starts[index],
                                    bidirectionalPrefix: segment.layout.bidirectionalPrefix,
                                    scores: s + scoreOffsets[index] + head * rows * total,
                                    into: ctx + first * localWidth + head * d, outStride: localWidth)
                            }
                        }
                        let block = s + directScores
                        // fp16 caches are widened one head at a time for sgemm.
                        let widenedCount =
                            longSegments.filter { segments[$0].cache.format != .fp32 }
                            .map { 2 * batch.totals[$0] * d }.max() ?? 0
                        let widened = UnsafeMutablePointer<Float>.allocate(capacity: widenedCount)
                        defer { widened.deallocate() }
                        for index in longSegments {
                            let segment = segments[index]
                            let (first, rows, total) = (
                                batch.rowOffsets[index], segment.tokens.count, batch.totals[index]
                            )
                            for head in 0..<heads {
                                let cached = segment.cache.matrices(
                                    layer: layer, head: head, tokens: total, scratch: widened)
                                BLAS.sgemm(
                                    m: rows, n: total, k: d, alpha: scale,
                                    a: q + (first * heads + head * rows) * d, lda: d,
                                    b: cached.keys, ldb: d, transposeB: true, c: block, ldc: total)
                                VectorKernels.maskedSoftmax(
                                    block, rows: rows, columns: total, stride: total,
                                    firstQuery: batch.starts[index],
                                    bidirectionalPrefix: segment.layout.bidirectionalPrefix)
                                BLAS.sgemm(
                                    m: rows, n: d, k: total, a: block, lda: total,
                                    b: cached.values, ldb: d, transposeB: false,
                                    c: ctx + first * localWidth + head * d, ldc: localWidth)
                            }
                        }
                    }
                    profile.measure(.matmul) {
                        linear(
                            ctx, rows: n, weight: w.attentionDense, bias: nil, into: output.baseAddress!,
                            precision: precision)
                    }
                }
            }
        }
    }

    /// Splits the QKV product of the batch rows `rows` (`qkv` holds them from its first row, per-head interleaved
    /// `[q | k | v]`), rotates q and k, writes the queries head-major into `queries` and appends k and v to each
    /// segment's cache. Each (segment, head) pair writes its own query rows and cache rows, in parallel.
    private func split(
        _ qkv: UnsafeMutablePointer<Float>, rows chunk: Range<Int>, layer: Int, batch: BatchRows,
        tables: [(cos: [Float], sin: [Float])], queries q: UnsafeMutablePointer<Float>
    ) {
        let d = configuration.headDimension
        let (heads, localWidth, segments) = (localHeads, localHeads * d, batch.segments)
        let positions = self.positions
        ComputeThreads.parallelFor(segments.count * heads) { range in
            for task in range {
                let (index, head) = (task / heads, task % heads)
                let (first, rows) = (batch.rowOffsets[index], segments[index].tokens.count)
                let (start, cache) = (batch.starts[index], segments[index].cache)
                let (lower, upper) = (max(first, chunk.lowerBound), min(first + rows, chunk.upperBound))
                guard lower < upper else { continue }
                for row in lower..<upper {
                    let r = row - first
                    let source = qkv + (row - chunk.lowerBound) * 3 * localWidth + head * 3 * d
                    let table = tables[row]
                    let query = q + (first * heads + head * rows + r) * d
                    query.update(from: source, count: d)
                    positions.rotate(query, cos: table.cos, sin: table.sin)
                    // The key is rotated where it lies in `qkv` (dead once split), then cached with the value.
                    positions.rotate(source + d, cos: table.cos, sin: table.sin)
                    cache.store(layer: layer, head: head, token: start + r, key: source + d, value: source + 2 * d)
                }
            }
        }
    }

    /// The MLP's partial output before `finishRowParallel` (reduction, then `+ b2`), over the pass's row chunks
    /// (`rowChunks`): GeGLU `(u1 * gelu(u2)) W2^T` where `u = m W1^T + b1` is this rank's `[linear | gelu]` halves,
    /// or the ungated `gelu_tanh(u) W2^T`.
    private func feedForward(
        weights w: LayerWeights, input: [Float], chunks: [Range<Int>], into output: UnsafeMutableBufferPointer<Float>
    ) {
        let (h, f) = (configuration.hiddenSize, localInner)
        let kind = architecture.feedForward
        var u = [Float](repeating: 0, count: chunks.map(\.count).max()! * kind.projectionFactor * f)
        input.withUnsafeBufferPointer { m in
            u.withUnsafeMutableBufferPointer { u in
                for chunk in chunks {
                    profile.measure(.matmul) {
                        linear(
                            m.baseAddress! + chunk.lowerBound * h, rows: chunk.count, weight: w.denseHTo4H,
                            bias: w.denseHTo4HBias, into: u.baseAddress!, precision: precision)
                    }
                    // The activated `[rows, f]` takes the front of `u` (no second buffer).
                    let gated = u.baseAddress!
                    switch kind {
                    case .gegluErf: VectorKernels.gegluInPlace(gated, rows: chunk.count, halfWidth: f)
                    case .geluTanh: VectorKernels.geluTanh(gated, into: gated, count: chunk.count * f)
                    }
                    profile.measure(.matmul) {
                        linear(
                            gated, rows: chunk.count, weight: w.dense4HToH, bias: nil,
                            into: output.baseAddress! + chunk.lowerBound * h, precision: precision)
                    }
                }
            }
        }
    }

    /// Row-parallel epilogue: sum partial products across ranks, then add the replicated bias once.
    private func finishRowParallel(_ output: UnsafeMutableBufferPointer<Float>, rows n: Int, bias: [Float]) {
        let h = configuration.hiddenSize
        if partition.count > 1 { profile.measure(.allreduce) { reduction.sum(output) } }
        bias.withUnsafeBufferPointer { b in
            VectorKernels.addBias(b.baseAddress!, to: output.baseAddress!, rows: n, width: h)
        }
    }
}
