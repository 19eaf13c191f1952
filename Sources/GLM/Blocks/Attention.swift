import Configuration
import Partitioning
import Tensors

/// Self-attention over the KV cache, on this rank's heads: the fused QKV projection (column-parallel, per-head
/// interleaved `[q | k | v]`, or grouped: queries, then the groups' keys and values), rotation by the
/// architecture's positions, scores and context per segment against its own cache, and the output projection
/// (row-parallel; its allreduce and bias are `finishRowParallel`'s).
extension GLMModel {
    /// Query rows up to which attention skips BLAS (`VectorKernels.attentionHead` per head, heads in parallel);
    /// longer blocks run two sgemm calls per head and block of rows (`attendLong`).
    static let directAttentionRows = 8

    /// Self-attention of one layer for the batch's new rows; writes this rank's partial output `[rows, h]`, to be
    /// reduced with `finishRowParallel` once the buffers here are freed (the allreduce needs its own). `output`
    /// holds the queries until the dense product overwrites it.
    func attend(
        layer: Int, weights w: LayerWeights, input: [Float], batch: BatchRows, chunks: [Range<Int>],
        tables: [(cos: [Float], sin: [Float])], into output: UnsafeMutableBufferPointer<Float>
    ) {
        let (h, d) = (configuration.hiddenSize, configuration.headDimension)
        let n = batch.rows
        let localWidth = localHeads * d
        let scale = 1 / Float(d).squareRoot()
        var qkv = [Float](repeating: 0, count: chunks.map(\.count).max()! * w.queryKeyValue.rows)
        // The context `[rows, localWidth]`: the front of `qkv` (dead once split) when one chunk holds every row,
        // else a buffer of its own.
        var chunkedContext = [Float](repeating: 0, count: chunks.count > 1 ? n * localWidth : 0)
        let heads = localHeads
        let segments = batch.segments
        // Scores: every (direct segment, head) pair gets its own `[rows_s, total_s]` block (they run in parallel);
        // longer segments get theirs in `attendLong`.
        let direct = segments.indices.filter { segments[$0].tokens.count <= Self.directAttentionRows }
        var scoreOffsets = [Int](repeating: 0, count: segments.count)
        var directScores = 0
        for s in direct {
            scoreOffsets[s] = directScores
            directScores += heads * segments[s].tokens.count * batch.totals[s]
        }
        let longSegments = segments.indices.filter { segments[$0].tokens.count > Self.directAttentionRows }
        var scores = [Float](repeating: 0, count: directScores)
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
                        let perGroup = headsPerGroup
                        ComputeThreads.parallelFor(direct.count * heads) { range in
                            for task in range {
                                let (index, head) = (direct[task / heads], task % heads)
                                let segment = segments[index]
                                let (first, rows, total) = (
                                    batch.rowOffsets[index], segment.tokens.count, batch.totals[index]
                                )
                                // A decode step of grouped attention: the group's first head computes all of its
                                // heads at once, reading the shared keys and values once (`attendGroup`).
                                if rows == 1 && perGroup > 1 {
                                    let firstOfGroup = head == 0 || keyValueHead(of: head) != keyValueHead(of: head - 1)
                                    guard firstOfGroup else { continue }
                                    var count = 1
                                    while head + count < heads
                                        && keyValueHead(of: head + count) == keyValueHead(of: head)
                                    {
                                        count += 1
                                    }
                                    segment.cache.attendGroup(
                                        layer: layer, head: keyValueHead(of: head),
                                        queries: q + (first * heads + head) * d,
                                        heads: count, total: total, scale: scale,
                                        scores: s + scoreOffsets[index] + head * total,
                                        into: ctx + first * localWidth + head * d)
                                    continue
                                }
                                segment.cache.attendDirectly(
                                    layer: layer, head: keyValueHead(of: head),
                                    queries: q + (first * heads + head * rows) * d,
                                    rows: rows, total: total, scale: scale, firstQuery: batch.starts[index],
                                    bidirectionalPrefix: bidirectionalPrefix(segment.layout),
                                    scores: s + scoreOffsets[index] + head * rows * total,
                                    into: ctx + first * localWidth + head * d, outStride: localWidth)
                            }
                        }
                        for index in longSegments {
                            let segment = segments[index]
                            attendLong(
                                layer: layer, segment: segment, rows: segment.tokens.count, total: batch.totals[index],
                                start: batch.starts[index], queries: q + batch.rowOffsets[index] * heads * d,
                                scale: scale, into: ctx + batch.rowOffsets[index] * localWidth, outStride: localWidth)
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

    /// Query rows per task of a long segment's attention.
    static let attentionRowBlock = 64

    /// Attention of a segment with many new rows (a prefill): per (head, block of `attentionRowBlock` query rows)
    /// task, two one-thread sgemm calls around the masked softmax, tasks in parallel. A block's scores stop at the
    /// last key any of its rows may see (its last row's own position, or the bidirectional prefix), which skips the
    /// masked upper triangle of a causal prompt: those columns would hold -10000 below the row maximum, whose exp is
    /// 0 in fp32, so leaving them out changes no probability. `queries` holds the segment's rows head-major,
    /// `out` its context rows (row stride `outStride`).
    func attendLong(
        layer: Int, segment: ForwardSegment, rows: Int, total: Int, start: Int, queries q: UnsafePointer<Float>,
        scale: Float, into out: UnsafeMutablePointer<Float>, outStride: Int
    ) {
        let d = configuration.headDimension
        let heads = localHeads
        let block = Self.attentionRowBlock
        let blocks = (rows + block - 1) / block
        let prefix = bidirectionalPrefix(segment.layout)
        let widens = segment.cache.format != .fp32
        // One OpenBLAS thread per call whatever the rank's setting: the tasks are the parallelism.
        let savedBLASThreads = BLAS.threadCount
        if savedBLASThreads != 1 { BLAS.threadCount = 1 }
        defer { if savedBLASThreads != 1 { BLAS.threadCount = savedBLASThreads } }
        ComputeThreads.parallelFor(heads * blocks) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: min(rows, block) * total)
            let widened = UnsafeMutablePointer<Float>.allocate(capacity: widens ? 2 * total * d : 0)
            defer {
                scores.deallocate()
                widened.deallocate()
            }
            var widenedHead = -1
            for task in range {
                let (head, first) = (task / blocks, task % blocks * block)
                let count = min(block, rows - first)
                let keyValueHead = keyValueHead(of: head)
                let cached: (keys: UnsafePointer<Float>, values: UnsafePointer<Float>)
                if widens && widenedHead == keyValueHead {
                    cached = (UnsafePointer(widened), UnsafePointer(widened + total * d))
                } else {
                    cached = segment.cache.matrices(layer: layer, head: keyValueHead, tokens: total, scratch: widened)
                    widenedHead = keyValueHead
                }
                let visible = min(total, max(start + first + count, prefix))
                BLAS.sgemm(
                    m: count, n: visible, k: d, alpha: scale, a: q + (head * rows + first) * d, lda: d,
                    b: cached.keys, ldb: d, transposeB: true, c: scores, ldc: visible)
                VectorKernels.maskedSoftmaxOnThisThread(
                    scores, rows: count, columns: visible, stride: visible, firstQuery: start + first,
                    bidirectionalPrefix: prefix)
                BLAS.sgemm(
                    m: count, n: d, k: visible, a: scores, lda: visible, b: cached.values, ldb: d, transposeB: false,
                    c: out + first * outStride + head * d, ldc: outStride)
            }
        }
    }

