import Checkpoint
import Configuration
import Foundation
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

/// The GLM-130B transformer (spec section 2) on this rank's weight shard, computing in fp32.
///
/// `forward` appends new tokens to a `KVCache` and returns the logits of the last new token over this rank's
/// vocabulary slice. Prefill is one call with the whole context; decoding is one call per generated token.
public final class GLMModel: @unchecked Sendable {
    public let configuration: ModelConfiguration
    public let weights: GLMWeights
    public let partition: Partition
    private let reduction: TensorParallelReduction
    private let rotary: RotaryEmbedding

    /// Heads, FFN columns and vocabulary rows this rank holds.
    public let localHeads: Int
    public let localInner: Int
    public let vocabRange: Range<Int>

    /// When set, `forward` accumulates its time split (matmul, attention, allreduce) here; nil (the default) times
    /// nothing. Set it between forward passes, never during one.
    public var profile: ForwardProfile?

    /// How matrix products may round activations (`.exact` by default: the official math). Set before forwarding.
    public var precision: MatmulPrecision = .exact

    public init(
        configuration: ModelConfiguration, weights: GLMWeights, partition: Partition = .whole,
        reduction: TensorParallelReduction = SingleRankReduction()
    ) {
        self.configuration = configuration
        self.weights = weights
        self.partition = partition
        self.reduction = reduction
        rotary = RotaryEmbedding(headDimension: configuration.headDimension)
        localHeads = configuration.numAttentionHeads / partition.count
        localInner = configuration.innerHiddenSize / partition.count
        let rows = configuration.vocabSize / partition.count
        vocabRange = (partition.index * rows)..<((partition.index + 1) * rows)
    }

    /// A cache able to hold `capacity` tokens for this model.
    public func makeCache(capacity: Int) -> KVCache {
        KVCache(
            layers: configuration.numLayers, localHeads: localHeads, headDimension: configuration.headDimension,
            capacity: capacity)
    }

    /// Runs `tokens` (the sequence's tokens from index `cache.count` on) through the model and returns the
    /// last token's logits over `vocabRange`.
    public func forward(tokens: [Int], layout: SequenceLayout, cache: KVCache) -> [Float] {
        let h = configuration.hiddenSize
        let n = tokens.count
        let start = cache.count
        precondition(n > 0 && start + n <= cache.capacity, "KV cache overflow: \(start)+\(n) > \(cache.capacity)")
        let alpha = configuration.deepNormAlpha
        let profile = self.profile
        let forwardStart = profile == nil ? 0 : ForwardProfile.now()
        defer { profile?.addForward(ForwardProfile.now() &- forwardStart) }

        var x = embed(tokens)
        var normalised = [Float](repeating: 0, count: n * h)
        var attention = [Float](repeating: 0, count: n * h)
        var mlpOutput = [Float](repeating: 0, count: n * h)
        let tables = (0..<n).map { rotary.table(position: layout.position(of: start + $0)) }

        for (l, w) in weights.layers.enumerated() {
            normalise(x, rows: n, weight: w.inputLayerNormWeight, bias: w.inputLayerNormBias, into: &normalised)
            attention.withUnsafeMutableBufferPointer { out in
                attend(
                    layer: l, weights: w, input: normalised, rows: n, start: start, tables: tables,
                    layout: layout, cache: cache, into: out)
            }
            // y = alpha * a + Attention(a); m = LN_post(y)
            Self.residual(alpha, normalised, plus: nil, into: &attention)
            normalise(
                attention, rows: n, weight: w.postAttentionLayerNormWeight, bias: w.postAttentionLayerNormBias,
                into: &normalised)
            mlpOutput.withUnsafeMutableBufferPointer { out in
                feedForward(weights: w, input: normalised, rows: n, into: out)
            }
            // x_{l+1} = alpha * m + GeGLU(m)
            Self.residual(alpha, normalised, plus: mlpOutput, into: &x)
        }
        cache.count = start + n

        var last = [Float](repeating: 0, count: h)
        normalise(
            Array(x[((n - 1) * h)...]), rows: 1, weight: weights.finalLayerNormWeight,
            bias: weights.finalLayerNormBias, into: &last)
        var logits = [Float](repeating: 0, count: vocabRange.count)
        last.withUnsafeBufferPointer { input in
            logits.withUnsafeMutableBufferPointer { out in
                profile.measure(.matmul) {
                    linear(
                        input.baseAddress!, rows: 1, weight: weights.wordEmbeddings, bias: nil, into: out.baseAddress!)
                }
            }
        }
        return logits
    }

