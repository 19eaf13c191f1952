import Foundation
import Tensors
import Testing

/// Kernels against naive double-precision loops written from their mathematical definitions.
@Suite struct KernelTests {
    static func randomValues(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var random = SeededRandomSource(seed: seed)
        return (0..<count).map { _ in scale * random.nextGaussian() }
    }

    /// A random weight in `format` and, independently decoded from the raw storage, its fp64 values.
    static func randomWeight(_ format: WeightFormat, rows: Int, columns: Int, groups: Int, seed: UInt64)
        -> (WeightMatrix, [Double])
    {
        var random = SeededRandomSource(seed: seed)
        let count = rows * columns
        let groupSize = columns / groups
        switch format {
        case .float32:
            let v = (0..<count).map { _ in 0.1 * random.nextGaussian() }
            return (WeightMatrix(rows: rows, columns: columns, storage: .float32(v)), v.map(Double.init))
        case .float16:
            let v = (0..<count).map { _ in Float16(0.1 * random.nextGaussian()) }
            return (WeightMatrix(rows: rows, columns: columns, storage: .float16(v)), v.map { Double(Float($0)) })
        case .bfloat16:
            let v = (0..<count).map { _ in UInt16((0.1 * random.nextGaussian()).bitPattern >> 16) }
            return (
                WeightMatrix(rows: rows, columns: columns, storage: .bfloat16(v)),
                v.map { Double(Float(bitPattern: UInt32($0) << 16)) }
            )
        case .int8:
            let q = (0..<count).map { _ in Int8(Int(random.next() % 255) - 127) }
            let scales = (0..<(rows * groups)).map { _ in Float16(0.001 + 0.01 * Float(random.nextUnit())) }
            let values = (0..<count).map { i in
                Double(q[i]) * Double(Float(scales[(i / columns) * groups + (i % columns) / groupSize]))
            }
            return (
                WeightMatrix(rows: rows, columns: columns, storage: .int8(values: q, scales: scales, groups: groups)),
                values
            )
        case .int4:
            let q = (0..<count).map { _ in Int(random.next() % 15) - 7 }
            var packed = [UInt8](repeating: 0, count: count / 2)
            for i in stride(from: 0, to: count, by: 2) {
                packed[i / 2] = UInt8(q[i] & 0xF) << 4 | UInt8(q[i + 1] & 0xF)  // even element high
            }
            let scales = (0..<(rows * groups)).map { _ in Float16(0.01 + 0.1 * Float(random.nextUnit())) }
            let values = (0..<count).map { i in
                Double(q[i]) * Double(Float(scales[(i / columns) * groups + (i % columns) / groupSize]))
            }
            return (
                WeightMatrix(
                    rows: rows, columns: columns, storage: .int4(packed: packed, scales: scales, groups: groups)),
                values
            )
        }
    }

    static let shapes = [(1, 8, 5), (3, 64, 48), (17, 300, 129), (2, 4096, 3), (8, 128, 257), (40, 96, 33)]

    /// Relative error bound (against the sum of |x w|) of `linear` per format: the decode kernels and sgemm
    /// accumulate in fp32 (1e-5); the prefill kernels round activations to bf16 (2^-8, twice that for fp16 weights
    /// rounded to bf16) or quantise them per row to int8 (up to ~2%), see PrefillKernels.
    static func tolerance(_ format: WeightFormat, rows: Int, precision: MatmulPrecision) -> Double {
        if precision == .exact { return 1e-5 }
        // Fast decode quantises activations only for int8/int4 weights, on AVX512-VNNI or AVX2
        // (QuantizedDecodeKernels).
        let quantised = (format == .int8 || format == .int4) && QuantizedDecodeKernels.isAvailable
        if rows <= DecodeKernels.fastPrecisionRows && !quantised { return 1e-5 }
        if rows > DecodeKernels.fastPrecisionRows && !PrefillKernels.handles(format) { return 1e-5 }
        switch format {
        case .float32: return 1e-5
        case .bfloat16: return 2.0 / 256
        case .float16: return 4.0 / 256
        case .int8, .int4: return 0.03
        }
    }

    @Test(arguments: WeightFormat.allCases, [1, 2])
    func referencePathIsExact(format: WeightFormat, groups: Int) {
        checkLinear(format: format, groups: groups, exact: true, precision: .exact)
    }

    @Test(arguments: WeightFormat.allCases, MatmulPrecision.allCases)
    func linearMatchesNaiveProduct(format: WeightFormat, precision: MatmulPrecision) {
        for groups in [1, 2] { checkLinear(format: format, groups: groups, exact: false, precision: precision) }
    }

