import CKernels
import Glibc

/// The machine-limit probe loops of `Sources/CKernels/peak.c` (a STREAM triad and one peak loop per dot-product
/// unit), typed for Swift, so that the benchmark above this module measures its limits without importing the C
/// shim. The loops are C for the same reason as the kernels: units chosen at run time need function-level target
/// attributes.
public enum MachineProbeKernels {
    /// A dot-product unit with a peak loop (`ck_unit` in C).
    public enum DotProductUnit: CaseIterable, Sendable {
        /// `vfmadd231ps ymm`: 16 FLOP per instruction (`CK_UNIT_FMA_F32_AVX2`).
        case fmaAVX2
        /// `vfmadd231ps zmm`: 32 FLOP per instruction (`CK_UNIT_FMA_F32_AVX512`).
        case fmaAVX512
        /// `vdpbf16ps zmm`: 64 FLOP per instruction (`CK_UNIT_BF16_AVX512`).
        case bf16AVX512
        /// `vpdpbusd zmm`: 128 integer operations per instruction (`CK_UNIT_VNNI_AVX512`).
        case vnniAVX512

        var unit: ck_unit {
            switch self {
            case .fmaAVX2: CK_UNIT_FMA_F32_AVX2
            case .fmaAVX512: CK_UNIT_FMA_F32_AVX512
            case .bf16AVX512: CK_UNIT_BF16_AVX512
            case .vnniAVX512: CK_UNIT_VNNI_AVX512
            }
        }

        /// The instruction and its extension, as reports print it.
        public var name: String {
            switch self {
            case .fmaAVX2: "vfmadd231ps ymm (AVX2 FMA)"
            case .fmaAVX512: "vfmadd231ps zmm (AVX-512)"
            case .bf16AVX512: "vdpbf16ps (AVX512-BF16)"
            case .vnniAVX512: "vpdpbusd (AVX512-VNNI)"
            }
        }

        /// What the unit multiplies: "fp32", "bf16" or "int8".
        public var kind: String {
            switch self {
            case .fmaAVX2, .fmaAVX512: "fp32"
            case .bf16AVX512: "bf16"
            case .vnniAVX512: "int8"
            }
        }

        /// Whether this CPU has the unit.
        public var isAvailable: Bool { ck_peak_available(unit) != 0 }

        /// Operations (a multiply-add counts 2) one `runPeakLoop` iteration performs.
        public var operationsPerIteration: Int {
            Int(ck_peak_accumulators()) * Int(ck_peak_ops_per_instruction(unit))
        }

        /// Runs `iterations` rounds of independent instructions of the unit on the calling thread (does nothing on
        /// a CPU without it).
        public func runPeakLoop(iterations: Int) {
            _ = ck_peak_run(unit, iterations)
        }

        /// Operations per second of one `runPeakLoop(iterations:)` on the calling thread.
        public func operationsPerSecond(iterations: Int) -> Double {
            var start = timespec()
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            runPeakLoop(iterations: iterations)
            clock_gettime(CLOCK_MONOTONIC, &end)
            let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
            return Double(operationsPerIteration * iterations) / max(seconds, 1e-9)
        }
    }

    /// STREAM triad `a[i] = b[i] + scalar * c[i]` over `range` (8 bytes read and 4 written per element). Disjoint
    /// ranges may run concurrently; the pointers are only used during the call.
    public static func triad(
        _ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, scalar: Float,
        range: Range<Int>
    ) {
        ck_peak_triad(a, b, c, scalar, range.lowerBound, range.upperBound)
    }
}
