// Prefill GEMM kernels on vdpbf16ps and vpdpbusd; see ckernels_gemm.h for the layout and the contract.
#include "ckernels_gemm.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define MR CK_GEMM_ROW_BLOCK
#define NR CK_GEMM_COLUMN_BLOCK
/// k pairs (bf16) or quads (int8) per packed weight panel: 128 × 32 × 4 bytes = 16 KiB, half of L1, so the panel
/// stays in L1 while x streams through it row block by row block.
#define KC 128

#define TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,f16c,fma")))
#define TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

static inline long min_long(long a, long b) { return a < b ? a : b; }

static inline uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/// Lane masks for `count` (0...32) valid columns of a 32-wide tile.
static inline void column_masks(long count, __mmask16 *low, __mmask16 *high) {
    *low = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    *high = count >= 32 ? (__mmask16)0xFFFF : count > 16 ? (__mmask16)((1u << (count - 16)) - 1) : 0;
}

// MARK: bf16

size_t ck_gemm_bf16_packed_x_count(long n, long k) {
    return (size_t)((n + MR - 1) / MR) * MR * (size_t)((k + 1) / 2);
}

TARGET_BF16 void ck_gemm_bf16_pack_x(const float *x, long n, long k, long block_begin, long block_end,
                                     uint32_t *packed) {
    const long pairs = (k + 1) / 2;
    for (long block = block_begin; block < block_end; block++) {
        uint32_t *base = packed + block * MR * pairs;
        for (long r = 0; r < MR; r++) {
            const long row = block * MR + r;
            if (row >= n) {
                for (long p = 0; p < pairs; p++) base[p * MR + r] = 0;
                continue;
            }
            const float *source = x + row * k;
            for (long k0 = 0; k0 < k; k0 += 32) {
                __mmask16 low, high;
                column_masks(k - k0, &low, &high);
                __m512 a = _mm512_maskz_loadu_ps(low, source + k0);
                __m512 b = _mm512_maskz_loadu_ps(high, source + k0 + 16);
                // Lanes 0-15 of the result come from the second operand.
                __m512i converted = (__m512i)_mm512_cvtne2ps_pbh(b, a);
                uint32_t lanes[16] __attribute__((aligned(64)));
                _mm512_store_si512((void *)lanes, converted);
                const long count = min_long(16, pairs - k0 / 2);
                for (long i = 0; i < count; i++) base[(k0 / 2 + i) * MR + r] = lanes[i];
            }
        }
    }
}

/// Packs weight rows [column, column + count) × elements [k0, k0 + length) as bf16 pairs:
/// panel[p * NR + j] = (w[j][k0 + 2p], w[j][k0 + 2p + 1]); missing rows and the odd tail are zero.
TARGET_BF16 static void pack_weights_bf16(const void *weights, int fp16, long k, long column, long count, long k0,
                                          long length, uint32_t *panel) {
    const long pairs = (length + 1) / 2;
    for (long j = 0; j < NR; j++) {
        if (j >= count) {
            for (long p = 0; p < pairs; p++) panel[p * NR + j] = 0;
            continue;
        }
        if (fp16) {
            const uint16_t *source = (const uint16_t *)weights + (column + j) * k + k0;
            for (long e = 0; e < length; e += 32) {
                __mmask16 low, high;
                column_masks(length - e, &low, &high);
                __m512 a = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(low, source + e));
                __m512 b = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(high, source + e + 16));
                uint32_t lanes[16] __attribute__((aligned(64)));
                _mm512_store_si512((void *)lanes, (__m512i)_mm512_cvtne2ps_pbh(b, a));
                const long n = min_long(16, pairs - e / 2);
                for (long i = 0; i < n; i++) panel[(e / 2 + i) * NR + j] = lanes[i];
            }
        } else {
            const uint16_t *source = (const uint16_t *)weights + (column + j) * k + k0;
            const long whole = length / 2;
            for (long p = 0; p < whole; p++) panel[p * NR + j] = load_u32(source + 2 * p);
            if (length & 1) panel[whole * NR + j] = source[length - 1];
        }
    }
}

