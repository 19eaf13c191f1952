import CKernels
import Foundation
import Tensors
import Testing

/// The prefill GEMM kernels against a naive double-precision product of the exact stored weights, with the error
/// bounds `PrefillKernels` documents: a worst-case bound relative to `Σ_k |x_k w_k|`, and an 8-sigma bound on the
/// unbiased rounding noise, which is tight enough to catch a dropped k block or a wrong scale.
@Suite struct PrefillKernelTests {
    static let formats: [WeightFormat] = [.bfloat16, .float16, .int8, .int4]

    /// Shapes with tails in every dimension: partial row blocks (12), column blocks (32), k blocks (256 or 512),
    /// odd group sizes in quads, and sizes spanning several blocks. `checkedRows` samples rows of the large ones.
    static let shapes: [(n: Int, k: Int, outputs: Int)] = [
        (9, 32, 16), (9, 100, 50), (16, 100, 256), (16, 1024, 50), (33, 32, 256), (33, 1024, 16), (33, 2048, 50),
        (16, 2048, 256), (9, 1024, 1000), (512, 100, 50), (512, 1024, 256), (512, 2048, 1000),
    ]

    /// Whether this CPU has every dot-product unit the kernels use (AVX512-BF16 and AVX512-VNNI).
    static let unitsPresent = PrefillKernels.handles(.bfloat16) && PrefillKernels.handles(.int8)

    /// The formats with a kernel on this CPU (a CPU may have VNNI without BF16); the others are checked by
    /// `unsupportedCPUFallsBackToExactProducts` instead.
    static let formatsWithKernels = formats.filter { PrefillKernels.handles($0) }
    static let formatsWithoutKernels = formats.filter { !PrefillKernels.handles($0) }

    @Test(
        .enabled(if: !formatsWithKernels.isEmpty, "no AVX512-BF16/VNNI on this CPU"),
        arguments: formatsWithKernels, [1, 2])
    func multiplyMatchesDoubleReference(format: WeightFormat, groups: Int) throws {
        var worstRelative = 0.0
        for (n, k, outputs) in Self.shapes {
            worstRelative = max(
                worstRelative, check(format: format, groups: groups, n: n, k: k, outputs: outputs))
        }
        // The worst-case bounds in the brief's metric: 2^-8 (bf16), 2^-7 (fp16 rounded to bf16), and for int8
        // s/2 · Σ|w| / Σ|x w| ≈ (max|x| / mean|x|) / 254 ≈ 2% for Gaussian rows; observed errors sit far below.
        let limit: Double =
            switch format {
            case .bfloat16: 0x1p-8
            case .float16: 0x1p-7
            default: 0.02
            }
        #expect(worstRelative < limit, "\(format) groups \(groups): worst |y - ref| / Σ|x w| = \(worstRelative)")
    }

    /// The AVX2 int8 kernel (`vpmaddubsw`, the unit of CPUs without AVX512-VNNI) under the same bounds, on every
    /// shape; it quantises activations as the VNNI kernel does, so the bounds are the same.
    @Test(
        .enabled(if: PrefillKernels.Int8Unit.avx2.isSupported, "no AVX2 on this CPU"),
        arguments: [WeightFormat.int8, .int4], [1, 2])
    func avx2Int8KernelMatchesDoubleReference(format: WeightFormat, groups: Int) throws {
        var worstRelative = 0.0
        for (n, k, outputs) in Self.shapes {
            worstRelative = max(
                worstRelative, check(format: format, groups: groups, n: n, k: k, outputs: outputs, int8Unit: .avx2))
        }
        #expect(worstRelative < 0.02, "\(format) groups \(groups): worst |y - ref| / Σ|x w| = \(worstRelative)")
    }