    /// Query rows up to which attention skips BLAS (`VectorKernels.attentionHead` per head, heads in parallel);
    /// longer blocks run two sgemm calls per head.
    static let directAttentionRows = 8

    /// `output = alpha * scaled + addend` element-wise (the DeepNorm residuals); a nil `addend` means `output`
    /// itself (updated in place).
    private static func residual(_ alpha: Float, _ scaled: [Float], plus addend: [Float]?, into output: inout [Float]) {
        let count = scaled.count
        scaled.withUnsafeBufferPointer { a in
            output.withUnsafeMutableBufferPointer { y in
                if let addend {
                    addend.withUnsafeBufferPointer { b in
                        VectorKernels.scaledAdd(
                            alpha, a.baseAddress!, b.baseAddress!, into: y.baseAddress!, count: count)
                    }
                } else {
                    VectorKernels.scaledAdd(alpha, a.baseAddress!, y.baseAddress!, into: y.baseAddress!, count: count)
                }
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

    /// Self-attention of one layer for `rows` new tokens; writes the (reduced, biased) output `[rows, h]`.
    private func attend(
        layer: Int, weights w: LayerWeights, input: [Float], rows n: Int, start: Int,
        tables: [(cos: [Float], sin: [Float])], layout: SequenceLayout, cache: KVCache,
        into output: UnsafeMutableBufferPointer<Float>
    ) {
        let d = configuration.headDimension
        let localWidth = localHeads * d
        let total = start + n
        let scale = 1 / Float(d).squareRoot()
        var qkv = [Float](repeating: 0, count: n * 3 * localWidth)
        input.withUnsafeBufferPointer { a in
            qkv.withUnsafeMutableBufferPointer { out in
                profile.measure(.matmul) {
                    linear(
                        a.baseAddress!, rows: n, weight: w.queryKeyValue, bias: w.queryKeyValueBias,
                        into: out.baseAddress!, precision: precision)
                }
            }
        }
        var context = [Float](repeating: 0, count: n * localWidth)
        // Rotated queries, head-major: head h's rows are `queries[h * n * d ..< (h + 1) * n * d]`.
        var queries = [Float](repeating: 0, count: localHeads * n * d)
        let direct = n <= Self.directAttentionRows
        // Decode scores every head at once (heads run in parallel); prefill reuses one head's `[n, total]`.
        var scores = [Float](repeating: 0, count: (direct ? localHeads : 1) * n * total)
        let heads = localHeads
        let prefix = layout.bidirectionalPrefix
        let attentionStart = profile == nil ? 0 : ForwardProfile.now()
        qkv.withUnsafeMutableBufferPointer { qkv in
            queries.withUnsafeMutableBufferPointer { q in
                scores.withUnsafeMutableBufferPointer { s in
                    context.withUnsafeMutableBufferPointer { ctx in
                        let qkv = qkv.baseAddress!
                        let q = q.baseAddress!
                        let s = s.baseAddress!
                        let ctx = ctx.baseAddress!
                        // Split the per-head interleaved rows, rotate q and k, append k and v to the cache. Heads
                        // write disjoint query rows and cache rows.
                        ComputeThreads.parallelFor(heads) { range in
                            for head in range {
                                for r in 0..<n {
                                    let row = qkv + r * 3 * localWidth + head * 3 * d
                                    let query = q + (head * n + r) * d
                                    query.update(from: row, count: d)
                                    RotaryEmbedding.rotate(query, cos: tables[r].cos, sin: tables[r].sin)
                                    let key = cache.keyRow(layer: layer, head: head, token: start + r)
                                    key.update(from: row + d, count: d)
                                    RotaryEmbedding.rotate(key, cos: tables[r].cos, sin: tables[r].sin)
                                    cache.valueRow(layer: layer, head: head, token: start + r).update(
                                        from: row + 2 * d, count: d)
                                }
                            }
                        }
                        if direct {
                            // Few query rows: dot products and axpys over the cache beat n-row sgemm calls.
                            ComputeThreads.parallelFor(heads) { range in
                                for head in range {
                                    VectorKernels.attentionHead(
                                        queries: q + head * n * d, rows: n, headDimension: d,
                                        keys: cache.keyRow(layer: layer, head: head, token: 0),
                                        values: cache.valueRow(layer: layer, head: head, token: 0), total: total,
                                        scale: scale, firstQuery: start, bidirectionalPrefix: prefix,
                                        scores: s + head * n * total, into: ctx + head * d, outStride: localWidth)
                                }
                            }
                        } else {
                            for head in 0..<heads {
                                BLAS.sgemm(
                                    m: n, n: total, k: d, alpha: scale, a: q + head * n * d, lda: d,
                                    b: cache.keyRow(layer: layer, head: head, token: 0), ldb: d, transposeB: true,
                                    c: s, ldc: total)
                                VectorKernels.maskedSoftmax(
                                    s, rows: n, columns: total, stride: total, firstQuery: start,
                                    bidirectionalPrefix: prefix)
                                BLAS.sgemm(
                                    m: n, n: d, k: total, a: s, lda: total,
                                    b: cache.valueRow(layer: layer, head: head, token: 0), ldb: d, transposeB: false,
                                    c: ctx + head * d, ldc: localWidth)
                            }
                        }
                    }
                }
            }
        }
        profile?.add(.attention, ForwardProfile.now() &- attentionStart)
        context.withUnsafeBufferPointer { ctx in
            profile.measure(.matmul) {
                linear(
                    ctx.baseAddress!, rows: n, weight: w.attentionDense, bias: nil, into: output.baseAddress!,
                    precision: precision)
            }
        }
        finishRowParallel(output, rows: n, bias: w.attentionDenseBias)
    }

    /// GeGLU: `(u1 * gelu(u2)) W2^T + b2` where `u = m W1^T + b1` is this rank's `[linear | gelu]` halves.
    private func feedForward(
        weights w: LayerWeights, input: [Float], rows n: Int, into output: UnsafeMutableBufferPointer<Float>
    ) {
        let f = localInner
        var u = [Float](repeating: 0, count: n * 2 * f)
        input.withUnsafeBufferPointer { m in
            u.withUnsafeMutableBufferPointer { out in
                profile.measure(.matmul) {
                    linear(
                        m.baseAddress!, rows: n, weight: w.denseHTo4H, bias: w.denseHTo4HBias, into: out.baseAddress!,
                        precision: precision)
                }
            }
        }
        var gated = [Float](repeating: 0, count: n * f)
        u.withUnsafeBufferPointer { u in
            gated.withUnsafeMutableBufferPointer { g in
                VectorKernels.geglu(u.baseAddress!, rows: n, halfWidth: f, into: g.baseAddress!)
            }
        }
        gated.withUnsafeBufferPointer { g in
            profile.measure(.matmul) {
                linear(
                    g.baseAddress!, rows: n, weight: w.dense4HToH, bias: nil, into: output.baseAddress!,
                    precision: precision)
            }
        }
        finishRowParallel(output, rows: n, bias: w.dense4HToHBias)
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
