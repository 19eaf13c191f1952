import Glibc

/// Where a token's rotary angles come from and which dimensions of a head they rotate: the positional part of an
/// architecture. Tables are `d/2` cos and sin values per token; `rotate` applies one to a head vector.
public struct RotaryPositions: Sendable {
    public enum Scheme: Sendable {
        /// GLM-130B: the 1D position (`SequenceLayout.position(of:)`) rotates the whole head, rotate-half pairs
        /// `(i, i + d/2)`, fp16 tables.
        case wholeHead
        /// ChatGLM-6B: the position rotates the first half of the head and the block position the second, each
        /// half with rotate-half pairs of its own `d/2` dimensions (`d/4` frequencies), fp32 angles.
        case twoDimensional
        /// ChatGLM2 on: the plain position `0, 1, 2, ...` rotates the first half of the head, pairs `(2i, 2i+1)`
        /// interleaved with frequency i of `d/4` (`theta_i = base^(-4i/d)`); the second half passes unrotated.
        case interleavedHalf
    }

    public let scheme: Scheme
    public let embedding: RotaryEmbedding
    /// `theta_i` of `.interleavedHalf`, in fp32 as its `RotaryEmbedding` builds them.
    private let interleavedFrequencies: [Float]

    public init(scheme: Scheme, headDimension d: Int, base: Double = 10000) {
        self.scheme = scheme
        switch scheme {
        case .wholeHead: embedding = RotaryEmbedding(headDimension: d)
        case .twoDimensional, .interleavedHalf:
            embedding = RotaryEmbedding(headDimension: d / 2, roundsAnglesToHalf: false)
        }
        // `1 / base^(arange(0, d/2, 2) / (d/2))`, each step in fp32 as torch computes it.
        let rotated = d / 2
        interleavedFrequencies =
            scheme == .interleavedHalf
            ? stride(from: 0, to: rotated, by: 2).map { j in
                1 / Float(Glibc.pow(Double(Float(base)), Double(Float(j) / Float(rotated))))
            } : []
    }

    /// The table of the token at `index` of a sequence laid out as `layout`.
    public func table(layout: SequenceLayout, index: Int) -> (cos: [Float], sin: [Float]) {
        switch scheme {
        case .wholeHead:
            return embedding.table(position: layout.position(of: index))
        case .twoDimensional:
            let (position, block) = Self.twoDimensionalPositions(layout: layout, index: index)
            let first = embedding.table(position: position)
            let second = embedding.table(position: block)
            return (first.cos + second.cos, first.sin + second.sin)
        case .interleavedHalf:
            let t = Float(index)
            let angles = interleavedFrequencies.map { t * $0 }
            return (angles.map { Float(Glibc.cos(Double($0))) }, angles.map { Float(Glibc.sin(Double($0))) })
        }
    }

    /// ChatGLM-6B's position and block position of the token at `index` (its `get_position_ids`): the context
    /// counts `0, 1, ...`; `<sop>` and every generated token take the mask's position (for `[gMASK]` too) and
    /// block positions `1, 2, ...`, which are 0 in the context.
    public static func twoDimensionalPositions(layout: SequenceLayout, index: Int) -> (position: Int, block: Int) {
        let start = layout.contextLength - 1  // the index of <sop>
        return index < start ? (index, 0) : (layout.maskPosition, index - start + 1)
    }

    /// Rotates one head vector `x[d]` in place with `table`.
    @inline(__always)
    public func rotate(_ x: UnsafeMutablePointer<Float>, cos: [Float], sin: [Float]) {
        switch scheme {
        case .wholeHead:
            RotaryEmbedding.rotate(x, cos: cos, sin: sin)
        case .twoDimensional:
            let quarter = cos.count / 2
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    Self.rotateHalves(x, cos: c.baseAddress!, sin: s.baseAddress!, half: quarter)
                    Self.rotateHalves(
                        x + 2 * quarter, cos: c.baseAddress! + quarter, sin: s.baseAddress! + quarter,
                        half: quarter)
                }
            }
        case .interleavedHalf:
            for i in 0..<cos.count {
                let (a, b) = (x[2 * i], x[2 * i + 1])
                x[2 * i] = a * cos[i] - b * sin[i]
                x[2 * i + 1] = b * cos[i] + a * sin[i]
            }
        }
    }

    /// `x[0 ..< 2 half]` rotated with rotate-half pairs `(i, i + half)`.
    @inline(__always)
    private static func rotateHalves(
        _ x: UnsafeMutablePointer<Float>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, half: Int
    ) {
        for i in 0..<half {
            let a = x[i]
            let b = x[i + half]
            x[i] = a * cos[i] - b * sin[i]
            x[i + half] = b * cos[i] + a * sin[i]
        }
    }
}
