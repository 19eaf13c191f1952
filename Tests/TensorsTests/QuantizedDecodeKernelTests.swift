import Foundation
import Tensors
import Testing

/// The fast-precision int8/int4 decode GEMV (`QuantizedDecodeKernels`) against an independent reference: the
/// activations quantised per row here in Swift (the documented rule), then multiplied in fp64 with the weights
/// decoded from raw storage. The kernel's integer arithmetic is exact, so the two agree to fp32 rounding of the
/// group sums; against the unquantised product the documented bound `s / 2 · Σ|w|` holds.
@Suite struct QuantizedDecodeKernelTests {
    static let shapes: [(n: Int, k: Int, outputs: Int)] = [
        (1, 2, 1), (1, 64, 5), (2, 130, 64), (3, 256, 300), (5, 1000, 64), (8, 4096, 37), (1, 4096, 300),
        (4, 66, 9), (1, 232, 7), (1, 4160, 33),
    ]

    /// `round_half_even(x · (127 / max|x|))` clamped to ±127, and the scale `max|x| / 127`, per row.
    static func quantize(_ row: ArraySlice<Float>) -> (q: [Double], scale: Double) {
        let largest = row.reduce(Float(0)) { max($0, abs($1)) }
        guard largest > 0 else { return ([Double](repeating: 0, count: row.count), 0) }
        let inverse = Float(127) / largest
        let q = row.map { Double(min(127, max(-127, ($0 * inverse).rounded(.toNearestOrEven)))) }
        return (q, Double(largest / 127))
    }

    /// Whether this CPU has a path (AVX512-VNNI or AVX2); without one the kernel tests are skipped and
    /// `linearRoutesOnlyFastPrecisionHere` checks that fast precision falls back to the exact kernels.
    static let pathAvailable = QuantizedDecodeKernels.isAvailable

    /// Both paths where the CPU has them (a forced VNNI path on a CPU without VNNI runs the AVX2 path again).
    @Test(
        .enabled(if: pathAvailable, "no AVX512-VNNI or AVX2 on this CPU"),
        arguments: [WeightFormat.int8, .int4], [DecodeKernels.InstructionSet.avx512, .avx2])
    func matchesQuantisedActivationReference(format: WeightFormat, path: DecodeKernels.InstructionSet) throws {
        for groups in [1, 2] { check(format: format, groups: groups, path: path) }
    }