    /// An int8 weight of -128 (outside the official [-127, 127], but storable) stays exact on the AVX2 kernel, whose
    /// vpsignb trick would overflow if it put the sign on the weight: the product matches the VNNI kernel's where
    /// both run, and the exact product within the activation-rounding bound everywhere.
    @Test(.enabled(if: PrefillKernels.Int8Unit.avx2.isSupported, "no AVX2 on this CPU"))
    func avx2Int8KernelKeepsMinus128() {
        let (n, k, outputs) = (5, 64, 20)
        var random = SeededRandomSource(seed: 3)
        let x = (0..<(n * k)).map { _ in Float(random.nextGaussian()) }
        let q = (0..<(outputs * k)).map { i in i % 3 == 0 ? Int8(-128) : Int8(truncatingIfNeeded: random.next()) }
        let scales = [Float16](repeating: 0.01, count: outputs)
        let weight = WeightMatrix(rows: outputs, columns: k, storage: .int8(values: q, scales: scales, groups: 1))
        func run(_ unit: PrefillKernels.Int8Unit) -> [Float] {
            var y = [Float](repeating: .nan, count: n * outputs)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    _ = PrefillKernels.multiply(
                        xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, int8Unit: unit)
                }
            }
            return y
        }
        let avx2 = run(.avx2)
        for r in 0..<n {
            let largest = (0..<k).map { abs(x[r * k + $0]) }.max()!
            for o in 0..<outputs {
                let scale = Double(Float(scales[o]))
                var exact = 0.0, weights = 0.0
                for i in 0..<k {
                    exact += Double(x[r * k + i]) * Double(q[o * k + i]) * scale
                    weights += abs(Double(q[o * k + i]) * scale)
                }
                let bound = Double(largest) / 127 / 2 * weights * 1.01 + 1e-6
                #expect(abs(Double(avx2[r * outputs + o]) - exact) <= bound, "y[\(r), \(o)]")
            }
        }
        if PrefillKernels.Int8Unit.vnni.isSupported {
            let vnni = run(.vnni)
            for i in 0..<avx2.count { #expect(abs(avx2[i] - vnni[i]) <= 1e-5 * max(1, abs(vnni[i]))) }
        }
    }

    /// Runs one product and checks every sampled output against both bounds; returns the worst relative error.
    func check(
        format: WeightFormat, groups: Int, n: Int, k: Int, outputs: Int, int8Unit: PrefillKernels.Int8Unit? = nil
    ) -> Double {
        var x = KernelTests.randomValues(n * k, seed: UInt64(n * 7 + k))
        for i in 0..<k {
            x[i] *= 1000  // row 0 far larger than the rest: scales are per row
            x[(n - 1) * k + i] = 0  // last row zero: the int8 scale is 0 there
        }
        let (weight, w) = KernelTests.randomWeight(format, rows: outputs, columns: k, groups: groups, seed: 11)
        var y = [Float](repeating: .nan, count: n * outputs)
        let handled = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                PrefillKernels.multiply(
                    xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!, int8Unit: int8Unit)
            }
        }
        #expect(handled)
        let step = n > 64 ? 61 : 1
        var worst = 0.0
        var failures = 0
        let wSums = (0..<outputs).map { o in
            w[(o * k)..<((o + 1) * k)].reduce((0.0, 0.0)) { ($0.0 + abs($1), $0.1 + $1 * $1) }
        }
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                for r in Swift.stride(from: 0, to: n, by: step).map({ $0 }) + [n - 1] {
                    let row = x.baseAddress! + r * k
                    var largest: Float = 0
                    for i in 0..<k { largest = max(largest, abs(row[i])) }
                    let xScale = Double(largest / 127)
                    for o in 0..<outputs {
                        let wRow = w.baseAddress! + o * k
                        var sum = 0.0, magnitude = 0.0, squares = 0.0
                        for i in 0..<k {
                            let product = Double(row[i]) * wRow[i]
                            sum += product
                            magnitude += abs(product)
                            squares += product * product
                        }
                        let (wMagnitude, wSquares) = wSums[o]
                        let (worstCase, noise) = Self.bounds(
                            format, k: k, magnitude: magnitude, squares: squares, xScale: xScale,
                            wMagnitude: wMagnitude, wSquares: wSquares)
                        let error = abs(Double(y[r * outputs + o]) - sum)
                        if !(error <= worstCase && error <= noise) {
                            failures += 1
                            if failures <= 3 {
                                let message =
                                    "\(format) g\(groups) \(n)x\(k)x\(outputs) y[\(r), \(o)] = \(y[r * outputs + o]), "
                                    + "reference \(sum), error \(error), bounds \(worstCase) / \(noise)"
                                Issue.record(Comment(rawValue: message))
                            }
                        }
                        if magnitude > 0 { worst = max(worst, error / magnitude) }
                    }
                }
            }
        }
        return worst
    }

    /// (worst case, 8 sigma of the rounding noise) for one output, from the sums of the exact products.
    static func bounds(
        _ format: WeightFormat, k: Int, magnitude: Double, squares: Double, xScale: Double, wMagnitude: Double,
        wSquares: Double
    ) -> (Double, Double) {
        let accumulation = Double(k) * 0x1p-24 * magnitude + 1e-30
        switch format {
        case .bfloat16, .float16:
            let roundings = format == .float16 ? 2.0 : 1.0  // fp16 weights are rounded to bf16 as well
            let worstCase = roundings * 0x1p-8 * magnitude + accumulation
            let noise = 8 * 0x1p-8 * (roundings * squares / 3).squareRoot() + 0x1p-20 * magnitude + 1e-30
            return (worstCase, noise)
        default:
            let worstCase = xScale / 2 * wMagnitude + accumulation
            let noise = 8 * xScale / 12.0.squareRoot() * wSquares.squareRoot() + 0x1p-20 * magnitude + 1e-30
            return (worstCase, noise)
        }
    }

    @Test func fp32WeightsAreLeftToSgemm() {
        #expect(!PrefillKernels.handles(.float32))
        let (weight, _) = KernelTests.randomWeight(.float32, rows: 16, columns: 32, groups: 1, seed: 1)
        let x = [Float](repeating: 1, count: 16 * 32)
        var y = [Float](repeating: 0, count: 16 * 16)
        let handled = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                PrefillKernels.multiply(xp.baseAddress!, rows: 16, weight: weight, into: yp.baseAddress!)
            }
        }
        #expect(!handled)
    }

    /// Without its unit `multiply` declines a format, and `linear(precision: .fast)` computes the exact product
    /// (the exact path) instead of failing or rounding.
    @Test(.enabled(if: !formatsWithoutKernels.isEmpty, "this CPU has the units; the kernel tests above run instead"))
    func unsupportedCPUFallsBackToExactProducts() {
        let (n, k, outputs) = (40, 96, 50)
        let x = KernelTests.randomValues(n * k, seed: 4)
        for format in Self.formatsWithoutKernels {
            let (weight, w) = KernelTests.randomWeight(format, rows: outputs, columns: k, groups: 2, seed: 8)
            var y = [Float](repeating: .nan, count: n * outputs)
            let declined = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    !PrefillKernels.multiply(xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!)
                }
            }
            let declinedAlone = !PrefillKernels.handles(format)
            #expect(declined && declinedAlone, "\(format): a kernel ran without its unit")
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    linear(xp.baseAddress!, rows: n, weight: weight, bias: nil, into: yp.baseAddress!, precision: .fast)
                }
            }
            var worst = 0.0
            for i in 0..<n {
                for o in 0..<outputs {
                    let exact = (0..<k).reduce(0.0) { $0 + Double(x[i * k + $1]) * w[o * k + $1] }
                    worst = max(worst, abs(Double(y[i * outputs + o]) - exact))
                }
            }
            #expect(worst < 1e-4, "\(format): fast precision without the units is off by \(worst)")
        }
    }

    /// Fast precision takes a format's kernel exactly where `isFastest` says so, and the exact path elsewhere
    /// (fp16/bf16 weights on CPUs whose vdpbf16ps is slower than their fp32 FMAs, e.g. Intel's).
    @Test(arguments: formats)
    func fastPrecisionTakesTheKernelOnlyWhereItIsFastest(format: WeightFormat) {
        let (n, k, outputs) = (40, 96, 50)
        let x = KernelTests.randomValues(n * k, seed: 9)
        let (weight, _) = KernelTests.randomWeight(format, rows: outputs, columns: k, groups: 2, seed: 10)
        func run(_ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
            var y = [Float](repeating: .nan, count: n * outputs)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { body(xp.baseAddress!, $0.baseAddress!) }
            }
            return y
        }
        let fast = run { linear($0, rows: n, weight: weight, bias: nil, into: $1, precision: .fast) }
        let exact = run { linear($0, rows: n, weight: weight, bias: nil, into: $1, precision: .exact) }
        if PrefillKernels.isFastest(for: format) {
            let kernel = run { _ = PrefillKernels.multiply($0, rows: n, weight: weight, into: $1) }
            #expect(fast == kernel, "\(format): fast precision did not take the kernel")
            #expect(fast != exact, "\(format): the kernel's rounding should show against the exact path")
        } else {
            #expect(fast == exact, "\(format): fast precision left the exact path where the kernel is slower")
        }
    }

    @Test(.enabled(if: unitsPresent, "no AVX512-BF16/VNNI on this CPU"))
    func multipleThreadsGiveTheSameResult() throws {
        let saved = ComputeThreads.count
        defer { ComputeThreads.count = saved }
        for format in [WeightFormat.bfloat16, .int4] {
            let (weight, _) = KernelTests.randomWeight(format, rows: 300, columns: 256, groups: 2, seed: 5)
            let x = KernelTests.randomValues(40 * 256, seed: 6)
            var results: [[Float]] = []
            for threads in [1, 3] {
                ComputeThreads.count = threads
                var y = [Float](repeating: .nan, count: 40 * 300)
                _ = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        PrefillKernels.multiply(xp.baseAddress!, rows: 40, weight: weight, into: yp.baseAddress!)
                    }
                }
                results.append(y)
            }
            #expect(results[0] == results[1])
        }
    }
}

