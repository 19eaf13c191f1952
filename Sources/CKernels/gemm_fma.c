// The exact GEMM over compact weights on fp32 FMAs; see ckernels_gemm_fma.h for the contract and the loop nest.
#include "ckernels_gemm_fma.h"
#include "ckernels_cpu.h"

#include <string.h>

/// k elements per panel: the panel (KC × NR fp32) stays in L1 beside the row block being multiplied.
#ifndef CK_GEMM_FMA_KC
#define CK_GEMM_FMA_KC 192
#endif
/// Output columns per column block: the block of y (rows of a row group × NC) stays in L2 across k chunks.
#ifndef CK_GEMM_FMA_NC
#define CK_GEMM_FMA_NC 256
#endif
/// Most rows per row group (a multiple of both MRs): its packed x chunk (MC × KC fp32) stays in L2 across the
/// panels. Each group packs every panel again, so a prompt of 512 rows is one group.
#ifndef CK_GEMM_FMA_MC
#define CK_GEMM_FMA_MC 576
#endif

#define KC CK_GEMM_FMA_KC
#define NC CK_GEMM_FMA_NC
#define MC CK_GEMM_FMA_MC

static inline long min_long(long a, long b) { return a < b ? a : b; }

/// The rows a path's microkernel holds at most (MR).
static long row_block_limit(int isa) { return isa == CK_ISA_AVX512 ? 12 : 6; }

long ck_gemm_fma_row_blocks(long n, int isa) {
    const long mr = row_block_limit(isa);
    return (n + mr - 1) / mr;
}

/// First row of block `b` of `blocks` over n rows: sizes differ by at most one and never exceed MR.
static inline long block_start(long b, long n, long blocks) { return b * n / blocks; }

size_t ck_gemm_fma_packed_x_count(long n, long k) { return (size_t)n * (size_t)k; }

long ck_gemm_fma_column_block(int isa) { return isa == CK_ISA_AVX512 ? 32 : 16; }

void ck_gemm_fma_pack_x(const float *x, long n, long k, long block_begin, long block_end, float *packed, int isa) {
    const long blocks = ck_gemm_fma_row_blocks(n, isa);
    for (long b = block_begin; b < block_end; b++) {
        const long start = block_start(b, n, blocks), rows = block_start(b + 1, n, blocks) - start;
        float *out = packed + start * k;
        const float *in = x + start * k;
        for (long p = 0; p < k; p++) {
            for (long r = 0; r < rows; r++) out[p * rows + r] = in[r * k + p];
        }
    }
}

/// IEEE binary16 bits to fp32, exactly (tails and the scales of int8/int4 rows).
static inline float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        exponent = 113;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            exponent--;
        }
        bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// The scale of weight row `row`, element `e` (int8/int4).
static inline float scale_at(const ck_gemv_problem *p, long row, long e) {
    return half_to_float(p->scales[row * p->groups + e / (p->k / p->groups)]);
}

/// W[row][e], dequantised exactly.
static inline float weight_at(const ck_gemv_problem *p, long row, long e) {
    switch (p->format) {
    case CK_GEMV_F32: return ((const float *)p->w)[row * p->k + e];
    case CK_GEMV_F16: return half_to_float(((const uint16_t *)p->w)[row * p->k + e]);
    case CK_GEMV_BF16: {
        const uint32_t bits = (uint32_t)((const uint16_t *)p->w)[row * p->k + e] << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    case CK_GEMV_I8: return (float)((const int8_t *)p->w)[row * p->k + e] * scale_at(p, row, e);
    case CK_GEMV_I4: {
        const uint8_t byte = ((const uint8_t *)p->w)[row * (p->k / 2) + e / 2];
        const int value = (e & 1) ? (byte & 0x0F) : (byte >> 4);
        return (float)((value ^ 8) - 8) * scale_at(p, row, e);
    }
    }
    return 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#define TARGET256 __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

/// The group-constant segments of [first, first + length) of an int8/int4 row: calls body(begin, end, scale) with
/// positions relative to `first`.
#define FOR_SCALE_SEGMENTS(p, row, first, length, body)                                                       \
    do {                                                                                                       \
        const long group_size_ = (p)->k / (p)->groups;                                                         \
        for (long s_ = (first); s_ < (first) + (length);) {                                                    \
            const long g_ = s_ / group_size_;                                                                  \
            const long e_ = min_long((g_ + 1) * group_size_, (first) + (length));                              \
            const float scale = half_to_float((p)->scales[(row) * (p)->groups + g_]);                          \
            const long begin = s_ - (first), end = e_ - (first);                                               \
            body;                                                                                              \
            s_ = e_;                                                                                           \
        }                                                                                                      \
    } while (0)

/// 16 int4 elements starting at an even element index, from 8 bytes, sign-extended to int8 in element order.
TARGET256 static INLINE __m128i int4_to_int8(__m128i eight_bytes) {
    const __m128i w = _mm_cvtepu8_epi16(eight_bytes);
    // Each 16-bit lane: low byte = high nibble (even element), high byte = low nibble (odd element).
    const __m128i v = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(w, 4), _mm_set1_epi16(0x0F)),
                                   _mm_slli_epi16(_mm_and_si128(w, _mm_set1_epi16(0x0F)), 8));
    const __m128i eight = _mm_set1_epi8(8);
    return _mm_sub_epi8(_mm_xor_si128(v, eight), eight);
}

