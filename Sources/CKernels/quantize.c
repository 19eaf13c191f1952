// Load-time weight quantization (ckernels_quantize.h): the official scheme, 8 weights per step.
#include "ckernels_quantize.h"
#include "ckernels_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define TQ __attribute__((target("avx2,fma,f16c")))

/// One finite row: scale, then levels. Same operations in the same order as the Swift definition: fp32 division,
/// fp16 rounding of the quotient (nearest even), round half to even, clamp.
TQ static void ck_quantize_row(const uint16_t *w, long columns, int level, int8_t *q, uint16_t *scale_out) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 maxima = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= columns; j += 8)
        maxima = _mm256_max_ps(maxima, _mm256_andnot_ps(sign, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + j)))));
    float m[8];
    _mm256_storeu_ps(m, maxima);
    float maximum = 0;
    for (int l = 0; l < 8; l++) maximum = m[l] > maximum ? m[l] : maximum;
    for (; j < columns; j++) {
        const float v = _cvtsh_ss(w[j] & 0x7fffu);
        maximum = v > maximum ? v : maximum;
    }
    const uint16_t scale_bits = _cvtss_sh(maximum / (float)level, _MM_FROUND_TO_NEAREST_INT);
    *scale_out = scale_bits;
    if ((scale_bits & 0x7fffu) == 0) {
        for (long e = 0; e < columns; e++) q[e] = 0;
        return;
    }
    const float scale = _cvtsh_ss(scale_bits);
    const __m256 s = _mm256_set1_ps(scale), hi = _mm256_set1_ps((float)level), lo = _mm256_set1_ps(-(float)level);
    j = 0;
    for (; j + 8 <= columns; j += 8) {
        __m256 quotient = _mm256_div_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + j))), s);
        quotient = _mm256_cvtph_ps(_mm256_cvtps_ph(quotient, _MM_FROUND_TO_NEAREST_INT));
        __m256 r = _mm256_round_ps(quotient, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
        const __m256i i32 = _mm256_cvtps_epi32(r);
        const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
        _mm_storel_epi64((__m128i *)(q + j), _mm_packs_epi16(i16, i16));
    }
    for (; j < columns; j++) {
        float quotient = _cvtsh_ss(_cvtss_sh(_cvtsh_ss(w[j]) / scale, _MM_FROUND_TO_NEAREST_INT));
        __m128 r = _mm_round_ss(_mm_setzero_ps(), _mm_set_ss(quotient), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        float v = _mm_cvtss_f32(r);
        v = v < -(float)level ? -(float)level : v > (float)level ? (float)level : v;
        q[j] = (int8_t)(int)v;
    }
}

TQ static int ck_row_is_finite(const uint16_t *w, long columns) {
    const __m128i exponent = _mm_set1_epi16(0x7c00);
    __m128i any = _mm_setzero_si128();
    long j = 0;
    for (; j + 8 <= columns; j += 8)
        any = _mm_or_si128(any, _mm_cmpeq_epi16(_mm_and_si128(_mm_loadu_si128((const __m128i *)(w + j)), exponent),
                                                exponent));
    if (_mm_movemask_epi8(any)) return 0;
    for (; j < columns; j++)
        if ((w[j] & 0x7c00u) == 0x7c00u) return 0;
    return 1;
}

int ck_quantize_rows_f16(const uint16_t *w, long row_begin, long row_end, long columns, int level, int8_t *levels,
                         uint16_t *scales, uint8_t *nonfinite) {
    const ck_cpu_features f = ck_detect_cpu();
    if (!f.avx2 || !f.f16c) return 0;
    for (long r = row_begin; r < row_end; r++) {
        const uint16_t *row = w + r * columns;
        nonfinite[r] = !ck_row_is_finite(row, columns);
        if (!nonfinite[r]) ck_quantize_row(row, columns, level, levels + r * columns, scales + r);
    }
    return 1;
}
#else
int ck_quantize_rows_f16(const uint16_t *w, long row_begin, long row_end, long columns, int level, int8_t *levels,
                         uint16_t *scales, uint8_t *nonfinite) {
    (void)w, (void)row_begin, (void)row_end, (void)columns, (void)level, (void)levels, (void)scales, (void)nonfinite;
    return 0;
}
#endif