/// y[0 ..< rows, 0 ..< 32 masked] (+)= x block · panel over `pairs` k pairs.
TARGET_BF16 static void microkernel_bf16(const uint32_t *x, const uint32_t *panel, long pairs, float *y, long ldy,
                                         long rows, __mmask16 low, __mmask16 high, int accumulate) {
    __m512 c[MR][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_ps();
    for (long p = 0; p < pairs; p++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)(panel + p * NR));
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(panel + p * NR + 16));
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)x[p * MR + r]);
            c[r][0] = _mm512_dpbf16_ps(c[r][0], a, b0);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], a, b1);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r < rows) {
            float *out = y + r * ldy;
            __m512 v0 = c[r][0], v1 = c[r][1];
            if (accumulate) {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(low, out));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(high, out + 16));
            }
            _mm512_mask_storeu_ps(out, low, v0);
            _mm512_mask_storeu_ps(out + 16, high, v1);
        }
    }
}

TARGET_BF16 void ck_gemm_bf16_columns(const uint32_t *packed_x, long n, long k, const void *weights,
                                      int weights_are_fp16, long column_begin, long column_end, float *y,
                                      long ldy) {
    uint32_t panel[KC * NR] __attribute__((aligned(64)));
    const long pairs = (k + 1) / 2;
    const long blocks = (n + MR - 1) / MR;
    for (long column = column_begin; column < column_end; column += NR) {
        const long count = min_long(NR, column_end - column);
        __mmask16 low, high;
        column_masks(count, &low, &high);
        for (long p0 = 0; p0 < pairs; p0 += KC) {
            const long kc = min_long(KC, pairs - p0);
            pack_weights_bf16(weights, weights_are_fp16, k, column, count, 2 * p0, min_long(2 * kc, k - 2 * p0),
                              panel);
            for (long block = 0; block < blocks; block++) {
                microkernel_bf16(packed_x + block * MR * pairs + p0 * MR, panel, kc, y + block * MR * ldy + column,
                                 ldy, min_long(MR, n - block * MR), low, high, p0 > 0);
            }
        }
    }
}

// MARK: int8

long ck_gemm_i8_quads(long k, long groups) { return groups * ((k / groups + 3) / 4); }

size_t ck_gemm_i8_packed_x_count(long n, long k, long groups) {
    return (size_t)((n + MR - 1) / MR) * MR * (size_t)ck_gemm_i8_quads(k, groups);
}

TARGET_VNNI void ck_gemm_i8_pack_x(const float *x, long n, long k, long groups, long block_begin, long block_end,
                                   uint32_t *packed, float *scales) {
    const long quads = ck_gemm_i8_quads(k, groups);
    const long group_size = k / groups;
    const long group_quads = (group_size + 3) / 4;
    for (long block = block_begin; block < block_end; block++) {
        uint32_t *base = packed + block * MR * quads;
        for (long r = 0; r < MR; r++) {
            const long row = block * MR + r;
            if (row >= n) {
                for (long q = 0; q < quads; q++) base[q * MR + r] = 0x80808080u;
                scales[row] = 0;
                continue;
            }
            const float *source = x + row * k;
            __m512 largest = _mm512_setzero_ps();
            for (long e = 0; e < k; e += 16) {
                __mmask16 mask = k - e >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - e)) - 1);
                largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, source + e)));
            }
            const float maximum = _mm512_reduce_max_ps(largest);
            const float scale = maximum / 127.0f;
            scales[row] = maximum > 0 ? scale : 0;
            const __m512 inverse = _mm512_set1_ps(maximum > 0 ? 127.0f / maximum : 0);
            const __m512i offset = _mm512_set1_epi32(128);
            const __m512i low = _mm512_setzero_si512(), high = _mm512_set1_epi32(255);
            for (long g = 0; g < groups; g++) {
                const float *group = source + g * group_size;
                for (long e = 0; e < group_size; e += 16) {
                    const long remaining = group_size - e;
                    __mmask16 mask = remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
                    // Default MXCSR rounding: to nearest, ties to even.
                    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, group + e), inverse));
                    q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, offset), low), high);
                    uint32_t lanes[4] __attribute__((aligned(16)));
                    _mm_store_si128((__m128i *)lanes, _mm512_cvtepi32_epi8(q));
                    const long count = min_long(4, (remaining + 3) / 4);
                    for (long i = 0; i < count; i++) base[(g * group_quads + e / 4 + i) * MR + r] = lanes[i];
                }
            }
        }
    }
}