    /// The cached key/value head that local query head `head` reads.
    @inline(__always)
    func keyValueHead(of head: Int) -> Int { (partition.index * localHeads + head) / headsPerGroup - firstGroup }

    /// The context prefix that attends bidirectionally: none for a causal architecture.
    @inline(__always)
    func bidirectionalPrefix(_ layout: SequenceLayout) -> Int { architecture.isCausal ? 0 : layout.bidirectionalPrefix }

    /// Splits the QKV product of the batch rows `rows` (`qkv` holds them from its first row, in the architecture's
    /// `QueryKeyValueLayout`), rotates q and k, writes the queries head-major into `queries` and appends k and v to
    /// each segment's cache. Each (segment, head) pair writes its own query rows and cache rows, in parallel; with
    /// grouped attention the first `localKeyValueHeads` heads of a segment also rotate and cache a key/value head.
    func split(
        _ qkv: UnsafeMutablePointer<Float>, rows chunk: Range<Int>, layer: Int, batch: BatchRows,
        tables: [(cos: [Float], sin: [Float])], queries q: UnsafeMutablePointer<Float>
    ) {
        let d = configuration.headDimension
        let (heads, segments) = (localHeads, batch.segments)
        let keyValueHeads = localKeyValueHeads
        let grouped = architecture.queryKeyValue == .grouped
        let rowWidth = grouped ? (heads + 2 * keyValueHeads) * d : 3 * heads * d
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
                    let source = qkv + (row - chunk.lowerBound) * rowWidth
                    let table = tables[row]
                    let query = q + (first * heads + head * rows + r) * d
                    query.update(from: source + (grouped ? head * d : head * 3 * d), count: d)
                    positions.rotate(query, cos: table.cos, sin: table.sin)
                    // The key is rotated where it lies in `qkv` (dead once split), then cached with the value.
                    guard head < keyValueHeads else { continue }
                    let key = source + (grouped ? (heads + head) * d : head * 3 * d + d)
                    let value = grouped ? source + (heads + keyValueHeads + head) * d : key + d
                    positions.rotate(key, cos: table.cos, sin: table.sin)
                    cache.store(layer: layer, head: head, token: start + r, key: key, value: value)
                }
            }
        }
    }
}
