import Foundation
import Testing

@testable import Tensors

/// The vectorised activation kernels against their Double definitions, on every instruction-set path.
@Suite struct VectorKernelTests {
    static let paths = DecodeKernels.InstructionSet.allCases

    static func random(_ count: Int, seed: UInt64, scale: Float = 1, offset: Float = 0) -> [Float] {
        var source = SeededRandomSource(seed: seed)
        return (0..<count).map { _ in offset + scale * (2 * Float(source.nextUnit()) - 1) }
    }

    @Test(arguments: paths) func erfIsWithin2e7OfTheExactErf(path: DecodeKernels.InstructionSet) {
        // Dense grid over [-8, 8] plus extremes, tiny values, infinities.
        var x = (0...400_000).map { Float(-8 + 16 * Double($0) / 400_000) }
        x += [0, -0, 1e-30, -1e-30, 1e-8, 0.84375, -0.84375, 1.25, -1.25, 2.857142, 3.9999, 4, 4.0001, 10, -10, 1e30]
        x += [-1e30, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var y = [Float](repeating: 0, count: x.count)
        VectorKernels.erf(x, into: &y, count: x.count, instructionSet: path)
        var worst = 0.0
        for (input, output) in zip(x, y) {
            worst = max(worst, abs(Double(output) - Foundation.erf(Double(input))))
        }
        #expect(worst < 2e-7, "\(path): max |erf error| \(worst)")
        #expect(y[x.count - 4] == 1 && y[x.count - 3] == -1 && y[x.count - 1] == 1)
    }

    @Test(arguments: paths) func geluIsTheExactErfFormNotTanh(path: DecodeKernels.InstructionSet) {
        let x = (0...24_000).map { Float(-12 + Double($0) / 1000) }
        var y = [Float](repeating: 0, count: x.count)
        VectorKernels.gelu(x, into: &y, count: x.count, instructionSet: path)
        var worst = 0.0
        var tanhGap = 0.0
        for (input, output) in zip(x, y) {
            let v = Double(input)
            let exact = 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
            let tanhForm = 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            worst = max(worst, abs(Double(output) - exact) / max(1, abs(exact)))
            tanhGap = max(tanhGap, abs(Double(output) - tanhForm))
        }
        #expect(worst < 3e-7, "\(path): \(worst)")
        #expect(tanhGap > 5e-5)
        // Agrees with the scalar Foundation-erf form used as the reference.
        for v in stride(from: Float(-6), through: 6, by: 0.37) {
            var out: Float = 0
            var input = v
            VectorKernels.gelu(&input, into: &out, count: 1, instructionSet: path)
            #expect(abs(out - gelu(v)) <= 4e-7 * max(1, abs(v)))
        }
    }

    @Test(arguments: paths) func gegluGatesTheLinearHalf(path: DecodeKernels.InstructionSet) {
        for rows in [1, 3] {
            let f = 1000
            let u = Self.random(rows * 2 * f, seed: 11, scale: 5)
            var out = [Float](repeating: 0, count: rows * f)
            VectorKernels.geglu(u, rows: rows, halfWidth: f, into: &out, instructionSet: path)
            for r in 0..<rows {
                for j in 0..<f {
                    let expected = u[r * 2 * f + j] * gelu(u[r * 2 * f + f + j])
                    #expect(abs(out[r * f + j] - expected) <= 1e-6 * max(1, abs(expected)))
                }
            }
        }
    }

    /// The in-place form against the definition, for row counts that end waves early, exactly and between
    /// powers of two (a wave scheduled too soon would read a row already overwritten by its result).
    @Test(arguments: paths) func gegluInPlacePacksEveryRowsResult(path: DecodeKernels.InstructionSet) {
        for rows in [1, 2, 3, 4, 5, 8, 13, 64, 100] {
            let f = 37
            let u = Self.random(rows * 2 * f, seed: UInt64(rows), scale: 5)
            var inPlace = u
            VectorKernels.gegluInPlace(&inPlace, rows: rows, halfWidth: f, instructionSet: path)
            var mismatches = 0
            for r in 0..<rows {
                for j in 0..<f {
                    let expected = u[r * 2 * f + j] * gelu(u[r * 2 * f + f + j])
                    if abs(inPlace[r * f + j] - expected) > 1e-6 * max(1, abs(expected)) { mismatches += 1 }
                }
            }
            #expect(mismatches == 0, "\(path), \(rows) rows: \(mismatches) wrong values")
        }
    }

    @Test(arguments: paths) func maskedSoftmaxFollowsTheLayoutRule(path: DecodeKernels.InstructionSet) {
        for (rows, columns, firstQuery, prefix) in [(5, 37, 32, 20), (17, 17, 0, 9), (3, 100, 97, 150), (1, 1, 0, 0)] {
            let input = Self.random(rows * columns, seed: 3, scale: 30, offset: 900)
            var values = input
            VectorKernels.maskedSoftmax(
                &values, rows: rows, columns: columns, stride: columns, firstQuery: firstQuery,
                bidirectionalPrefix: prefix, instructionSet: path)
            for r in 0..<rows {
                let query = firstQuery + r
                let masked = (0..<columns).map { c in
                    c < prefix || c <= query ? Double(input[r * columns + c]) : -10000
                }
                let top = masked.max()!
                let exps = masked.map { Foundation.exp($0 - top) }
                let total = exps.reduce(0, +)
                for c in 0..<columns {
                    #expect(abs(Double(values[r * columns + c]) - exps[c] / total) < 1e-6)
                }
            }
        }
    }

    @Test(arguments: paths) func layerNormMatchesTheDoubleDefinition(path: DecodeKernels.InstructionSet) {
        for width in [32, 37, 1000, 2048, 12288] {
            for offset: Float in [0, 100, -3000] {
                let rows = 3
                let x = Self.random(rows * width, seed: UInt64(width), scale: 2, offset: offset)
                let weight = Self.random(width, seed: 5, scale: 1, offset: 1)
                let bias = Self.random(width, seed: 6)
                var y = [Float](repeating: 0, count: rows * width)
                VectorKernels.layerNorm(
                    x, rows: rows, width: width, weight: weight, bias: bias, epsilon: 1e-5, into: &y,
                    instructionSet: path)
                for r in 0..<rows {
                    let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
                    let mean = row.reduce(0, +) / Double(width)
                    let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
                    var worst = 0.0
                    for i in 0..<width {
                        let normal = (row[i] - mean) / (variance + 1e-5).squareRoot()
                        let expected = normal * Double(weight[i]) + Double(bias[i])
                        // fp32 rounding of x itself is ~|offset| * 6e-8 / std: the bound scales with it.
                        let scale = max(1, abs(Double(weight[i]) * normal), abs(Double(weight[i])))
                        worst = max(worst, abs(Double(y[r * width + i]) - expected) / scale)
                    }
                    #expect(worst < 1e-5 * max(1, Double(abs(offset)) / 100), "width \(width) offset \(offset)")
                }
            }
        }
    }

    /// fp32 keys and values, and (`halfCache`) the fp16 KV cache kernel, whose reference uses the keys and values
    /// rounded by Swift's own `Float16` conversion.
    @Test(arguments: paths, [false, true])
    func attentionHeadMatchesScoresSoftmaxValues(path: DecodeKernels.InstructionSet, halfCache: Bool) {
        for (n, d, total, prefix) in [(1, 128, 300, 100), (4, 64, 40, 10), (2, 72, 5, 0), (1, 20, 9, 0)] {
            let firstQuery = total - n
            let q = Self.random(n * d, seed: 1, scale: 2)
            var keys = Self.random(total * d, seed: 2, scale: 2)
            var values = Self.random(total * d, seed: 3)
            let halfKeys = keys.map { Float16($0).bitPattern }, halfValues = values.map { Float16($0).bitPattern }
            if halfCache {
                keys = halfKeys.map { Float(Float16(bitPattern: $0)) }
                values = halfValues.map { Float(Float16(bitPattern: $0)) }
            }
            let scale = 1 / Float(d).squareRoot()
            var scores = [Float](repeating: 0, count: n * total)
            let stride = d + 3
            var out = [Float](repeating: .nan, count: n * stride)
            if halfCache {
                VectorKernels.attentionHead(
                    queries: q, rows: n, headDimension: d, halfKeys: halfKeys, values: halfValues, total: total,
                    scale: scale, firstQuery: firstQuery, bidirectionalPrefix: prefix, scores: &scores, into: &out,
                    outStride: stride, instructionSet: path)
            } else {
                VectorKernels.attentionHead(
                    queries: q, rows: n, headDimension: d, keys: keys, values: values, total: total, scale: scale,
                    firstQuery: firstQuery, bidirectionalPrefix: prefix, scores: &scores, into: &out,
                    outStride: stride, instructionSet: path)
            }
            for i in 0..<n {
                let logits = (0..<total).map { c -> Double in
                    guard c < prefix || c <= firstQuery + i else { return -10000 }
                    return (0..<d).reduce(0.0) { $0 + Double(q[i * d + $1]) * Double(keys[c * d + $1]) } * Double(scale)
                }
                let top = logits.max()!
                let weights = logits.map { Foundation.exp($0 - top) }
                let total2 = weights.reduce(0, +)
                for j in 0..<d {
                    let expected = (0..<total).reduce(0.0) { $0 + weights[$1] / total2 * Double(values[$1 * d + j]) }
                    #expect(abs(Double(out[i * stride + j]) - expected) < 2e-6)
                }
            }
        }
    }

    /// Grouped decode attention (n query heads sharing one key/value head, every cached token visible) against the
    /// Double definition of each head's scores, softmax and weighted values.
    @Test(arguments: paths, [false, true])
    func groupAttentionMatchesScoresSoftmaxValuesPerHead(path: DecodeKernels.InstructionSet, halfCache: Bool) {
        for (n, d, total) in [(8, 128, 300), (2, 16, 1), (3, 72, 37), (16, 64, 9)] {
            let q = Self.random(n * d, seed: 11, scale: 2)
            var keys = Self.random(total * d, seed: 12, scale: 2)
            var values = Self.random(total * d, seed: 13)
            let halfKeys = keys.map { Float16($0).bitPattern }, halfValues = values.map { Float16($0).bitPattern }
            if halfCache {
                keys = halfKeys.map { Float(Float16(bitPattern: $0)) }
                values = halfValues.map { Float(Float16(bitPattern: $0)) }
            }
            let scale = 1 / Float(d).squareRoot()
            var scores = [Float](repeating: 0, count: n * total)
            var out = [Float](repeating: .nan, count: n * d)
            func run(_ k: UnsafeRawPointer, _ v: UnsafeRawPointer) {
                VectorKernels.attentionGroup(
                    queries: q, heads: n, queryStride: d, headDimension: d, keys: k, values: v, total: total,
                    scale: scale, half: halfCache, scores: &scores, into: &out, outStride: d, instructionSet: path)
            }
            if halfCache { run(halfKeys, halfValues) } else { run(keys, values) }
            for i in 0..<n {
                let logits = (0..<total).map { c in
                    (0..<d).reduce(0.0) { $0 + Double(q[i * d + $1]) * Double(keys[c * d + $1]) } * Double(scale)
                }
                let top = logits.max()!
                let weights = logits.map { Foundation.exp($0 - top) }
                let sum = weights.reduce(0, +)
                for j in 0..<d {
                    let expected = (0..<total).reduce(0.0) { $0 + weights[$1] / sum * Double(values[$1 * d + j]) }
                    #expect(abs(Double(out[i * d + j]) - expected) < 2e-6, "\(path) n \(n) d \(d) total \(total)")
                }
            }
        }
    }

    /// fp32 -> fp16 bits as Swift's `Float16` rounds them (nearest even; overflow, subnormals, zeros, infinities,
    /// NaN), and back exactly, on every path.
    @Test(arguments: paths) func halfConversionsMatchSwiftFloat16(path: DecodeKernels.InstructionSet) {
        var x = Self.random(10_000, seed: 9, scale: 70_000)
        x += Self.random(1_000, seed: 10, scale: 1e-6)
        x += [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, -1e-8, 2.9802322e-8, 2.9802326e-8, 5.9604645e-8]
        x += [1 + 0x1p-11, 1 + 0x1p-11 + 0x1p-20, 1 + 3 * 0x1p-11, .infinity, -.infinity, .nan, 0.1, 1 / 3]
        var half = [UInt16](repeating: 0, count: x.count)
        VectorKernels.narrowToHalf(x, into: &half, count: x.count, instructionSet: path)
        for (value, bits) in zip(x, half) {
            let expected = Float16(value)
            if expected.isNaN {
                #expect(Float16(bitPattern: bits).isNaN, "\(path): \(value)")
            } else {
                #expect(bits == expected.bitPattern, "\(path): \(value) -> \(bits), expected \(expected.bitPattern)")
            }
        }
        let every = (0...UInt16.max).map { $0 }
        var wide = [Float](repeating: 0, count: every.count)
        VectorKernels.widenHalf(every, into: &wide, count: every.count, instructionSet: path)
        for (bits, value) in zip(every, wide) {
            let expected = Float(Float16(bitPattern: bits))
            #expect(value.bitPattern == expected.bitPattern || (value.isNaN && expected.isNaN), "\(path): \(bits)")
        }
    }
}
