import Distributed
import FoundationEssentials
import GLM
import Tensors

// The machine's limits, measured on this rank with its own threads: what decode (memory-bound) and prefill
// (compute-bound) are compared against. Probes run on every rank at once (after a barrier) so that ranks sharing a
// machine share its bandwidth as they do while decoding. The probe loops are `MachineProbeKernels` (Tensors).

/// One dot-product unit's measured peak.
struct DotUnitPeak: Codable, Sendable, Equatable {
    /// e.g. "vdpbf16ps (AVX512-BF16)".
    var name: String
    /// Operations per second (a multiply-add counts 2) over all of this rank's threads, in 10^9.
    var gigaOpsPerSecond: Double
    /// What the unit multiplies: "fp32", "bf16" or "int8".
    var kind: String

    enum CodingKeys: String, CodingKey {
        case name, kind
        case gigaOpsPerSecond = "peak_gops"
    }
}

/// What the probes measured on one rank.
struct MachineMeasurement: Codable, Sendable, Equatable {
    /// Median over the passes (what ratios use), and the best pass.
    var triadGBPerSecond: Double
    var triadBestGBPerSecond: Double
    var triadPasses: Int
    var triadArrayMiB: Int
    var sgemmGFLOPS: Double
    var sgemmSize: Int
    var dotUnits: [DotUnitPeak]
    var cpuFeatures: String
    /// OpenBLAS's kernel set (`BLAS.kernelName`), which the sgemm figure depends on.
    var blasKernels: String

    enum CodingKeys: String, CodingKey {
        case triadGBPerSecond = "triad_gb_per_s"
        case triadBestGBPerSecond = "triad_best_gb_per_s"
        case triadPasses = "triad_passes"
        case triadArrayMiB = "triad_array_mib"
        case sgemmGFLOPS = "sgemm_gflops"
        case sgemmSize = "sgemm_size"
        case dotUnits = "dot_units"
        case cpuFeatures = "cpu_features"
        case blasKernels = "blas_kernels"
    }

    /// The unit prefill runs on: with `prefillKernels` (fast precision, where `PrefillKernels.isFastest`) the
    /// kernels' unit for `format`, otherwise (and where the unit is missing) the fastest fp32 FMA unit, sgemm's.
    func dotUnit(for format: WeightFormat, prefillKernels: Bool) -> DotUnitPeak? {
        let wanted: String =
            switch format {
            case .float32: "fp32"
            case .float16, .bfloat16: "bf16"
            case .int8, .int4: "int8"
            }
        let fp32 = dotUnits.filter { $0.kind == "fp32" }.max { $0.gigaOpsPerSecond < $1.gigaOpsPerSecond }
        guard prefillKernels else { return fp32 }
        return dotUnits.first { $0.kind == wanted } ?? fp32
    }
}

enum MachineProbes {
    /// Runs every probe: `triadArrayBytes` per triad array (three arrays), `sgemmSize` for an n x n x n sgemm.
    /// `interleavedTriad` holds triad passes (GB/s) taken between the model's repeats; three more
    /// are taken here, and the triad reported is the median of all of them (best beside it): memory bandwidth on a
    /// shared host drifts by tens of percent within a minute, so the limit is sampled when the model runs, not
    /// only after it. `slowest` returns the largest of its argument over all ranks (identity for one process).
    static func measure(
        interleavedTriad: [Double], triadArrayBytes: Int, sgemmSize: Int, synchronise: () -> Void,
        slowest: (Double) -> Double
    ) -> MachineMeasurement {
        let passes =
            interleavedTriad
            + triadPasses(arrayBytes: triadArrayBytes, count: 3, synchronise: synchronise, slowest: slowest)
        synchronise()
        let sgemm = sgemmGFLOPS(size: sgemmSize)
        synchronise()
        let units = dotUnitPeaks()
        return MachineMeasurement(
            triadGBPerSecond: median(passes), triadBestGBPerSecond: passes.max() ?? 0, triadPasses: passes.count,
            triadArrayMiB: triadArrayBytes >> 20, sgemmGFLOPS: sgemm, sgemmSize: sgemmSize, dotUnits: units,
            cpuFeatures: CPUFeatures.summary, blasKernels: BLAS.kernelName)
    }

