import Tensors
import Testing

/// Which OpenBLAS kernels to ask for when OpenBLAS fell back below the CPU.
@Suite struct BLASKernelSelectionTests {
    @Test func fallbacksAreReplacedByTheWidestUnitsPresent() {
        #expect(BLASKernelSelection.replacement(for: "Prescott", avx2: true, avx512: true) == "SkylakeX")
        #expect(BLASKernelSelection.replacement(for: "prescott", avx2: true, avx512: false) == "Haswell")
        #expect(BLASKernelSelection.replacement(for: "Core2", avx2: true, avx512: false) == "Haswell")
        #expect(BLASKernelSelection.replacement(for: "Sandybridge", avx2: true, avx512: true) == "SkylakeX")
    }

    @Test func choicesThatFitAreKept() {
        for kernels in ["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"] {
            #expect(BLASKernelSelection.replacement(for: kernels, avx2: true, avx512: true) == nil, "\(kernels)")
        }
        // A CPU without AVX2 keeps whatever OpenBLAS chose.
        #expect(BLASKernelSelection.replacement(for: "Prescott", avx2: false, avx512: false) == nil)
    }

    @Test func aValueTheUserSetIsNeverReplaced() {
        #expect(BLASKernelSelection.replacementForThisProcess(environment: "Prescott") == nil)
        #expect(BLASKernelSelection.replacementForThisProcess(environment: "") == nil)
    }
}
