import Glibc

/// xoshiro256** seeded through SplitMix64: a small, fast generator whose stream depends only on the seed, so
/// the same seed gives the same tokens on every machine and at every tensor-parallel degree.
public struct SeededRandomSource: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension SeededRandomSource {
    /// A standard normal sample (Box-Muller), for random test and demo weights.
    public mutating func nextGaussian() -> Float {
        let u1 = max(nextUnit(), 0x1p-53)
        let u2 = nextUnit()
        return Float((-2 * Glibc.log(u1)).squareRoot() * Glibc.cos(2 * Double.pi * u2))
    }
}