/// Writes `length` signed int4 elements starting at element `first` of a packed row (element 2i in the high
/// nibble of byte i) as int8.
TARGET_VNNI static void unpack_int4(const uint8_t *row, long first, long length, int8_t *out) {
    long e = 0;
    if ((first & 1) && length > 0) {
        out[e++] = (int8_t)((int8_t)(row[first / 2] << 4) >> 4);
    }
    const uint8_t *bytes = row + (first + e) / 2;
    const __m512i eight = _mm512_set1_epi8(8), nibble = _mm512_set1_epi16(0x0F);
    for (; e + 64 <= length; e += 64, bytes += 32) {
        __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)bytes));
        // Each 16-bit lane: low byte = high nibble (even element), high byte = low nibble (odd element).
        __m512i v = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(w, 4), nibble),
                                    _mm512_slli_epi16(_mm512_and_si512(w, nibble), 8));
        v = _mm512_sub_epi8(_mm512_xor_si512(v, eight), eight);  // sign-extend 4 bits
        _mm512_storeu_si512((void *)(out + e), v);
    }
    for (; e < length; e++) {
        const long index = first + e;
        const uint8_t byte = row[index / 2];
        const uint8_t value = (index & 1) ? (uint8_t)(byte & 0x0F) : (uint8_t)(byte >> 4);
        out[e] = (int8_t)((int8_t)(value << 4) >> 4);
    }
}

/// Packs weight rows [column, column + count) × group `g` quads [q0, q0 + quads) as int8 quads:
/// panel[q * NR + j] = w[j][g * group_size + 4 (q0 + q) ...+3] (zero past the group), and for each column the
/// correction 128 · Σ w and the fp32 scale.
TARGET_VNNI static void pack_weights_i8(const void *weights, int int4, long k, long groups, const uint16_t *scales,
                                        long column, long count, long g, long q0, long quads, uint32_t *panel,
                                        int32_t *correction, float *column_scales) {
    const long group_size = k / groups;
    const long first = g * group_size + 4 * q0;
    const long length = min_long(4 * quads, group_size - 4 * q0);
    int8_t row[4 * KC + 64] __attribute__((aligned(64)));
    for (long j = 0; j < NR; j++) {
        if (j >= count) {
            for (long q = 0; q < quads; q++) panel[q * NR + j] = 0;
            correction[j] = 0;
            column_scales[j] = 0;
            continue;
        }
        const long index = column + j;
        if (int4) {
            unpack_int4((const uint8_t *)weights + index * (k / 2), first, length, row);
        } else {
            memcpy(row, (const int8_t *)weights + index * k + first, (size_t)length);
        }
        memset(row + length, 0, (size_t)(4 * quads - length));
        __m512i sum = _mm512_setzero_si512();
        const __m512i ones = _mm512_set1_epi8(1);
        for (long e = 0; e < 4 * quads; e += 64) {
            __mmask64 mask = 4 * quads - e >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (4 * quads - e)) - 1);
            sum = _mm512_dpbusd_epi32(sum, ones, _mm512_maskz_loadu_epi8(mask, row + e));
        }
        correction[j] = 128 * _mm512_reduce_add_epi32(sum);
        column_scales[j] = _cvtsh_ss(scales[index * groups + g]);
        for (long q = 0; q < quads; q++) panel[q * NR + j] = load_u32(row + 4 * q);
    }
}

