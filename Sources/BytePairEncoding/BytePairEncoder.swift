/// tiktoken's byte-pair rule over a `TiktokenVocabulary`: a piece whose bytes are a token is that token; otherwise
/// the piece starts as single bytes, and while some adjacent pair's concatenation is a token, the pair whose
/// concatenation has the lowest rank merges (the leftmost of equal ranks). Merging by the concatenation's rank,
/// not by a table of merge pairs, is what tiktoken does, and the two differ when a token can be built two ways.
public struct BytePairEncoder: Sendable {
    public let vocabulary: TiktokenVocabulary

    /// Pieces longer than this many bytes merge with a heap (O(n log n)); shorter ones rescan the pair ranks after
    /// each merge as tiktoken does, which is faster for the few bytes most pieces have.
    static let heapThreshold = 64

    public init(vocabulary: TiktokenVocabulary) {
        self.vocabulary = vocabulary
    }

    /// The ids of one piece.
    public func encode(_ piece: [UInt8]) -> [Int] {
        var ids: [Int] = []
        var scratch = Scratch()
        append(piece.span, to: &ids, scratch: &scratch)
        return ids
    }

    /// Working arrays reused from piece to piece, so that encoding a text allocates only while they grow.
    struct Scratch {
        var boundaries: [Int] = []
        var pairRanks: [Int32] = []
        var next: [Int32] = []
        var previous: [Int32] = []
        var heap: [UInt64] = []
    }

    /// Appends the ids of `piece` to `ids`.
    func append(_ piece: Span<UInt8>, to ids: inout [Int], scratch: inout Scratch) {
        let whole = vocabulary.rank(of: piece)
        if whole >= 0 {
            ids.append(Int(whole))
        } else if piece.count <= Self.heapThreshold {
            mergeByScanning(piece, into: &ids, scratch: &scratch)
        } else {
            mergeWithHeap(piece, into: &ids, scratch: &scratch)
        }
    }

    /// The rank of `piece[start..<end]`, or `Int32.max` when it is no token (so it never wins a minimum).
    @inline(__always)
    private func rank(_ piece: Span<UInt8>, _ start: Int, _ end: Int) -> Int32 {
        let rank = vocabulary.rank(of: piece.extracting(start..<end))
        return rank < 0 ? Int32.max : rank
    }

    /// tiktoken's `_byte_pair_merge`: `boundaries` are where parts start (plus the end), `pairRanks[i]` the rank of
    /// parts `i` and `i + 1` together; each merge removes a boundary and recomputes the two pairs it touched.
    func mergeByScanning(_ piece: Span<UInt8>, into ids: inout [Int], scratch: inout Scratch) {
        let count = piece.count
        scratch.boundaries.removeAll(keepingCapacity: true)
        scratch.pairRanks.removeAll(keepingCapacity: true)
        for index in 0...count {
            scratch.boundaries.append(index)
            scratch.pairRanks.append(index + 2 <= count ? rank(piece, index, index + 2) : Int32.max)
        }
        while true {
            var best = Int32.max
            var bestIndex = 0
            for index in 0..<scratch.pairRanks.count where scratch.pairRanks[index] < best {
                best = scratch.pairRanks[index]
                bestIndex = index
            }
            if best == Int32.max { break }
            scratch.boundaries.remove(at: bestIndex + 1)
            scratch.pairRanks.remove(at: bestIndex + 1)
            if bestIndex + 2 < scratch.boundaries.count {
                scratch.pairRanks[bestIndex] = rank(
                    piece, scratch.boundaries[bestIndex], scratch.boundaries[bestIndex + 2])
            } else {
                scratch.pairRanks[bestIndex] = Int32.max
            }
            if bestIndex > 0 {
                scratch.pairRanks[bestIndex - 1] = rank(
                    piece, scratch.boundaries[bestIndex - 1], scratch.boundaries[bestIndex + 1])
            }
        }
        for index in 0..<scratch.boundaries.count - 1 {
            appendPart(piece, scratch.boundaries[index], scratch.boundaries[index + 1], to: &ids)
        }
    }

    /// The same merges for long pieces: parts form a linked list over their start offsets, and a min-heap holds
    /// `rank << 32 | start` for every adjacent pair, so the smallest key is the lowest rank and, among equal ranks,
    /// the leftmost pair. A merge leaves stale keys in the heap; a popped key counts only while its pair still
    /// starts a live part with that rank.
    func mergeWithHeap(_ piece: Span<UInt8>, into ids: inout [Int], scratch: inout Scratch) {
        let count = piece.count
        // `next[i]`/`previous[i]`: the neighbouring part starts of the part starting at `i` (-1 once merged away);
        // `pairRanks[i]`: the rank of that part and the next together.
        scratch.next.removeAll(keepingCapacity: true)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.pairRanks.removeAll(keepingCapacity: true)
        scratch.heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            scratch.next.append(Int32(index + 1))
            scratch.previous.append(Int32(index - 1))
            let pair = index + 2 <= count ? rank(piece, index, index + 2) : Int32.max
            scratch.pairRanks.append(pair)
            if pair != Int32.max { Heap.push(Self.key(pair, index), into: &scratch.heap) }
        }
        while let key = Heap.pop(&scratch.heap) {
            let start = Int(key & 0xFFFF_FFFF)
            let pair = Int32(truncatingIfNeeded: key >> 32)
            guard scratch.next[start] >= 0 && scratch.pairRanks[start] == pair else { continue }
            let merged = Int(scratch.next[start])
            let end = Int(scratch.next[merged])
            scratch.next[merged] = -1
            scratch.next[start] = Int32(end)
            if end < count { scratch.previous[end] = Int32(start) }
            let after = end < count ? Int(scratch.next[end]) : count + 1
            scratch.pairRanks[start] = after <= count ? rank(piece, start, after) : Int32.max
            if scratch.pairRanks[start] != Int32.max {
                Heap.push(Self.key(scratch.pairRanks[start], start), into: &scratch.heap)
            }
            let before = Int(scratch.previous[start])
            if before >= 0 {
                scratch.pairRanks[before] = rank(piece, before, end)
                if scratch.pairRanks[before] != Int32.max {
                    Heap.push(Self.key(scratch.pairRanks[before], before), into: &scratch.heap)
                }
            }
        }
        var start = 0
        while start < count {
            let end = Int(scratch.next[start])
            appendPart(piece, start, end, to: &ids)
            start = end
        }
    }

    private static func key(_ rank: Int32, _ start: Int) -> UInt64 { UInt64(UInt32(rank)) << 32 | UInt64(start) }

    /// A part left after merging is a token: a single byte (the vocabulary has all 256) or a merged pair.
    private func appendPart(_ piece: Span<UInt8>, _ start: Int, _ end: Int, to ids: inout [Int]) {
        let part = vocabulary.rank(of: piece.extracting(start..<end))
        precondition(part >= 0, "a part left by merging is a token")
        ids.append(Int(part))
    }
}

/// A binary min-heap in an array.
private enum Heap {
    static func push(_ value: UInt64, into heap: inout [UInt64]) {
        heap.append(value)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[parent] > value else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = value
    }

    static func pop(_ heap: inout [UInt64]) -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        guard let top = heap.first else { return last }
        let count = heap.count
        var parent = 0
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count && heap[child + 1] < heap[child] { child += 1 }
            guard heap[child] < last else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = last
        return top
    }
}