/// Asks for the stored weights of the next panel (rows [column, column + count), elements [k0, k0 + kc)) to be
/// brought into L2 while the microkernels run on this one: each panel reads short segments of many rows, which the
/// hardware prefetchers do not foresee.
static void prefetch_panel(const ck_gemv_problem *p, long column, long count, long k0, long kc) {
    // Bits per stored element.
    const long bits = p->format == CK_GEMV_F32 ? 32 : p->format == CK_GEMV_I8 ? 8 : p->format == CK_GEMV_I4 ? 4 : 16;
    for (long j = 0; j < count; j++) {
        const char *row = (const char *)p->w + ((column + j) * p->k + k0) * bits / 8;
        for (long offset = 0; offset < kc * bits / 8; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T1);
    }
}

// MARK: AVX-512: MR = 12, NR = 32

/// out[0 ..< length] = W[row][first ...], zero up to the next multiple of 16.
TARGET512 static void dequantise512(const ck_gemv_problem *p, long row, long first, long length, float *out) {
    const long padded = (length + 15) & ~15L;
    switch (p->format) {
    case CK_GEMV_F32:
        memcpy(out, (const float *)p->w + row * p->k + first, (size_t)length * 4);
        break;
    case CK_GEMV_F16: {
        const uint16_t *in = (const uint16_t *)p->w + row * p->k + first;
        for (long e = 0; e < length; e += 16) {
            const __mmask16 m = length - e >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (length - e)) - 1);
            _mm512_storeu_ps(out + e, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, in + e)));
        }
        return;
    }
    case CK_GEMV_BF16: {
        const uint16_t *in = (const uint16_t *)p->w + row * p->k + first;
        for (long e = 0; e < length; e += 16) {
            const __mmask16 m = length - e >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (length - e)) - 1);
            const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, in + e));
            _mm512_storeu_ps(out + e, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
        }
        return;
    }
    case CK_GEMV_I8: {
        const int8_t *in = (const int8_t *)p->w + row * p->k + first;
        FOR_SCALE_SEGMENTS(p, row, first, length, {
            const __m512 s = _mm512_set1_ps(scale);
            for (long e = begin; e < end; e += 16) {
                const __mmask16 m = end - e >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (end - e)) - 1);
                const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, in + e)));
                _mm512_mask_storeu_ps(out + e, m, _mm512_mul_ps(q, s));
            }
        });
        break;
    }
    case CK_GEMV_I4: {
        const uint8_t *bytes = (const uint8_t *)p->w + row * (p->k / 2);
        FOR_SCALE_SEGMENTS(p, row, first, length, {
            const __m512 s = _mm512_set1_ps(scale);
            long e = begin;
            if ((first + e) & 1) {  // an odd start: one element by itself
                out[e] = weight_at(p, row, first + e);
                e++;
            }
            for (; e < end; e += 16) {
                const long count = min_long(16, end - e);
                const __mmask16 byte_mask = (__mmask16)((1u << ((count + 1) / 2)) - 1);
                const __m128i q8 = int4_to_int8(_mm_maskz_loadu_epi8(byte_mask, bytes + (first + e) / 2));
                const __mmask16 m = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
                const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
                _mm512_mask_storeu_ps(out + e, m, _mm512_mul_ps(q, s));
            }
        });
        break;
    }
    }
    for (long e = length; e < padded; e++) out[e] = 0;
}

