// The int8 prefill GEMM on AVX2 (vpmaddubsw), for CPUs without AVX512-VNNI; see ckernels_gemm.h for the contract.
//
// Layout as on VNNI (gemm.c), at a quarter of the width: x is quantised per row and packed in row blocks of 4
// rows, quads (4 k elements) of one row adjacent per k step; each thread owns a range of output columns and packs
// 16 weight rows × one k block at a time into two L1-resident panels, |w| as unsigned bytes and w itself, quad q of
// column j at [q * 16 + j]. The 4 × 16 microkernel multiplies |w| by x carrying w's sign: vpsignb, vpmaddubsw (pairs
// of u8 × s8 into s16, at most 2 · 128 · 127 in magnitude), vpmaddwd against ones (into int32), vpaddd.
#include "ckernels_gemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define MR CK_GEMM_AVX2_ROW_BLOCK
#define NR CK_GEMM_AVX2_COLUMN_BLOCK
/// Quads per packed panel: 2 panels × 256 × 16 × 4 bytes = 32 KiB.
#define KC 256

#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

static inline long min_long(long a, long b) { return a < b ? a : b; }

static inline uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

size_t ck_gemm_i8_avx2_packed_x_count(long n, long k, long groups) {
    return (size_t)((n + MR - 1) / MR) * MR * (size_t)ck_gemm_i8_quads(k, groups);
}

TARGET_AVX2 void ck_gemm_i8_avx2_pack_x(const float *x, long n, long k, long groups, long block_begin,
                                        long block_end, uint32_t *packed, float *scales) {
    const long quads = ck_gemm_i8_quads(k, groups);
    const long group_size = k / groups;
    const long group_quads = (group_size + 3) / 4;
    for (long block = block_begin; block < block_end; block++) {
        uint32_t *base = packed + block * MR * quads;
        for (long r = 0; r < MR; r++) {
            const long row = block * MR + r;
            for (long q = 0; q < quads; q++) base[q * MR + r] = 0;
            if (row >= n) {
                scales[row] = 0;
                continue;
            }
            const float *source = x + row * k;
            __m256 largest = _mm256_setzero_ps();
            const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
            long e = 0;
            for (; e + 8 <= k; e += 8) {
                largest = _mm256_max_ps(largest, _mm256_and_ps(_mm256_loadu_ps(source + e), magnitude));
            }
            float lanes[8];
            _mm256_storeu_ps(lanes, largest);
            float maximum = 0;
            for (int i = 0; i < 8; i++) maximum = lanes[i] > maximum ? lanes[i] : maximum;
            for (; e < k; e++) {
                const float a = source[e] < 0 ? -source[e] : source[e];
                maximum = a > maximum ? a : maximum;
            }
            scales[row] = maximum > 0 ? maximum / 127.0f : 0;
            const float inverse = maximum > 0 ? 127.0f / maximum : 0;
            int8_t *bytes = (int8_t *)base;
            for (long g = 0; g < groups; g++) {
                for (long i = 0; i < group_size; i++) {
                    // Round half to even, as vcvtps2dq under the default MXCSR (the VNNI path's rounding).
                    const float scaled = source[g * group_size + i] * inverse;
                    int value = (int)_mm_cvtss_si32(_mm_set_ss(scaled));
                    value = value > 127 ? 127 : value < -127 ? -127 : value;
                    const long quad = g * group_quads + i / 4;
                    bytes[(quad * MR + r) * 4 + i % 4] = (int8_t)value;
                }
            }
        }
    }
}

/// Writes elements [first, first + length) of a weight row as int8 (int4: element 2i in the high nibble of byte i).
static void weight_row(const void *weights, int int4, long k, long index, long first, long length, int8_t *out) {
    if (!int4) {
        memcpy(out, (const int8_t *)weights + index * k + first, (size_t)length);
        return;
    }
    const uint8_t *row = (const uint8_t *)weights + index * (k / 2);
    for (long e = 0; e < length; e++) {
        const long i = first + e;
        const uint8_t value = (i & 1) ? (uint8_t)(row[i / 2] & 0x0F) : (uint8_t)(row[i / 2] >> 4);
        out[e] = (int8_t)((int8_t)(value << 4) >> 4);
    }
}

/// Packs weight rows [column, column + count) × group `g` quads [q0, q0 + quads): `magnitudes` holds |w| and
/// `signs` w (zero past the group and for missing rows), quad q of column j at [q * 16 + j]; `column_scales` the
/// fp32 scales.
TARGET_AVX2 static void pack_weights(const void *weights, int int4, long k, long groups, const uint16_t *scales,
                                     long column, long count, long g, long q0, long quads, uint32_t *magnitudes,
                                     uint32_t *signs, float *column_scales) {
    const long group_size = k / groups;
    const long first = g * group_size + 4 * q0;
    const long length = min_long(4 * quads, group_size - 4 * q0);
    int8_t row[4 * KC] __attribute__((aligned(32)));
    for (long j = 0; j < NR; j++) {
        if (j >= count) {
            for (long q = 0; q < quads; q++) magnitudes[q * NR + j] = signs[q * NR + j] = 0;
            column_scales[j] = 0;
            continue;
        }
        weight_row(weights, int4, k, column + j, first, length, row);
        memset(row + length, 0, (size_t)(4 * quads - length));
        column_scales[j] = _cvtsh_ss(scales[(column + j) * groups + g]);
        for (long q = 0; q < quads; q++) {
            const uint32_t w = load_u32(row + 4 * q);
            const __m128i v = _mm_cvtsi32_si128((int)w);
            signs[q * NR + j] = w;
            magnitudes[q * NR + j] = (uint32_t)_mm_cvtsi128_si32(_mm_abs_epi8(v));  // |-128| = 128 as u8
        }
    }
}