/// Prefill throughput at the ~1B model's FFN shape against OpenBLAS sgemm and the units' peak loops, in the same
/// run. Only with `GLM_PREFILL_BENCH=1` and a release build:
/// `GLM_PREFILL_BENCH=1 swift test -c release --filter PrefillKernelBenchmark`.
@Suite struct PrefillKernelBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["GLM_PREFILL_BENCH"] != nil))
    func ffnShape() {
        let (n, k, outputs) = (512, 2048, 5632)
        let flops = 2.0 * Double(n * k * outputs)
        let x = KernelTests.randomValues(n * k, seed: 1)
        let formats: [WeightFormat] = [.float32, .bfloat16, .float16, .int8, .int4]
        let weights = formats.map { KernelTests.randomWeight($0, rows: outputs, columns: k, groups: 1, seed: 2).0 }
        var y = [Float](repeating: 0, count: n * outputs)
        let savedCompute = ComputeThreads.count
        let savedBLAS = BLAS.threadCount
        defer {
            ComputeThreads.count = savedCompute
            BLAS.threadCount = savedBLAS
        }
        func seconds(_ body: () -> Void) -> Double {
            body()
            var best = Double.infinity
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return best
        }
        print("prefill GEMM n=\(n) k=\(k) out=\(outputs), best of 5, GFLOP/s")
        for threads in [1, 2] {
            ComputeThreads.count = threads
            BLAS.threadCount = threads
            var line = "threads \(threads):"
            var sgemm = 0.0
            for (format, weight) in zip(formats, weights) {
                let time = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        seconds {
                            if format == .float32 {
                                referenceLinear(xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!)
                            } else {
                                _ = PrefillKernels.multiply(
                                    xp.baseAddress!, rows: n, weight: weight, into: yp.baseAddress!)
                            }
                        }
                    }
                }
                let rate = flops / time * 1e-9
                if format == .float32 { sgemm = rate }
                line += String(format: "  %@ %.1f (%.2fx sgemm)", format.rawValue, rate, rate / sgemm)
            }
            print(line)
        }
        let units = [
            ("fma-f32 zmm", CK_UNIT_FMA_F32_AVX512), ("vdpbf16ps", CK_UNIT_BF16_AVX512),
            ("vpdpbusd", CK_UNIT_VNNI_AVX512),
        ]
        for (name, unit) in units {
            guard ck_peak_available(unit) != 0 else { continue }
            let iterations = 20_000_000
            let time = seconds { _ = ck_peak_run(unit, iterations) }
            let ops = Double(iterations) * Double(ck_peak_accumulators()) * Double(ck_peak_ops_per_instruction(unit))
            print(String(format: "peak %@ (1 thread): %.1f G(FL)OP/s", name, ops / time * 1e-9))
        }
    }
}
