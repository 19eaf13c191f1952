import Glibc

/// A rotary table with the official code's fp16 roundings reproduced exactly.
///
/// SwissArmyTransformer builds `inv_freq`, the angles and their cos/sin in fp16, and the trained weights depend on
/// those roundings (against exact RoPE the phase drifts by ~1 rad near position 2000). So:
/// `inv_freq_j = fp16(1 / 10000^(2j/d))`, `angle = fp16(fp16(t) * inv_freq_j)`, `cos/sin = fp16(cos/sin(angle))`,
/// the last rounded once from double (the official fixture tells single rounding from a float32 detour at sin(300)).
/// Dimension `i` and `i + d/2` share frequency `i` (rotate-half pairing over all head dimensions).
///
/// ChatGLM-6B rounds only `inv_freq` to fp16 (its module is built in half precision) and computes angles and
/// cos/sin in the compute precision, fp32 here: `roundsAnglesToHalf` false.
public struct RotaryEmbedding: Sendable {
    /// The dimensions the table rotates (a whole head, or the half of one that ChatGLM-6B gives each position).
    public let headDimension: Int
    /// `fp16(1 / 10000^(2j/d))`, as the official checkpoint stores them under `attention.rotary_emb.inv_freq`.
    public let inverseFrequencies: [Float16]
    /// Whether angles and cos/sin are rounded to fp16 (GLM-130B) or kept in fp32 (ChatGLM-6B).
    public let roundsAnglesToHalf: Bool

    public init(headDimension: Int, base: Double = 10000, roundsAnglesToHalf: Bool = true) {
        self.headDimension = headDimension
        self.roundsAnglesToHalf = roundsAnglesToHalf
        let half = headDimension / 2
        inverseFrequencies = (0..<half).map { j in
            Float16(Float(1.0 / Glibc.pow(base, Double(2 * j) / Double(headDimension))))
        }
    }

    /// The cos and sin for position `position`, `d/2` values each (fp16-rounded unless `roundsAnglesToHalf` is
    /// false).
    public func table(position: Int) -> (cos: [Float], sin: [Float]) {
        var cosines = [Float](repeating: 0, count: inverseFrequencies.count)
        var sines = cosines
        guard roundsAnglesToHalf else {
            let t = Float(position)
            for (j, frequency) in inverseFrequencies.enumerated() {
                let angle = Double(t * Float(frequency))
                cosines[j] = Float(Glibc.cos(angle))
                sines[j] = Float(Glibc.sin(angle))
            }
            return (cosines, sines)
        }
        let t = Float(Float16(Float(position)))
        for (j, frequency) in inverseFrequencies.enumerated() {
            let angle = Float(Float16(t * Float(frequency)))
            cosines[j] = Float(Float16(Glibc.cos(Double(angle))))
            sines[j] = Float(Float16(Glibc.sin(Double(angle))))
        }
        return (cosines, sines)
    }

    /// Rotates one head vector `x[d]` in place: `x*cos + rotate_half(x)*sin`, `rotate_half(x) = [-x2, x1]`.
    @inline(__always)
    public static func rotate(_ x: UnsafeMutablePointer<Float>, cos: [Float], sin: [Float]) {
        let half = cos.count
        for i in 0..<half {
            let a = x[i]
            let b = x[i + half]
            x[i] = a * cos[i] - b * sin[i]
            x[i + half] = b * cos[i] + a * sin[i]
        }
    }
}
