import Foundation
import Testing

@testable import Tensors

/// The sampler's weights against Double `exp` of the same fp32 difference, and their fixed-point mass against a
/// plain Swift sum of `(w · 2^62).rounded()`, on every instruction-set path.
@Suite struct SamplingKernelTests {
    static func logits(_ count: Int, seed: UInt64) -> [Float] {
        var source = SeededRandomSource(seed: seed)
        return (0..<count).map { _ in 30 * (2 * Float(source.nextUnit()) - 1) }
    }

    @Test func weightIsExpOfTheFp32DifferenceWithinFourUlps() {
        let values = Self.logits(200_000, seed: 1)
        let maximum = values.max()!
        var worst = 0.0
        for value in values where value - maximum >= -44 {
            let expected = Foundation.exp(Double(value - maximum))
            worst = max(worst, abs(SamplingKernels.weight(value, maximum: maximum) - expected) / expected)
        }
        #expect(worst <= 4 * 0x1p-24, "largest relative error \(worst)")
        #expect(SamplingKernels.weight(maximum, maximum: maximum) == 1)
        #expect(SamplingKernels.weight(.infinity, maximum: .infinity) == 1)
        #expect(SamplingKernels.weight(3, maximum: .infinity) == 0)
        #expect(SamplingKernels.weight(-.infinity, maximum: 2) == 0)
        #expect(SamplingKernels.weight(-44.5, maximum: 0) == 0)
        #expect(abs(SamplingKernels.weight(-43.99, maximum: 0) / Foundation.exp(Double(Float(-43.99))) - 1) < 1e-6)
        #expect(SamplingKernels.weight(1e-7, maximum: 0) == 1)  // never above 1
    }

    @Test(arguments: DecodeKernels.InstructionSet.allCases)
    func massIsTheRoundedFixedPointSum(path: DecodeKernels.InstructionSet) {
        var values = Self.logits(10_007, seed: 2)
        values += [30, 30, -.infinity, -14, 30 - 43.999, 30 - 44.001]  // ties with the maximum, the -44 edge
        let maximum: Float = 30
        var expected: UInt128 = 0
        for value in values {
            let w = SamplingKernels.weight(value, maximum: maximum)
            expected += UInt128(UInt64((w * 0x1p62).rounded()))
        }
        let whole = values.withUnsafeBufferPointer {
            SamplingKernels.fixedPointMass($0, maximum: maximum, instructionSet: path)
        }
        #expect(UInt128(whole.high) << 64 | UInt128(whole.low) == expected, "\(path)")
        // Any split adds up to the same integer.
        let cuts = [0, 3, 1000, 5001, values.count]
        let parts = zip(cuts, cuts.dropFirst()).map { start, end in
            values.withUnsafeBufferPointer {
                SamplingKernels.fixedPointMass(
                    UnsafeBufferPointer(rebasing: $0[start..<end]), maximum: maximum, instructionSet: path)
            }
        }
        let summed = parts.reduce(UInt128(0)) { $0 + (UInt128($1.high) << 64 | UInt128($1.low)) }
        #expect(summed == expected)
    }
}
