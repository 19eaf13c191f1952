/// One sequence's part of a batched forward pass: its new tokens (from index `cache.count` on), how its tokens are
/// positioned and masked, and its own KV cache (never shared with another segment of the same batch).
public struct ForwardSegment {
    public var tokens: [Int]
    public var layout: SequenceLayout
    public var cache: KVCache

    public init(tokens: [Int], layout: SequenceLayout, cache: KVCache) {
        self.tokens = tokens
        self.layout = layout
        self.cache = cache
    }
}

/// Where each segment's rows sit in the concatenated batch, and its cache extent for this pass.
struct BatchRows: @unchecked Sendable {
    let segments: [ForwardSegment]
    /// First row of each segment in the batch.
    let rowOffsets: [Int]
    /// Tokens cached before this pass, per segment.
    let starts: [Int]
    /// Tokens the segment's attention sees after appending its new ones.
    let totals: [Int]
    /// Rows in the whole batch.
    let rows: Int

    init(_ segments: [ForwardSegment]) {
        self.segments = segments
        var offsets: [Int] = []
        var row = 0
        for segment in segments {
            offsets.append(row)
            row += segment.tokens.count
        }
        rowOffsets = offsets
        starts = segments.map { $0.cache.count }
        totals = segments.map { $0.cache.count + $0.tokens.count }
        rows = row
    }
}