    func check(format: WeightFormat, groups: Int, path: DecodeKernels.InstructionSet) {
        for (n, k, outputs) in Self.shapes where k % (2 * groups) == 0 {
            var x = KernelTests.randomValues(n * k, seed: UInt64(n * 31 + k))
            x[0] *= 50  // an outlier: the row's scale follows it
            if n > 1 { for j in 0..<k { x[(n - 1) * k + j] = 0 } }  // an all-zero row: scale 0, output 0
            let (weight, w) = KernelTests.randomWeight(format, rows: outputs, columns: k, groups: groups, seed: 7)
            var y = [Float](repeating: .nan, count: n * outputs)
            let handled = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    QuantizedDecodeKernels.multiply(
                        xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, instructionSet: path)
                }
            }
            #expect(handled)
            for i in 0..<n {
                let (q, scale) = Self.quantize(x[(i * k)..<((i + 1) * k)])
                for o in 0..<outputs {
                    var quantised = 0.0, magnitude = 0.0, exact = 0.0, wMagnitude = 0.0
                    for j in 0..<k {
                        let wj = w[o * k + j]
                        quantised += q[j] * wj * scale
                        magnitude += abs(q[j] * wj * scale)
                        exact += Double(x[i * k + j]) * wj
                        wMagnitude += abs(wj)
                    }
                    let got = Double(y[i * outputs + o])
                    let rounding = Double(groups + 2) * 0x1p-23 * magnitude + 1e-30
                    #expect(
                        abs(got - quantised) <= rounding,
                        "\(format) g\(groups) \(n)x\(k)x\(outputs) y[\(i), \(o)] = \(got), reference \(quantised)")
                    #expect(abs(got - exact) <= scale / 2 * wMagnitude + rounding)
                }
            }
        }
    }

    /// The AVX2 and VNNI paths compute the same int32 sums and the same float operations on them: identical
    /// outputs (only on CPUs with AVX512-VNNI, where both can run).
    @Test(.enabled(if: CPUFeatures.detected.avx512vnni != 0, "no AVX512-VNNI: only the AVX2 path runs here"))
    func avx2AndVNNIPathsAgreeExactly() {
        for format in [WeightFormat.int8, .int4] {
            let (n, k, outputs) = (5, 1000, 70)
            let (weight, _) = KernelTests.randomWeight(format, rows: outputs, columns: k, groups: 2, seed: 12)
            let x = KernelTests.randomValues(n * k, seed: 13)
            var results: [[Float]] = []
            for path in [DecodeKernels.InstructionSet.avx512, .avx2] {
                var y = [Float](repeating: .nan, count: n * outputs)
                _ = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        QuantizedDecodeKernels.multiply(
                            xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, instructionSet: path)
                    }
                }
                results.append(y)
            }
            #expect(results[0] == results[1], "\(format)")
        }
    }

    /// There is no portable integer path: forcing it declines (returns false, leaves y alone) instead of
    /// returning unwritten outputs.
    @Test func portablePathDeclines() {
        let (weight, _) = KernelTests.randomWeight(.int8, rows: 8, columns: 64, groups: 1, seed: 2)
        let x = KernelTests.randomValues(64, seed: 3)
        var y = [Float](repeating: 42, count: 8)
        let handled = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                QuantizedDecodeKernels.multiply(
                    xp.baseAddress!, rows: 1, weight: weight, into: yp.baseAddress!, instructionSet: .portable)
            }
        }
        #expect(!handled)
        #expect(y == [Float](repeating: 42, count: 8))
    }

    @Test func int4WithOddGroupSizeIsLeftToTheExactKernels() throws {
        let (weight, _) = KernelTests.randomWeight(.int4, rows: 4, columns: 6, groups: 2, seed: 3)
        #expect(!QuantizedDecodeKernels.handles(weight))
        let (fp16, _) = KernelTests.randomWeight(.float16, rows: 4, columns: 64, groups: 1, seed: 3)
        #expect(!QuantizedDecodeKernels.handles(fp16))
    }

    /// `linear(precision: .fast)` routes decode-sized int4 products here; `.exact` keeps the exact kernels. On a
    /// CPU without AVX512-VNNI fast precision must fall back to the exact kernels (same result as `.exact`).
    @Test func linearRoutesOnlyFastPrecisionHere() throws {
        let (weight, w) = KernelTests.randomWeight(.int4, rows: 64, columns: 256, groups: 1, seed: 5)
        #expect(QuantizedDecodeKernels.handles(weight) == Self.pathAvailable)
        let x = KernelTests.randomValues(256, seed: 9)
        func run(_ precision: MatmulPrecision) -> [Float] {
            var y = [Float](repeating: .nan, count: 64)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(
                        xp.baseAddress!, rows: 1, weight: weight, bias: nil, into: yp.baseAddress!,
                        precision: precision)
                }
            }
            return y
        }
        let exact = (0..<64).map { o in (0..<256).reduce(0.0) { $0 + Double(x[$1]) * w[o * 256 + $1] } }
        let exactErrors = zip(run(.exact), exact).map { abs(Double($0) - $1) }
        let fastErrors = zip(run(.fast), exact).map { abs(Double($0) - $1) }
        #expect(exactErrors.max()! < 1e-4)
        if Self.pathAvailable {
            #expect(fastErrors.max()! > 1e-4)  // activations were quantised: visibly different from exact
        } else {
            #expect(fastErrors.max()! < 1e-4)  // no integer path: the exact kernels ran
        }
    }
}