/// Transposes 16 rows of 16 floats in registers: r[i][j] becomes r[j][i].
TARGET512 static INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // s[q][c]: row quad q, lane L holds column 4L + c of rows 4q ..< 4q + 4.
    __m512 s[4][4];
    for (int q = 0; q < 4; q++) {
        const __m512d lo0 = _mm512_castps_pd(t[4 * q]), hi0 = _mm512_castps_pd(t[4 * q + 1]);
        const __m512d lo1 = _mm512_castps_pd(t[4 * q + 2]), hi1 = _mm512_castps_pd(t[4 * q + 3]);
        s[q][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
        s[q][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
        s[q][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
        s[q][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
    }
    for (int c = 0; c < 4; c++) {
        const __m512 u = _mm512_shuffle_f32x4(s[0][c], s[1][c], 0x44), v = _mm512_shuffle_f32x4(s[2][c], s[3][c], 0x44);
        const __m512 u2 = _mm512_shuffle_f32x4(s[0][c], s[1][c], 0xEE);
        const __m512 v2 = _mm512_shuffle_f32x4(s[2][c], s[3][c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(u, v, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(u, v, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(u2, v2, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(u2, v2, 0xDD);
    }
}

/// panel[e * 32 + j] = W[column + j][k0 + e] for e < kc (rounded up to 16), j < 32; rows past `count` are zero.
TARGET512 static void pack_panel512(const ck_gemv_problem *p, long column, long count, long k0, long kc,
                                    float *scratch, float *panel) {
    const long padded = (kc + 15) & ~15L;
    for (int half = 0; half < 2; half++) {
        for (long j = 0; j < 16; j++) {
            const long index = half * 16 + j;
            if (index < count) {
                dequantise512(p, column + index, k0, kc, scratch + j * KC);
            } else {
                memset(scratch + j * KC, 0, (size_t)padded * 4);
            }
        }
        for (long e = 0; e < padded; e += 16) {
            __m512 r[16];
            for (int j = 0; j < 16; j++) r[j] = _mm512_load_ps(scratch + j * KC + e);
            transpose16(r);
            for (int i = 0; i < 16; i++) _mm512_store_ps(panel + (e + i) * 32 + half * 16, r[i]);
        }
    }
}

/// y[0 ..< R, 0 ..< 32 masked] (+)= a (kc × R, k-major) · panel (kc × 32).
TARGET512 static INLINE void micro512(const int R, const float *a, const float *panel, long kc, float *y, long ldy,
                                      __mmask16 low, __mmask16 high, int accumulate) {
    __m512 c0[12], c1[12];
    for (int r = 0; r < 12; r++) {
        if (r < R) c0[r] = c1[r] = _mm512_setzero_ps();
    }
    for (long e = 0; e < kc; e++) {
        const __m512 b0 = _mm512_load_ps(panel + e * 32), b1 = _mm512_load_ps(panel + e * 32 + 16);
        for (int r = 0; r < 12; r++) {
            if (r < R) {
                const __m512 x = _mm512_set1_ps(a[e * R + r]);
                c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
                c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
            }
        }
    }
    for (int r = 0; r < 12; r++) {
        if (r < R) {
            float *out = y + r * ldy;
            if (accumulate) {
                c0[r] = _mm512_add_ps(c0[r], _mm512_maskz_loadu_ps(low, out));
                c1[r] = _mm512_add_ps(c1[r], _mm512_maskz_loadu_ps(high, out + 16));
            }
            _mm512_mask_storeu_ps(out, low, c0[r]);
            _mm512_mask_storeu_ps(out + 16, high, c1[r]);
        }
    }
}

typedef void (*micro512_kernel)(const float *, const float *, long, float *, long, __mmask16, __mmask16, int);
#define MICRO512(R)                                                                                           \
    TARGET512 static void micro512_##R(const float *a, const float *panel, long kc, float *y, long ldy,       \
                                       __mmask16 low, __mmask16 high, int accumulate) {                       \
        micro512(R, a, panel, kc, y, ldy, low, high, accumulate);                                             \
    }
MICRO512(1)
MICRO512(2)
MICRO512(3)
MICRO512(4)
MICRO512(5)
MICRO512(6)
MICRO512(7)
MICRO512(8)
MICRO512(9)
MICRO512(10)
MICRO512(11)
MICRO512(12)
static const micro512_kernel micro512_rows[13] = {
    0, micro512_1, micro512_2, micro512_3, micro512_4, micro512_5, micro512_6, micro512_7, micro512_8, micro512_9,
    micro512_10, micro512_11, micro512_12};

TARGET512 static void columns512(const ck_gemv_problem *p, const float *packed_x, long column_begin,
                                 long column_end) {
    float panel[KC * 32] __attribute__((aligned(64)));
    float scratch[16 * KC] __attribute__((aligned(64)));
    const long n = p->n, k = p->k, ldy = p->ldy;
    const long blocks = ck_gemm_fma_row_blocks(n, CK_ISA_AVX512);
    const long groups = (blocks + MC / 12 - 1) / (MC / 12);
    for (long group = 0; group < groups; group++) {
        const long g0 = blocks * group / groups, g1 = blocks * (group + 1) / groups;
        for (long jc = column_begin; jc < column_end; jc += NC) {
            const long jc_end = min_long(column_end, jc + NC);
            for (long k0 = 0; k0 < k; k0 += KC) {
                const long kc = min_long(KC, k - k0);
                for (long column = jc; column < jc_end; column += 32) {
                    const long count = min_long(32, jc_end - column);
                    pack_panel512(p, column, count, k0, kc, scratch, panel);
                    prefetch_panel(p, column + 32, min_long(32, jc_end - column - 32), k0, kc);
                    const __mmask16 low = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
                    const __mmask16 high =
                        count >= 32 ? (__mmask16)0xFFFF : count > 16 ? (__mmask16)((1u << (count - 16)) - 1) : 0;
                    for (long b = g0; b < g1; b++) {
                        const long start = block_start(b, n, blocks), rows = block_start(b + 1, n, blocks) - start;
                        micro512_rows[rows](packed_x + start * k + k0 * rows, panel, kc, p->y + start * ldy + column,
                                            ldy, low, high, k0 > 0);
                    }
                }
            }
        }
    }
}

// MARK: AVX2: MR = 6, NR = 16

/// out[0 ..< length] = W[row][first ...], zero up to the next multiple of 8.
TARGET256 static void dequantise256(const ck_gemv_problem *p, long row, long first, long length, float *out) {
    const long padded = (length + 7) & ~7L;
    long e = 0;
    switch (p->format) {
    case CK_GEMV_F32:
        memcpy(out, (const float *)p->w + row * p->k + first, (size_t)length * 4);
        e = length;
        break;
    case CK_GEMV_F16: {
        const uint16_t *in = (const uint16_t *)p->w + row * p->k + first;
        for (; e + 8 <= length; e += 8) {
            _mm256_storeu_ps(out + e, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + e))));
        }
        break;
    }
    case CK_GEMV_BF16: {
        const uint16_t *in = (const uint16_t *)p->w + row * p->k + first;
        for (; e + 8 <= length; e += 8) {
            const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(in + e)));
            _mm256_storeu_ps(out + e, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
        }
        break;
    }
    case CK_GEMV_I8: {
        const int8_t *in = (const int8_t *)p->w + row * p->k + first;
        FOR_SCALE_SEGMENTS(p, row, first, length, {
            const __m256 s = _mm256_set1_ps(scale);
            long i = begin;
            for (; i + 8 <= end; i += 8) {
                long eight;
                memcpy(&eight, in + i, 8);
                const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(eight)));
                _mm256_storeu_ps(out + i, _mm256_mul_ps(q, s));
            }
            for (; i < end; i++) out[i] = (float)in[i] * scale;
        });
        e = length;
        break;
    }
    case CK_GEMV_I4: {
        const uint8_t *bytes = (const uint8_t *)p->w + row * (p->k / 2);
        FOR_SCALE_SEGMENTS(p, row, first, length, {
            const __m256 s = _mm256_set1_ps(scale);
            long i = begin;
            if ((first + i) & 1) {
                out[i] = weight_at(p, row, first + i);
                i++;
            }
            for (; i + 16 <= end; i += 16) {
                long eight;
                memcpy(&eight, bytes + (first + i) / 2, 8);
                const __m128i q8 = int4_to_int8(_mm_cvtsi64_si128(eight));
                _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), s));
                _mm256_storeu_ps(out + i + 8,
                                 _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q8, 8))), s));
            }
            for (; i < end; i++) out[i] = weight_at(p, row, first + i);
        });
        e = length;
        break;
    }
    }
    for (; e < length; e++) out[e] = weight_at(p, row, first + e);
    for (e = length; e < padded; e++) out[e] = 0;
}