/// y[0 ..< rows, 0 ..< count] (+)= x_scale · column_scale · Σ_q x block · panel.
TARGET_AVX2 static void microkernel(const uint32_t *x, const uint32_t *magnitudes, const uint32_t *signs, long quads,
                                    float *y, long ldy, long rows, long count, int accumulate, const float *x_scales,
                                    const float *column_scales) {
    __m256i c[MR][2];
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (long q = 0; q < quads; q++) {
        const __m256i m0 = _mm256_load_si256((const __m256i *)(magnitudes + q * NR));
        const __m256i m1 = _mm256_load_si256((const __m256i *)(magnitudes + q * NR + 8));
        const __m256i s0 = _mm256_load_si256((const __m256i *)(signs + q * NR));
        const __m256i s1 = _mm256_load_si256((const __m256i *)(signs + q * NR + 8));
        for (int r = 0; r < MR; r++) {
            const __m256i a = _mm256_set1_epi32((int)x[q * MR + r]);
            const __m256i p0 = _mm256_maddubs_epi16(m0, _mm256_sign_epi8(a, s0));
            const __m256i p1 = _mm256_maddubs_epi16(m1, _mm256_sign_epi8(a, s1));
            c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(p0, ones));
            c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(p1, ones));
        }
    }
    const __m256 k0 = _mm256_loadu_ps(column_scales), k1 = _mm256_loadu_ps(column_scales + 8);
    for (int r = 0; r < MR; r++) {
        if (r >= rows) break;
        float *out = y + r * ldy;
        const __m256 xs = _mm256_set1_ps(x_scales[r]);
        const __m256 v0 = _mm256_mul_ps(_mm256_cvtepi32_ps(c[r][0]), _mm256_mul_ps(k0, xs));
        const __m256 v1 = _mm256_mul_ps(_mm256_cvtepi32_ps(c[r][1]), _mm256_mul_ps(k1, xs));
        if (count == NR) {
            _mm256_storeu_ps(out, accumulate ? _mm256_add_ps(v0, _mm256_loadu_ps(out)) : v0);
            _mm256_storeu_ps(out + 8, accumulate ? _mm256_add_ps(v1, _mm256_loadu_ps(out + 8)) : v1);
        } else {
            float tile[NR] __attribute__((aligned(32)));
            _mm256_store_ps(tile, v0);
            _mm256_store_ps(tile + 8, v1);
            for (long j = 0; j < count; j++) out[j] = accumulate ? out[j] + tile[j] : tile[j];
        }
    }
}

TARGET_AVX2 void ck_gemm_i8_avx2_columns(const uint32_t *packed_x, const float *x_scales, long n, long k,
                                         long groups, const void *weights, int weights_are_int4,
                                         const void *fp16_scales, long column_begin, long column_end, float *y,
                                         long ldy) {
    uint32_t magnitudes[KC * NR] __attribute__((aligned(32)));
    uint32_t signs[KC * NR] __attribute__((aligned(32)));
    float column_scales[NR] __attribute__((aligned(32)));
    const long quads = ck_gemm_i8_quads(k, groups);
    const long group_quads = quads / groups;
    const long blocks = (n + MR - 1) / MR;
    for (long column = column_begin; column < column_end; column += NR) {
        const long count = min_long(NR, column_end - column);
        for (long g = 0; g < groups; g++) {
            for (long q0 = 0; q0 < group_quads; q0 += KC) {
                const long kc = min_long(KC, group_quads - q0);
                pack_weights(weights, weights_are_int4, k, groups, (const uint16_t *)fp16_scales, column, count, g,
                             q0, kc, magnitudes, signs, column_scales);
                const long offset = g * group_quads + q0;
                for (long block = 0; block < blocks; block++) {
                    microkernel(packed_x + block * MR * quads + offset * MR, magnitudes, signs, kc,
                                y + block * MR * ldy + column, ldy, min_long(MR, n - block * MR), count,
                                g > 0 || q0 > 0, x_scales + block * MR, column_scales);
                }
            }
        }
    }
}

#else  // not x86-64: PrefillKernels never calls these (ck_detect_cpu reports no AVX2).

size_t ck_gemm_i8_avx2_packed_x_count(long n, long k, long groups) { return 0; }
void ck_gemm_i8_avx2_pack_x(const float *x, long n, long k, long groups, long block_begin, long block_end,
                            uint32_t *packed, float *scales) {}
void ck_gemm_i8_avx2_columns(const uint32_t *packed_x, const float *x_scales, long n, long k, long groups,
                             const void *weights, int weights_are_int4, const void *fp16_scales, long column_begin,
                             long column_end, float *y, long ldy) {}

#endif
