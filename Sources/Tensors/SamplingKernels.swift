import CKernels

/// The sampler's per-token weights `exp(value - maximum)` and their exact fixed-point sum
/// (`Sources/CKernels/sampling.c`): one vectorised fp32 exp per vocabulary entry instead of a libm call, with the
/// same bits on every instruction-set path, so a mass never depends on the CPU or on how the vocabulary is sliced.
public enum SamplingKernels {
    /// `exp(value - maximum)` in fp32: 1 when `value == maximum`, 0 below `maximum - 44`, at most 1.
    @inline(__always)
    public static func weight(_ value: Float, maximum: Float) -> Double { ck_sampling_weight(value, maximum) }

    /// `Σ round(weight(v, maximum) · 2^62)` over `values` (halves away from zero) as a 128-bit integer.
    public static func fixedPointMass(
        _ values: UnsafeBufferPointer<Float>, maximum: Float, instructionSet: DecodeKernels.InstructionSet? = nil
    ) -> (high: UInt64, low: UInt64) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        if let base = values.baseAddress {
            ck_sampling_mass(base, values.count, maximum, &high, &low, instructionSet?.rawValue ?? 0)
        }
        return (high, low)
    }
}