    /// The median of triad passes (the mean of the middle two for an even count); 0 for none.
    static func median(_ passes: [Double]) -> Double {
        guard !passes.isEmpty else { return 0 }
        let sorted = passes.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// `count` timed passes (GB/s each) of a STREAM triad `a = b + s c` over three fp32 arrays of `arrayBytes`
    /// each, split over the compute threads, after a warm-up pass, counting 12 bytes per element (STREAM's
    /// convention, no write-allocate traffic). The arrays live only during the call.
    ///
    /// Under mpirun every pass starts after a barrier on all ranks and lasts as long as its slowest rank, and each
    /// rank reports its bytes over that common time: the ranks' figures then add up to the bandwidth they drew
    /// together, which is what concurrent decoding ranks share. (Best-of-five per rank, unsynchronised, summed
    /// passes that did not overlap and overstated the job's bandwidth about twofold on one machine.)
    static func triadPasses(
        arrayBytes: Int, count passes: Int, synchronise: () -> Void, slowest: (Double) -> Double
    ) -> [Double] {
        let count = max(1024, arrayBytes / 4)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        let pointers = UncheckedPointer(a)
        let bp = UncheckedPointer(b)
        let cp = UncheckedPointer(c)
        // First touch on the threads that will stream the pages.
        ComputeThreads.parallelFor(count, minimumChunk: 1 << 16) { range in
            for i in range {
                pointers.pointer[i] = 0
                bp.pointer[i] = 1
                cp.pointer[i] = 2
            }
        }
        var rates: [Double] = []
        for pass in 0...passes {
            synchronise()
            let start = ForwardProfile.now()
            ComputeThreads.parallelFor(count, minimumChunk: 1 << 16) { range in
                MachineProbeKernels.triad(pointers.pointer, bp.pointer, cp.pointer, scalar: 3, range: range)
            }
            let seconds = slowest(Double(ForwardProfile.now() - start) * 1e-9)
            if pass > 0 { rates.append(Double(12 * count) / seconds / 1e9) }
        }
        return rates
    }

    /// OpenBLAS sgemm `C[n, n] = A[n, n] B[n, n]^T` with the rank's BLAS threads: the best of three after a
    /// warm-up, 2 n^3 FLOP each.
    static func sgemmGFLOPS(size n: Int) -> Double {
        var random = SeededRandomSource(seed: 7)
        let a = (0..<(n * n)).map { _ in Float(random.nextUnit()) - 0.5 }
        let b = (0..<(n * n)).map { _ in Float(random.nextUnit()) - 0.5 }
        var c = [Float](repeating: 0, count: n * n)
        var best = Double.infinity
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    for pass in 0..<4 {
                        let start = ForwardProfile.now()
                        BLAS.sgemm(
                            m: n, n: n, k: n, a: a.baseAddress!, lda: n, b: b.baseAddress!, ldb: n, transposeB: true,
                            c: c.baseAddress!, ldc: n)
                        let seconds = Double(ForwardProfile.now() - start) * 1e-9
                        if pass > 0 { best = min(best, seconds) }
                    }
                }
            }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// Peak of every unit this CPU has: each compute thread runs the unit's loop of independent accumulators for
    /// about 0.2 s; the best of three rounds.
    static func dotUnitPeaks() -> [DotUnitPeak] {
        MachineProbeKernels.DotProductUnit.allCases.compactMap { unit in
            guard unit.isAvailable else { return nil }
            // Calibrate on one thread: iterations for about 0.2 s.
            let probe = 200_000
            let start = ForwardProfile.now()
            unit.runPeakLoop(iterations: probe)
            let probeSeconds = max(Double(ForwardProfile.now() - start) * 1e-9, 1e-6)
            let iterations = max(probe, Int(Double(probe) * 0.2 / probeSeconds))
            let threads = ComputeThreads.count
            var best = Double.infinity
            for _ in 0..<3 {
                let begin = ForwardProfile.now()
                ComputeThreads.parallelFor(threads) { range in
                    for _ in range { unit.runPeakLoop(iterations: iterations) }
                }
                best = min(best, Double(ForwardProfile.now() - begin) * 1e-9)
            }
            let ops = Double(unit.operationsPerIteration) * Double(iterations) * Double(threads)
            return DotUnitPeak(name: unit.name, gigaOpsPerSecond: ops / best / 1e9, kind: unit.kind)
        }
    }

    /// Array bytes for the triad: `requested`, or less when three arrays on each of `ranksHere` ranks would take
    /// more than half the memory available now (never below 16 MiB).
    static func triadArrayBytes(requested: Int, ranksHere: Int) -> Int {
        guard let available = ProcessResources.availableMemoryBytes else { return requested }
        let limit = available / 2 / (3 * max(1, ranksHere))
        return max(16 << 20, min(requested, limit))
    }
}
