import Foundation
import Tensors
import Testing

/// The decode GEMV kernels (`DecodeKernels.multiply`) against a naive double-precision product computed from the
/// raw storage, on every instruction-set path this CPU runs, with vector tails and scale groups.
@Suite struct DecodeKernelTests {
    typealias ISA = DecodeKernels.InstructionSet

    static let activationRows = [1, 2, 3, 8, 13, 32]
    static let innerSizes = [1, 7, 33, 256, 1000, 4096]
    static let outputSizes = [1, 5, 64, 300]

    /// Runs the kernel; y starts as NaN so an unwritten element fails.
    static func run(
        _ x: [Float], rows n: Int, weight: WeightMatrix, isa: ISA, threads: Int = 1
    ) -> [Float] {
        var y = [Float](repeating: .nan, count: n * weight.rows)
        let handled = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                DecodeKernels.multiply(
                    xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, instructionSet: isa,
                    threads: threads)
            }
        }
        #expect(handled)
        return y
    }

    /// `y[i, o]` in fp64 and the sum of magnitudes of its terms (the scale of fp32 rounding error).
    static func reference(_ x: [Float], rows n: Int, weight w: [Double], outputs: Int, inner: Int)
        -> (values: [Double], magnitudes: [Double])
    {
        var values = [Double](repeating: 0, count: n * outputs)
        var magnitudes = [Double](repeating: 0, count: n * outputs)
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                for i in 0..<n {
                    for o in 0..<outputs {
                        var sum = 0.0
                        var magnitude = 0.0
                        for j in 0..<inner {
                            let term = Double(x[i * inner + j]) * w[o * inner + j]
                            sum += term
                            magnitude += abs(term)
                        }
                        values[i * outputs + o] = sum
                        magnitudes[i * outputs + o] = magnitude
                    }
                }
            }
        }
        return (values, magnitudes)
    }

    @Test func everyPathIsAvailableOrFallsBack() {
        let features = CPUFeatures.detected
        let expected: ISA = features.avx512 != 0 ? .avx512 : features.avx2 != 0 ? .avx2 : .portable
        #expect(ISA.best == expected)
        #expect(ISA.portable.isSupported)
    }

    @Test(arguments: WeightFormat.allCases)
    func matchesNaiveProductOnEveryPath(format: WeightFormat) {
        let maximumRows = Self.activationRows.max()!
        for inner in Self.innerSizes where format != .int4 || inner % 2 == 0 {
            let x = KernelTests.randomValues(maximumRows * inner, seed: UInt64(inner))
            for outputs in Self.outputSizes {
                for groups in [1, 2, 4] where inner % groups == 0 && (groups == 1 || format.bits <= 8) {
                    let (weight, w) = KernelTests.randomWeight(
                        format, rows: outputs, columns: inner, groups: groups, seed: UInt64(outputs * 31 + groups))
                    let (expected, magnitudes) = Self.reference(
                        x, rows: maximumRows, weight: w, outputs: outputs, inner: inner)
                    for isa in ISA.allCases where isa.isSupported {
                        for n in Self.activationRows {
                            let y = Self.run(x, rows: n, weight: weight, isa: isa)
                            var worst = 0.0
                            for e in 0..<(n * outputs) {
                                let error = abs(Double(y[e]) - expected[e]) / max(magnitudes[e], 1e-30)
                                worst = max(worst, error.isNaN ? .infinity : error)
                            }
                            // fp32 products and sums: a few ulps (6e-8) of the sum of magnitudes.
                            #expect(
                                worst < 1e-5,
                                "\(format) \(isa) n \(n) k \(inner) rows \(outputs) groups \(groups): \(worst)")
                        }
                    }
                }
            }
        }
    }

    /// int4 groups of odd size split a byte between two scales: the kernels take the element-wise path.
    @Test func int4WithOddGroupSize() {
        for (inner, groups) in [(2, 2), (6, 2), (30, 10), (66, 6)] {
            let x = KernelTests.randomValues(3 * inner, seed: 9)
            let (weight, w) = KernelTests.randomWeight(.int4, rows: 9, columns: inner, groups: groups, seed: 10)
            let (expected, magnitudes) = Self.reference(x, rows: 3, weight: w, outputs: 9, inner: inner)
            for isa in ISA.allCases where isa.isSupported {
                let y = Self.run(x, rows: 3, weight: weight, isa: isa)
                for e in 0..<y.count {
                    #expect(
                        abs(Double(y[e]) - expected[e]) <= 1e-5 * magnitudes[e], "\(isa) k \(inner) groups \(groups)")
                }
            }
        }
    }

    /// Every finite fp16 and bf16 value, picked out one at a time by unit activations, come back exact.
    @Test(arguments: [WeightFormat.float16, .bfloat16])
    func halfPrecisionConversionIsExact(format: WeightFormat) {
        let columns = 16
        // Every finite value of the format, both signs (0x7C00 / 0x7F80: the first infinity).
        let finiteLimit: UInt16 = format == .float16 ? 0x7C00 : 0x7F80
        var bits = (UInt16(0)..<finiteLimit).flatMap { [$0, $0 | 0x8000] }
        let rows = bits.count / columns
        bits = Array(bits.prefix(rows * columns))
        let weight: WeightMatrix =
            format == .float16
            ? WeightMatrix(rows: rows, columns: columns, storage: .float16(bits.map { Float16(bitPattern: $0) }))
            : WeightMatrix(rows: rows, columns: columns, storage: .bfloat16(bits))
        let decoded: [Float] = bits.map {
            format == .float16 ? Float(Float16(bitPattern: $0)) : Float(bitPattern: UInt32($0) << 16)
        }
        for isa in ISA.allCases where isa.isSupported {
            for half in 0..<2 {
                // Row i of x picks column half * 8 + i.
                var x = [Float](repeating: 0, count: 8 * columns)
                for i in 0..<8 { x[i * columns + half * 8 + i] = 1 }
                let y = Self.run(x, rows: 8, weight: weight, isa: isa)
                var mismatches = 0
                for i in 0..<8 {
                    for r in 0..<rows where y[i * rows + r].bitPattern != decoded[r * columns + half * 8 + i].bitPattern
                    {
                        // +0 and -0 differ in bits but 1 * (-0) + 0 * ... = +0 is correct arithmetic.
                        if y[i * rows + r] != 0 || decoded[r * columns + half * 8 + i] != 0 { mismatches += 1 }
                    }
                }
                #expect(mismatches == 0, "\(format) \(isa)")
            }
        }
    }

    @Test(arguments: WeightFormat.allCases)
    func threadsGiveIdenticalResults(format: WeightFormat) {
        let inner = 256
        let outputs = 1003
        let x = KernelTests.randomValues(8 * inner, seed: 11)
        let (weight, _) = KernelTests.randomWeight(format, rows: outputs, columns: inner, groups: 2, seed: 12)
        for isa in ISA.allCases where isa.isSupported {
            for n in [1, 3, 8] {
                let single = Self.run(x, rows: n, weight: weight, isa: isa, threads: 1)
                for threads in [2, 3, 7] {
                    let multi = Self.run(x, rows: n, weight: weight, isa: isa, threads: threads)
                    #expect(multi.map(\.bitPattern) == single.map(\.bitPattern), "\(format) \(isa) n \(n) \(threads)")
                }
            }
        }
    }

    @Test func linearUsesTheDecodeKernels() {
        let (weight, w) = KernelTests.randomWeight(.int4, rows: 70, columns: 130, groups: 2, seed: 13)
        let x = KernelTests.randomValues(2 * 130, seed: 14)
        var y = [Float](repeating: .nan, count: 2 * 70)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                linear(xp.baseAddress!, rows: 2, weight: weight, bias: nil, into: yp.baseAddress!)
            }
        }
        let (expected, magnitudes) = Self.reference(x, rows: 2, weight: w, outputs: 70, inner: 130)
        for e in 0..<y.count { #expect(abs(Double(y[e]) - expected[e]) <= 1e-5 * magnitudes[e]) }
    }
}
