#include "ckernels_peak.h"
#include "ckernels_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

void ck_peak_triad(float *a, const float *b, const float *c, float scalar, size_t begin, size_t end) {
    // Plain loop: at -O3 clang vectorises it with the baseline's widest unit; it is bound by DRAM anyway.
    for (size_t i = begin; i < end; i++) a[i] = b[i] + scalar * c[i];
}

#define CK_ACCUMULATORS 12

int ck_peak_accumulators(void) { return CK_ACCUMULATORS; }

int ck_peak_ops_per_instruction(ck_unit unit) {
    switch (unit) {
    case CK_UNIT_FMA_F32_AVX2: return 16;
    case CK_UNIT_FMA_F32_AVX512: return 32;
    case CK_UNIT_BF16_AVX512: return 64;
    case CK_UNIT_VNNI_AVX512: return 128;
    }
    return 0;
}

int ck_peak_available(ck_unit unit) {
    ck_cpu_features f = ck_detect_cpu();
    switch (unit) {
    case CK_UNIT_FMA_F32_AVX2: return f.avx2;
    case CK_UNIT_FMA_F32_AVX512: return f.avx512;
    case CK_UNIT_BF16_AVX512: return f.avx512bf16;
    case CK_UNIT_VNNI_AVX512: return f.avx512vnni;
    }
    return 0;
}

#if defined(__x86_64__)

// Inputs come through volatile reads so the compiler cannot fold the loops. The values keep every accumulator
// finite and away from denormals: x = 0.5 x + 0.5 converges to 1; the bf16 pairs (1, 1) . (1, -1) add 0.

#define CK_REPEAT12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx2,fma"))) static double peak_fma_avx2(long iterations) {
    volatile float half = 0.5f;
    __m256 a = _mm256_set1_ps(half), b = _mm256_set1_ps(half);
#define DECL(i) __m256 acc##i = _mm256_set1_ps((float)(i));
    CK_REPEAT12(DECL)
#undef DECL
    for (long n = 0; n < iterations; n++) {
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, a, b);
        CK_REPEAT12(STEP)
#undef STEP
    }
    float lanes[8];
    __m256 sum = _mm256_setzero_ps();
#define SUM(i) sum = _mm256_add_ps(sum, acc##i);
    CK_REPEAT12(SUM)
#undef SUM
    _mm256_storeu_ps(lanes, sum);
    double total = 0;
    for (int i = 0; i < 8; i++) total += lanes[i];
    return total;
}

__attribute__((target("avx512f"))) static double peak_fma_avx512(long iterations) {
    volatile float half = 0.5f;
    __m512 a = _mm512_set1_ps(half), b = _mm512_set1_ps(half);
#define DECL(i) __m512 acc##i = _mm512_set1_ps((float)(i));
    CK_REPEAT12(DECL)
#undef DECL
    for (long n = 0; n < iterations; n++) {
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, a, b);
        CK_REPEAT12(STEP)
#undef STEP
    }
    __m512 sum = _mm512_setzero_ps();
#define SUM(i) sum = _mm512_add_ps(sum, acc##i);
    CK_REPEAT12(SUM)
#undef SUM
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static double peak_bf16(long iterations) {
    // bf16 1.0 is 0x3F80 and -1.0 is 0xBF80: a = (1, 1) pairs, b = (1, -1) pairs, so each pair adds 1 - 1 = 0.
    volatile unsigned int one = 0x3F803F80u, mixed = 0xBF803F80u;
    __m512bh a = (__m512bh)_mm512_set1_epi32((int)one);
    __m512bh b = (__m512bh)_mm512_set1_epi32((int)mixed);
#define DECL(i) __m512 acc##i = _mm512_set1_ps((float)(i));
    CK_REPEAT12(DECL)
#undef DECL
    for (long n = 0; n < iterations; n++) {
#define STEP(i) acc##i = _mm512_dpbf16_ps(acc##i, a, b);
        CK_REPEAT12(STEP)
#undef STEP
    }
    __m512 sum = _mm512_setzero_ps();
#define SUM(i) sum = _mm512_add_ps(sum, acc##i);
    CK_REPEAT12(SUM)
#undef SUM
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static double peak_vnni(long iterations) {
    volatile int ones = 0x01010101, signs = 0x01FF01FF;  // u8 1s times s8 (-1, 1, -1, 1): each group adds 0
    __m512i a = _mm512_set1_epi32(ones), b = _mm512_set1_epi32(signs);
#define DECL(i) __m512i acc##i = _mm512_set1_epi32(i);
    CK_REPEAT12(DECL)
#undef DECL
    for (long n = 0; n < iterations; n++) {
#define STEP(i) acc##i = _mm512_dpbusd_epi32(acc##i, a, b);
        CK_REPEAT12(STEP)
#undef STEP
    }
    __m512i sum = _mm512_setzero_si512();
#define SUM(i) sum = _mm512_add_epi32(sum, acc##i);
    CK_REPEAT12(SUM)
#undef SUM
    return (double)_mm512_reduce_add_epi32(sum);
}

#endif

double ck_peak_run(ck_unit unit, long iterations) {
    if (!ck_peak_available(unit)) return 0;
#if defined(__x86_64__)
    switch (unit) {
    case CK_UNIT_FMA_F32_AVX2: return peak_fma_avx2(iterations);
    case CK_UNIT_FMA_F32_AVX512: return peak_fma_avx512(iterations);
    case CK_UNIT_BF16_AVX512: return peak_bf16(iterations);
    case CK_UNIT_VNNI_AVX512: return peak_vnni(iterations);
    }
#endif
    (void)iterations;
    return 0;
}