/// Transposes 8 rows of 8 floats in registers.
TARGET256 static INLINE void transpose8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    __m256 s[2][4];
    for (int q = 0; q < 2; q++) {
        const __m256d lo0 = _mm256_castps_pd(t[4 * q]), hi0 = _mm256_castps_pd(t[4 * q + 1]);
        const __m256d lo1 = _mm256_castps_pd(t[4 * q + 2]), hi1 = _mm256_castps_pd(t[4 * q + 3]);
        s[q][0] = _mm256_castpd_ps(_mm256_unpacklo_pd(lo0, lo1));
        s[q][1] = _mm256_castpd_ps(_mm256_unpackhi_pd(lo0, lo1));
        s[q][2] = _mm256_castpd_ps(_mm256_unpacklo_pd(hi0, hi1));
        s[q][3] = _mm256_castpd_ps(_mm256_unpackhi_pd(hi0, hi1));
    }
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(s[0][c], s[1][c], 0x20);
        r[4 + c] = _mm256_permute2f128_ps(s[0][c], s[1][c], 0x31);
    }
}

/// panel[e * 16 + j] = W[column + j][k0 + e] for e < kc (rounded up to 8), j < 16; rows past `count` are zero.
TARGET256 static void pack_panel256(const ck_gemv_problem *p, long column, long count, long k0, long kc,
                                    float *scratch, float *panel) {
    const long padded = (kc + 7) & ~7L;
    for (int half = 0; half < 2; half++) {
        for (long j = 0; j < 8; j++) {
            const long index = half * 8 + j;
            if (index < count) {
                dequantise256(p, column + index, k0, kc, scratch + j * KC);
            } else {
                memset(scratch + j * KC, 0, (size_t)padded * 4);
            }
        }
        for (long e = 0; e < padded; e += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++) r[j] = _mm256_load_ps(scratch + j * KC + e);
            transpose8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(panel + (e + i) * 16 + half * 8, r[i]);
        }
    }
}