/// y[0 ..< rows, 0 ..< 32 masked] (+)= x_scale · column_scale · (Σ_q x block · panel − correction).
TARGET_VNNI static void microkernel_i8(const uint32_t *x, const uint32_t *panel, long quads, float *y, long ldy,
                                       long rows, __mmask16 low, __mmask16 high, int accumulate,
                                       const float *x_scales, const int32_t *correction,
                                       const float *column_scales) {
    __m512i c[MR][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm512_setzero_si512();
    for (long q = 0; q < quads; q++) {
        __m512i b0 = _mm512_load_si512((const void *)(panel + q * NR));
        __m512i b1 = _mm512_load_si512((const void *)(panel + q * NR + 16));
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512i a = _mm512_set1_epi32((int)x[q * MR + r]);
            c[r][0] = _mm512_dpbusd_epi32(c[r][0], a, b0);
            c[r][1] = _mm512_dpbusd_epi32(c[r][1], a, b1);
        }
    }
    const __m512i k0 = _mm512_loadu_si512((const void *)correction);
    const __m512i k1 = _mm512_loadu_si512((const void *)(correction + 16));
    const __m512 s0 = _mm512_loadu_ps(column_scales), s1 = _mm512_loadu_ps(column_scales + 16);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r < rows) {
            float *out = y + r * ldy;
            const __m512 xs = _mm512_set1_ps(x_scales[r]);
            __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[r][0], k0));
            __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c[r][1], k1));
            __m512 y0 = accumulate ? _mm512_maskz_loadu_ps(low, out) : _mm512_setzero_ps();
            __m512 y1 = accumulate ? _mm512_maskz_loadu_ps(high, out + 16) : _mm512_setzero_ps();
            _mm512_mask_storeu_ps(out, low, _mm512_fmadd_ps(v0, _mm512_mul_ps(s0, xs), y0));
            _mm512_mask_storeu_ps(out + 16, high, _mm512_fmadd_ps(v1, _mm512_mul_ps(s1, xs), y1));
        }
    }
}

TARGET_VNNI void ck_gemm_i8_columns(const uint32_t *packed_x, const float *x_scales, long n, long k, long groups,
                                    const void *weights, int weights_are_int4, const void *fp16_scales,
                                    long column_begin, long column_end, float *y, long ldy) {
    uint32_t panel[KC * NR] __attribute__((aligned(64)));
    int32_t correction[NR] __attribute__((aligned(64)));
    float column_scales[NR] __attribute__((aligned(64)));
    const long quads = ck_gemm_i8_quads(k, groups);
    const long group_quads = quads / groups;
    const long blocks = (n + MR - 1) / MR;
    for (long column = column_begin; column < column_end; column += NR) {
        const long count = min_long(NR, column_end - column);
        __mmask16 low, high;
        column_masks(count, &low, &high);
        for (long g = 0; g < groups; g++) {
            for (long q0 = 0; q0 < group_quads; q0 += KC) {
                const long kc = min_long(KC, group_quads - q0);
                pack_weights_i8(weights, weights_are_int4, k, groups, (const uint16_t *)fp16_scales, column, count,
                                g, q0, kc, panel, correction, column_scales);
                const long offset = g * group_quads + q0;
                for (long block = 0; block < blocks; block++) {
                    microkernel_i8(packed_x + block * MR * quads + offset * MR, panel, kc,
                                   y + block * MR * ldy + column, ldy, min_long(MR, n - block * MR), low, high,
                                   g > 0 || q0 > 0, x_scales + block * MR, correction, column_scales);
                }
            }
        }
    }
}

#else  // not x86-64: PrefillKernels never calls these (ck_detect_cpu reports no AVX-512).

size_t ck_gemm_bf16_packed_x_count(long n, long k) { return 0; }
void ck_gemm_bf16_pack_x(const float *x, long n, long k, long block_begin, long block_end, uint32_t *packed) {}
void ck_gemm_bf16_columns(const uint32_t *packed_x, long n, long k, const void *weights, int weights_are_fp16,
                          long column_begin, long column_end, float *y, long ldy) {}
long ck_gemm_i8_quads(long k, long groups) { return 0; }
size_t ck_gemm_i8_packed_x_count(long n, long k, long groups) { return 0; }
void ck_gemm_i8_pack_x(const float *x, long n, long k, long groups, long block_begin, long block_end,
                       uint32_t *packed, float *scales) {}
void ck_gemm_i8_columns(const uint32_t *packed_x, const float *x_scales, long n, long k, long groups,
                        const void *weights, int weights_are_int4, const void *fp16_scales, long column_begin,
                        long column_end, float *y, long ldy) {}

#endif
