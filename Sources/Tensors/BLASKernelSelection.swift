/// Which OpenBLAS kernel set to ask for when the one OpenBLAS picked itself is far below the CPU.
///
/// A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU's model number when the library loads. A build older
/// than the CPU does not know the model and falls back to its SSE3 "Prescott" kernels, as Debian 12's 0.3.21 does
/// on Emerald Rapids (family 6, model 207; AVX-512, AVX512-BF16): sgemm then runs at about a fifth of the
/// SkylakeX kernels' rate, and prefill slows down about as much (measured: docs/BENCHMARKS.md, 'Machine limits';
/// `bench` reports both `sgemm_gflops` and `blas_kernels`). The variable is read only while the library loads,
/// before `main`, so the command line starts itself again with it set (`BLASRelaunch`, first in
/// `GLMCluster.main`); a value the user set is always kept.
public enum BLASKernelSelection {
    /// The environment variable OpenBLAS reads for its kernel set.
    public static let environmentVariable = "OPENBLAS_CORETYPE"

    /// OpenBLAS kernel sets that use neither AVX2 nor AVX-512: what an unknown CPU falls back to.
    static let belowAVX2: Set<String> = [
        "unknown", "katmai", "coppermine", "northwood", "prescott", "banias", "core2", "penryn", "dunnington",
        "nehalem", "atom", "sandybridge", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "bulldozer",
        "piledriver", "steamroller", "excavator", "nano",
    ]

    /// The kernel set to ask for instead of `current`, or nil when `current` already uses the CPU's vector units
    /// (or the CPU has neither AVX2 nor AVX-512). SkylakeX kernels need AVX-512 F/BW/VL/DQ; Haswell's need AVX2
    /// and FMA (they run on AMD CPUs too).
    public static func replacement(for current: String, avx2: Bool, avx512: Bool) -> String? {
        guard belowAVX2.contains(current.lowercased()) else { return nil }
        if avx512 { return "SkylakeX" }
        if avx2 { return "Haswell" }
        return nil
    }

    /// The replacement for this process's OpenBLAS on this CPU, or nil when it should be left as it is: the user
    /// chose the kernels (the variable is set) or OpenBLAS's own choice fits.
    public static func replacementForThisProcess(environment value: String?) -> String? {
        guard value == nil else { return nil }
        let features = CPUFeatures.detected
        return replacement(for: BLAS.kernelName, avx2: features.avx2 != 0, avx512: features.avx512 != 0)
    }
}