/// y[0 ..< R, 0 ..< count] (+)= a (kc × R, k-major) · panel (kc × 16).
TARGET256 static INLINE void micro256(const int R, const float *a, const float *panel, long kc, float *y, long ldy,
                                      long count, int accumulate) {
    __m256 c0[6], c1[6];
    for (int r = 0; r < 6; r++) {
        if (r < R) c0[r] = c1[r] = _mm256_setzero_ps();
    }
    for (long e = 0; e < kc; e++) {
        const __m256 b0 = _mm256_load_ps(panel + e * 16), b1 = _mm256_load_ps(panel + e * 16 + 8);
        for (int r = 0; r < 6; r++) {
            if (r < R) {
                const __m256 x = _mm256_broadcast_ss(a + e * R + r);
                c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
                c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
            }
        }
    }
    if (count == 16) {
        for (int r = 0; r < 6; r++) {
            if (r < R) {
                float *out = y + r * ldy;
                if (accumulate) {
                    c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(out));
                    c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(out + 8));
                }
                _mm256_storeu_ps(out, c0[r]);
                _mm256_storeu_ps(out + 8, c1[r]);
            }
        }
        return;
    }
    float tile[16] __attribute__((aligned(32)));
    for (int r = 0; r < 6; r++) {
        if (r < R) {
            float *out = y + r * ldy;
            _mm256_store_ps(tile, c0[r]);
            _mm256_store_ps(tile + 8, c1[r]);
            for (long j = 0; j < count; j++) out[j] = accumulate ? out[j] + tile[j] : tile[j];
        }
    }
}

