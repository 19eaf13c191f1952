import Tensors
import Testing

/// The exact GEMM against a double-precision product of the exactly dequantised weights, on shapes with tails in
/// every dimension (row blocks of 12 or 6, column blocks of 32 or 16, k chunks of 192, 16-element vectors, odd
/// scale groups), on every instruction-set path this CPU runs, at 1 and 2 threads. The bound is fp32 accumulation
/// alone, `k · 2^-24 · Σ_k |x_k w_k|`: a weight dequantised inexactly (a scale rounded, a nibble misread), a dropped
/// or doubled k chunk or a stale output exceeds it by orders of magnitude.
@Suite struct ExactGEMMKernelTests {
    static let paths = DecodeKernels.InstructionSet.allCases.filter {
        $0 != .portable && $0.rawValue <= (ExactGEMMKernels.best?.rawValue ?? 0)
    }

    /// (n, k, outputs); every k divides into 1, 2 and 3 groups, and 18 / 3 = 6 and 186 / 2 = 93 give odd groups.
    static let shapes: [(n: Int, k: Int, outputs: Int)] = [
        (1, 6, 1), (5, 18, 33), (12, 186, 31), (13, 198, 70), (16, 390, 64), (37, 96, 100), (300, 204, 40),
        (7, 1032, 17), (33, 2046, 48),
    ]

    /// Weights over each format's whole range: int8 -128 ... 127, int4 -8 ... 7, fp16/bf16 Gaussians with some
    /// subnormal and large values.
    static func weight(_ format: WeightFormat, rows: Int, columns k: Int, groups: Int, seed: UInt64)
        -> (WeightMatrix, [Double])
    {
        var random = SeededRandomSource(seed: seed)
        let count = rows * k
        let groupSize = k / groups
        func gaussian(_ i: Int) -> Float {
            let g = 0.1 * random.nextGaussian()
            return i % 97 == 5 ? g * 1e-6 : i % 89 == 3 ? g * 1000 : g
        }
        let scales = (0..<(rows * groups)).map { _ in Float16(0.001 + 0.01 * Float(random.nextUnit())) }
        func scale(_ i: Int) -> Double { Double(Float(scales[(i / k) * groups + (i % k) / groupSize])) }
        switch format {
        case .float32:
            let v = (0..<count).map(gaussian)
            return (WeightMatrix(rows: rows, columns: k, storage: .float32(v)), v.map(Double.init))
        case .float16:
            let v = (0..<count).map { Float16(gaussian($0)) }
            return (WeightMatrix(rows: rows, columns: k, storage: .float16(v)), v.map { Double(Float($0)) })
        case .bfloat16:
            let v = (0..<count).map { UInt16(gaussian($0).bitPattern >> 16) }
            let values = v.map { Double(Float(bitPattern: UInt32($0) << 16)) }
            return (WeightMatrix(rows: rows, columns: k, storage: .bfloat16(v)), values)
        case .int8:
            let q = (0..<count).map { _ in Int8(truncatingIfNeeded: random.next()) }
            let values = (0..<count).map { Double(q[$0]) * scale($0) }
            return (
                WeightMatrix(rows: rows, columns: k, storage: .int8(values: q, scales: scales, groups: groups)), values
            )
        case .int4:
            let q = (0..<count).map { _ in Int(random.next() % 16) - 8 }
            var packed = [UInt8](repeating: 0, count: count / 2)
            for i in stride(from: 0, to: count, by: 2) {
                packed[i / 2] = UInt8(q[i] & 0xF) << 4 | UInt8(q[i + 1] & 0xF)  // even element high
            }
            let values = (0..<count).map { Double(q[$0]) * scale($0) }
            let storage = WeightMatrix.Storage.int4(packed: packed, scales: scales, groups: groups)
            return (WeightMatrix(rows: rows, columns: k, storage: storage), values)
        }
    }

    @Test(
        .enabled(if: !paths.isEmpty, "no AVX2 on this CPU: the reference path runs instead"),
        arguments: WeightFormat.allCases, [1, 2, 3])
    func multiplyIsExactUpToAccumulation(format: WeightFormat, groups: Int) {
        let formatGroups = format == .int8 || format == .int4 ? groups : 1
        if formatGroups != groups { return }  // unquantized formats have no groups: run them once
        for path in Self.paths {
            for threads in [1, 2] {
                for (n, k, outputs) in Self.shapes {
                    check(format, groups: groups, n: n, k: k, outputs: outputs, path: path, threads: threads)
                }
            }
        }
    }

    func check(
        _ format: WeightFormat, groups: Int, n: Int, k: Int, outputs: Int, path: DecodeKernels.InstructionSet,
        threads: Int
    ) {
        let (weight, w) = Self.weight(format, rows: outputs, columns: k, groups: groups, seed: UInt64(k + outputs))
        var random = SeededRandomSource(seed: UInt64(n * 31 + k))
        let x = (0..<(n * k)).map { i in Float(random.nextGaussian()) * (i / k == 0 ? 1000 : 1) }
        var y = [Float](repeating: .nan, count: n * outputs)
        let handled = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                ExactGEMMKernels.multiply(
                    xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, instructionSet: path,
                    threads: threads)
            }
        }
        #expect(handled)
        var failures = 0
        for r in 0..<n {
            for o in 0..<outputs {
                var sum = 0.0, magnitude = 0.0
                for i in 0..<k {
                    let product = Double(x[r * k + i]) * w[o * k + i]
                    sum += product
                    magnitude += abs(product)
                }
                let bound = Double(k) * 0x1p-24 * magnitude * 1.01 + 1e-30
                let error = abs(Double(y[r * outputs + o]) - sum)
                if !(error <= bound) {
                    failures += 1
                    if failures <= 3 {
                        let value = y[r * outputs + o]
                        let message =
                            "\(format) g\(groups) \(path) t\(threads) \(n)x\(k)x\(outputs) y[\(r), \(o)] = \(value), "
                            + "reference \(sum), error \(error), bound \(bound)"
                        Issue.record(Comment(rawValue: message))
                    }
                }
            }
        }
    }

    /// An empty inner dimension gives zeros, and no rows or no outputs write nothing.
    @Test(.enabled(if: !paths.isEmpty, "no AVX2 on this CPU"))
    func degenerateShapes() {
        let weight = WeightMatrix(rows: 3, columns: 0, storage: .float16([]))
        var y = [Float](repeating: .nan, count: 6)
        let x: [Float] = []
        _ = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                ExactGEMMKernels.multiply(
                    xp.baseAddress ?? UnsafePointer(bitPattern: 64)!, rows: 2, weight: weight,
                    into: yp.baseAddress!)
            }
        }
        #expect(y == [Float](repeating: 0, count: 6))
    }
}
