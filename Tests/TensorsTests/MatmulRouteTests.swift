import Tensors
import Testing

/// The route choice table (`MatmulRoute.choose`) on described CPUs, independent of the machine the tests run on.
/// What each route computes is tested against naive references in the kernel suites.
@Suite struct MatmulRouteTests {
    typealias CPU = MatmulRoute.CPU

    static let avx2 = CPU(
        gemv: .avx2, int8GEMV: .avx2, bf16GEMM: false, int8GEMM: .avx2, bf16OutrunsFP32: false, exactGEMM: .avx2)
    /// Zen 4: AVX512-BF16 whose vdpbf16ps outruns the fp32 FMAs.
    static let zen4 = CPU(
        gemv: .avx512, int8GEMV: .avx512, bf16GEMM: true, int8GEMM: .vnni, bf16OutrunsFP32: true, exactGEMM: .avx512)
    /// Intel AVX512-BF16 cores whose vdpbf16ps is slower than the fp32 FMAs.
    static let intel = CPU(
        gemv: .avx512, int8GEMV: .avx512, bf16GEMM: true, int8GEMM: .vnni, bf16OutrunsFP32: false, exactGEMM: .avx512)
    static let portable = CPU(
        gemv: .portable, int8GEMV: nil, bf16GEMM: false, int8GEMM: nil, bf16OutrunsFP32: false, exactGEMM: nil)

    static func weight(_ format: WeightFormat, columns: Int = 4096, groups: Int = 1) -> MatmulRoute.Weight {
        MatmulRoute.Weight(format: format, rows: 4096, columns: columns, groups: groups)
    }

    static func kernel(
        _ rows: Int, _ format: WeightFormat, _ precision: MatmulPrecision, _ cpu: CPU
    ) -> MatmulRoute.Kernel {
        MatmulRoute.choose(rows: rows, weight: weight(format), precision: precision, cpu: cpu).kernel
    }

    @Test func exactPrecisionIsGEMVThenTheExactGEMMOnEveryCPU() {
        for cpu in [Self.avx2, Self.zen4, Self.intel, Self.portable] {
            for format in WeightFormat.allCases {
                #expect(Self.kernel(1, format, .exact, cpu) == .exactGEMV)
                #expect(Self.kernel(DecodeKernels.maximumRows, format, .exact, cpu) == .exactGEMV)
                // fp32 weights need no dequantising: OpenBLAS multiplies them as they are.
                let many: MatmulRoute.Kernel = cpu.exactGEMM == nil || format == .float32 ? .sgemm : .exactGEMM
                #expect(Self.kernel(DecodeKernels.maximumRows + 1, format, .exact, cpu) == many)
                #expect(Self.kernel(512, format, .exact, cpu) == many)
            }
        }
        let avx2 = MatmulRoute.choose(rows: 512, weight: Self.weight(.int4), precision: .exact, cpu: Self.avx2)
        #expect(avx2.unit == "vfmadd231ps (AVX2)")
    }

    @Test func fastDecodeTakesTheInt8GEMVForQuantizedWeightsOnly() {
        for cpu in [Self.avx2, Self.zen4, Self.intel] {
            #expect(Self.kernel(1, .int8, .fast, cpu) == .quantizedGEMV)
            #expect(Self.kernel(DecodeKernels.fastPrecisionRows, .int4, .fast, cpu) == .quantizedGEMV)
            #expect(Self.kernel(1, .float16, .fast, cpu) == .exactGEMV)
            #expect(Self.kernel(1, .float32, .fast, cpu) == .exactGEMV)
        }
        #expect(Self.kernel(1, .int4, .fast, Self.portable) == .exactGEMV)
        let avx2 = MatmulRoute.choose(rows: 1, weight: Self.weight(.int8), precision: .fast, cpu: Self.avx2)
        #expect(avx2.unit.hasPrefix("vpmaddubsw"))
        let vnni = MatmulRoute.choose(rows: 1, weight: Self.weight(.int8), precision: .fast, cpu: Self.zen4)
        #expect(vnni.unit.hasPrefix("vpdpbusd"))
    }

    @Test func fastPrefillTakesTheDotProductGEMMWhereItOutrunsSgemm() {
        let rows = 256
        // AVX2: int8/int4 take vpmaddubsw, fp16/bf16 the exact GEMM, fp32 weights sgemm.
        for format in WeightFormat.allCases {
            let expected: MatmulRoute.Kernel =
                switch format {
                case .int8, .int4: .dotProductGEMM
                case .float32: .sgemm
                default: .exactGEMM
                }
            #expect(Self.kernel(rows, format, .fast, Self.avx2) == expected)
        }
        let avx2 = MatmulRoute.choose(rows: rows, weight: Self.weight(.int4), precision: .fast, cpu: Self.avx2)
        #expect(avx2.unit == "vpmaddubsw (AVX2)")
        #expect(Self.kernel(rows, .int8, .fast, Self.portable) == .sgemm)
        // Zen 4: both units, and bf16 outruns the FMAs.
        #expect(Self.kernel(rows, .float16, .fast, Self.zen4) == .dotProductGEMM)
        #expect(Self.kernel(rows, .bfloat16, .fast, Self.zen4) == .dotProductGEMM)
        #expect(Self.kernel(rows, .int4, .fast, Self.zen4) == .dotProductGEMM)
        #expect(Self.kernel(rows, .float32, .fast, Self.zen4) == .sgemm)
        // Intel: fp16/bf16 stay on the fp32 FMAs (the exact GEMM), int8/int4 take VNNI.
        #expect(Self.kernel(rows, .float16, .fast, Self.intel) == .exactGEMM)
        #expect(Self.kernel(rows, .bfloat16, .fast, Self.intel) == .exactGEMM)
        #expect(Self.kernel(rows, .int8, .fast, Self.intel) == .dotProductGEMM)
    }

    @Test func unsupportedInt4GroupsAndEmptyProductsFallBack() {
        // An int4 group of odd width cannot be split into bytes by the int8 GEMV.
        let odd = MatmulRoute.choose(
            rows: 1, weight: Self.weight(.int4, columns: 4095 * 2, groups: 2), precision: .fast, cpu: Self.avx2)
        #expect(odd.kernel == .exactGEMV)
        let empty = MatmulRoute.choose(rows: 0, weight: Self.weight(.int8), precision: .fast, cpu: Self.zen4)
        #expect(empty.kernel == .exactGEMV)
    }
}