    /// The reference path splits a weight of several widening tiles (4096 columns: 128 rows per tile, so 300 rows
    /// are 3 tiles) over the compute threads, each multiplying its own tiles: the naive product within fp32
    /// accumulation error at 1, 2 and 3 threads. (Not compared bit for bit: other tests running in parallel may
    /// change OpenBLAS's global thread count in between.)
    @Test(arguments: [WeightFormat.float16, .int4])
    func referencePathSplitsTilesOverThreads(format: WeightFormat) {
        let (rows, inner, outputs) = (40, 4096, 300)
        let x = Self.randomValues(rows * inner, seed: 4)
        let (weight, w) = Self.randomWeight(format, rows: outputs, columns: inner, groups: 2, seed: 5)
        let saved = ComputeThreads.count
        defer { ComputeThreads.count = saved }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            ComputeThreads.count = threads
            var y = [Float](repeating: .nan, count: rows * outputs)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    referenceLinear(xp.baseAddress!, rows: rows, weight: weight, into: yp.baseAddress!)
                }
            }
            results.append(y)
        }
        let (expected, magnitudes) = DecodeKernelTests.reference(
            x, rows: rows, weight: w, outputs: outputs, inner: inner)
        let worst = results.map { y in
            y.indices.map {
                let error = abs(Double(y[$0]) - expected[$0]) / max(1, magnitudes[$0])
                return error.isNaN ? .infinity : error  // an unwritten output (NaN) fails
            }.max()!
        }
        #expect(worst.allSatisfy { $0 < 1e-5 }, "\(format): \(worst) at 1, 2, 3 threads")
    }

    func checkLinear(format: WeightFormat, groups: Int, exact: Bool, precision: MatmulPrecision) {
        for (rows, inner, outputs) in Self.shapes {
            let x = Self.randomValues(rows * inner, seed: 1)
            let (weight, w) = Self.randomWeight(format, rows: outputs, columns: inner, groups: groups, seed: 2)
            let bias = Self.randomValues(outputs, seed: 3)
            var y = [Float](repeating: .nan, count: rows * outputs)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    if exact {
                        referenceLinear(xp.baseAddress!, rows: rows, weight: weight, into: yp.baseAddress!)
                        addBias(bias, rows: rows, into: yp.baseAddress!)
                    } else {
                        linear(
                            xp.baseAddress!, rows: rows, weight: weight, bias: bias, into: yp.baseAddress!,
                            precision: precision)
                    }
                }
            }
            var worst = 0.0
            for r in 0..<rows {
                for o in 0..<outputs {
                    var sum = Double(bias[o])
                    var magnitude = abs(sum)
                    for k in 0..<inner {
                        sum += Double(x[r * inner + k]) * w[o * inner + k]
                        magnitude += abs(Double(x[r * inner + k]) * w[o * inner + k])
                    }
                    // fp32 accumulation: error bounded by a few ulps of the sum of magnitudes.
                    worst = max(worst, abs(Double(y[r * outputs + o]) - sum) / max(1, magnitude))
                }
            }
            let bound = exact ? 1e-5 : Self.tolerance(format, rows: rows, precision: precision)
            #expect(worst < bound, "\(format) groups \(groups) shape \(rows)x\(inner)x\(outputs): \(worst)")
        }
    }

    /// `widenRows` (the reference path's and the embedding's decoder) gives exactly the stored values times their
    /// group's scale, decoded independently by `randomWeight`, for every format, several groups per row (odd int4
    /// group sizes included, whose groups split bytes) and row ranges that start inside the matrix.
    @Test(arguments: WeightFormat.allCases)
    func widenRowsDecodesEveryFormatExactly(format: WeightFormat) {
        for (rows, columns, groups) in [(5, 6, 2), (7, 30, 3), (4, 64, 1), (3, 96, 4)] {
            let (weight, w) = KernelTests.randomWeight(format, rows: rows, columns: columns, groups: groups, seed: 21)
            let (start, count) = (1, rows - 2)
            var out = [Float](repeating: .nan, count: count * columns)
            out.withUnsafeMutableBufferPointer { weight.widenRows(start, count: count, into: $0.baseAddress!) }
            let expected = (0..<(count * columns)).map { Float(w[start * columns + $0]) }
            #expect(out == expected, "\(format) \(rows)x\(columns), \(groups) groups")
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