typedef void (*micro256_kernel)(const float *, const float *, long, float *, long, long, int);
#define MICRO256(R)                                                                                           \
    TARGET256 static void micro256_##R(const float *a, const float *panel, long kc, float *y, long ldy,       \
                                       long count, int accumulate) {                                          \
        micro256(R, a, panel, kc, y, ldy, count, accumulate);                                                 \
    }
MICRO256(1)
MICRO256(2)
MICRO256(3)
MICRO256(4)
MICRO256(5)
MICRO256(6)
static const micro256_kernel micro256_rows[7] = {0,          micro256_1, micro256_2, micro256_3,
                                                 micro256_4, micro256_5, micro256_6};

TARGET256 static void columns256(const ck_gemv_problem *p, const float *packed_x, long column_begin,
                                 long column_end) {
    float panel[KC * 16] __attribute__((aligned(32)));
    float scratch[8 * KC] __attribute__((aligned(32)));
    const long n = p->n, k = p->k, ldy = p->ldy;
    const long blocks = ck_gemm_fma_row_blocks(n, CK_ISA_AVX2);
    const long groups = (blocks + MC / 6 - 1) / (MC / 6);
    for (long group = 0; group < groups; group++) {
        const long g0 = blocks * group / groups, g1 = blocks * (group + 1) / groups;
        for (long jc = column_begin; jc < column_end; jc += NC) {
            const long jc_end = min_long(column_end, jc + NC);
            for (long k0 = 0; k0 < k; k0 += KC) {
                const long kc = min_long(KC, k - k0);
                for (long column = jc; column < jc_end; column += 16) {
                    const long count = min_long(16, jc_end - column);
                    pack_panel256(p, column, count, k0, kc, scratch, panel);
                    prefetch_panel(p, column + 16, min_long(16, jc_end - column - 16), k0, kc);
                    for (long b = g0; b < g1; b++) {
                        const long start = block_start(b, n, blocks), rows = block_start(b + 1, n, blocks) - start;
                        micro256_rows[rows](packed_x + start * k + k0 * rows, panel, kc, p->y + start * ldy + column,
                                            ldy, count, k0 > 0);
                    }
                }
            }
        }
    }
}

int ck_gemm_fma_resolve_isa(int isa) {
    static int cached = -1;
    int best = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (best < 0) {
        const ck_cpu_features f = ck_detect_cpu();
        best = f.avx512 && f.f16c ? CK_ISA_AVX512 : f.avx2 && f.f16c ? CK_ISA_AVX2 : 0;
        __atomic_store_n(&cached, best, __ATOMIC_RELAXED);
    }
    if (best == 0) return 0;
    if (isa == CK_ISA_AVX2 || (isa == CK_ISA_AVX512 && best == CK_ISA_AVX512)) return isa;
    if (isa == CK_ISA_PORTABLE) return 0;
    return best;
}

void ck_gemm_fma_columns(ck_gemv_problem problem, const float *packed_x, long column_begin, long column_end,
                         int isa) {
    if (column_end <= column_begin || problem.n <= 0 || problem.k <= 0) return;
    if ((unsigned)problem.format > CK_GEMV_I4) return;
    switch (isa) {
    case CK_ISA_AVX512: columns512(&problem, packed_x, column_begin, column_end); break;
    case CK_ISA_AVX2: columns256(&problem, packed_x, column_begin, column_end); break;
    default: break;
    }
}

#else  // not x86-64: ck_gemm_fma_resolve_isa reports no path, so callers take sgemm and never call the rest.

int ck_gemm_fma_resolve_isa(int isa) {
    (void)isa;
    return 0;
}
void ck_gemm_fma_columns(ck_gemv_problem problem, const float *packed_x, long column_begin, long column_end,
                         int isa) {
    (void)problem, (void)packed_x, (void)column_begin, (void)column_end, (void)isa, (void)weight_at;
}

#endif
