import Foundation
import Tensors
import Testing

/// Kernels against naive double-precision loops written from their mathematical definitions.
@Suite struct KernelTests {
    static func randomValues(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var random = SeededRandomSource(seed: seed)
        return (0..<count).map { _ in scale * random.nextGaussian() }
    }

    @Test(arguments: [(1, 7, 5), (3, 64, 48), (17, 300, 129), (2, 4096, 3)])
    func linearMatchesNaiveProduct(rows: Int, inner: Int, outputs: Int) {
        let x = Self.randomValues(rows * inner, seed: 1)
        let w = Self.randomValues(outputs * inner, seed: 2, scale: 0.1).map { Float16($0) }
        let bias = Self.randomValues(outputs, seed: 3)
        let weight = HalfMatrix(rows: outputs, columns: inner, values: w)
        var y = [Float](repeating: .nan, count: rows * outputs)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                linear(xp.baseAddress!, rows: rows, weight: weight, bias: bias, into: yp.baseAddress!)
            }
        }
        for r in 0..<rows {
            for o in 0..<outputs {
                var sum = Double(bias[o])
                for k in 0..<inner { sum += Double(x[r * inner + k]) * Double(Float(w[o * inner + k])) }
                #expect(abs(Double(y[r * outputs + o]) - sum) < 1e-4 * max(1, abs(sum)), "y[\(r),\(o)]")
            }
        }
    }

    @Test func layerNormMatchesDefinition() {
        let width = 37
        let rows = 3
        let x = Self.randomValues(rows * width, seed: 4, scale: 3).map { $0 + 5 }
        let weight = Self.randomValues(width, seed: 5)
        let bias = Self.randomValues(width, seed: 6)
        var y = [Float](repeating: 0, count: rows * width)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                layerNorm(
                    xp.baseAddress!, rows: rows, width: width, weight: weight, bias: bias, epsilon: 1e-5,
                    into: yp.baseAddress!)
            }
        }
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for i in 0..<width {
                let expected = (row[i] - mean) / (variance + 1e-5).squareRoot() * Double(weight[i]) + Double(bias[i])
                #expect(abs(Double(y[r * width + i]) - expected) < 1e-5)
            }
        }
    }

    @Test func softmaxMatchesDefinitionAndHandlesLargeValues() {
        var values: [Float] = [1000, 999, -10000, 998.5]
        values.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, count: $0.count) }
        let exps = [0.0, -1.0, -11000.0, -1.5].map { Foundation.exp($0) }
        let total = exps.reduce(0, +)
        for i in 0..<4 { #expect(abs(Double(values[i]) - exps[i] / total) < 1e-6) }
    }

    @Test func geluIsTheExactErfForm() {
        for x in stride(from: -6.0, through: 6.0, by: 0.25) {
            let expected = 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
            #expect(abs(Double(gelu(Float(x))) - expected) < 1e-6)
        }
        // The tanh approximation differs by up to ~1e-4 around |x| = 2.5-3: the kernel must not be it.
        let gap = stride(from: -6.0, through: 6.0, by: 0.125).map { x -> Double in
            let tanhForm = 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            return abs(Double(gelu(Float(x))) - tanhForm)
        }.max()!
        #expect(gap > 5e-5)
    }

    @Test func seededRandomSourceIsDeterministicAndUniform() {
        var a = SeededRandomSource(seed: 42)
        var b = SeededRandomSource(seed: 42)
        var c = SeededRandomSource(seed: 43)
        let sa = (0..<8).map { _ in a.next() }
        #expect(sa == (0..<8).map { _ in b.next() })
        #expect(sa != (0..<8).map { _ in c.next() })
        var r = SeededRandomSource(seed: 7)
        let mean = (0..<20000).map { _ in r.nextUnit() }.reduce(0, +) / 20000
        #expect(abs(mean - 0.5) < 0.01)
    }
}
