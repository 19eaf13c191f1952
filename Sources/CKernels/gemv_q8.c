// Fast-precision decode GEMV on vpdpbusd (see ckernels_gemv_q8.h for the contract).
//
// vpdpbusd multiplies unsigned bytes by signed bytes. The activations are the signed operand (xq in [-127, 127]);
// each weight is made unsigned by an offset: int8 q + 128 (one xor with 0x80), int4 v + 8 (the nibble xor 8, one
// vpternlogd together with the mask). Per scale group the int32 sum Σ (q + off) · xq is corrected by off · Σ xq
// (precomputed per activation row and group by the packer), which is exact integer arithmetic: the only rounding
// is the activation quantisation, identical to the prefill int8 kernels (PrefillKernels documents the bound).
//
// Shape: one weight row at a time (each thread reads one sequential stream), activation rows in blocks of 4, 64
// weight bytes per step (int8: 64 weights, int4: 128), masked tails. Unlike the exact kernels, which share each
// activation load among 8 rows because they are compute-heavy, this one has cycles to spare, and a single stream
// is what the hardware prefetchers follow best: eight rows per pass (short int4 rows of k / 2 bytes make eight
// short streams per pass) read DRAM markedly slower, and in cache this kernel streams two to four times faster than
// the exact ones (measured: docs/BENCHMARKS.md, 'Decode kernels').
// (Build with -DCK_Q8_ROWS_PER_PASS=8 to compare.)

#include "ckernels_gemv_q8.h"
#include "ckernels_gemv.h"
#include "ckernels_cpu.h"
#include <math.h>
#include <string.h>
#include "prefetch.h"

/// The VNNI loops prefetch CK_L2_AHEAD bytes ahead into L2 like the exact kernels (gemv.c, CK_AHEAD512): without
/// it a fast int8/int4 token's layer GEMVs stay well under a plain read loop, with it they reach about its speed
/// (measured: docs/BENCHMARKS.md, 'Decode kernels'). Build with -DCK_AHEAD512=0 to compare.
#ifndef CK_AHEAD512
#define CK_AHEAD512 1
#endif

#ifndef CK_Q8_ROWS_PER_PASS
#define CK_Q8_ROWS_PER_PASS 1
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#define TVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))
#define INLINE static inline __attribute__((always_inline))

int ck_gemv_q8_supported(int format, long k, long groups) {
    if (groups <= 0 || k <= 0 || k % groups) return 0;
    if (format == CK_GEMV_I8) return 1;
    if (format == CK_GEMV_I4) return k % 2 == 0 && (k / groups) % 2 == 0;
    return 0;
}

TVNNI static void ck_gemv_q8_pack_x_vnni(const float *x, long n, long k, long groups, int split, int8_t *xq, float *x_scales,
                             int32_t *x_sums) {
    const long group_size = k / groups, half = k / 2;
    for (long i = 0; i < n; i++) {
        const float *row = x + i * k;
        __m512 largest = _mm512_setzero_ps();
        for (long e = 0; e < k; e += 16) {
            __mmask16 m = k - e >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - e)) - 1);
            largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, row + e)));
        }
        const float maximum = _mm512_reduce_max_ps(largest);
        x_scales[i] = maximum > 0 ? maximum / 127.0f : 0;
        const __m512 inverse = _mm512_set1_ps(maximum > 0 ? 127.0f / maximum : 0);
        const __m512i low = _mm512_set1_epi32(-127), high = _mm512_set1_epi32(127);
        int8_t *out = xq + i * k;
        for (long g = 0; g < groups; g++) {
            __m512i sum = _mm512_setzero_si512();
            for (long e = g * group_size; e < (g + 1) * group_size; e += 16) {
                const long remaining = (g + 1) * group_size - e;
                __mmask16 m = remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
                // Default MXCSR rounding: to nearest, ties to even (as ck_gemm_i8_pack_x).
                __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + e), inverse));
                q = _mm512_maskz_mov_epi32(m, _mm512_min_epi32(_mm512_max_epi32(q, low), high));
                sum = _mm512_add_epi32(sum, q);
                int8_t lanes[16];
                _mm_storeu_si128((__m128i *)lanes, _mm512_cvtepi32_epi8(q));
                const long count = remaining < 16 ? remaining : 16;
                if (!split) {
                    memcpy(out + e, lanes, (size_t)count);
                } else {
                    for (long t = 0; t < count; t++) {
                        const long j = e + t;
                        out[(j & 1) ? half + (j >> 1) : (j >> 1)] = lanes[t];
                    }
                }
            }
            x_sums[i * groups + g] = _mm512_reduce_add_epi32(sum);
        }
    }
}

/// acc[r][i] += Σ over bytes [p0, p1) of the rows' offset weights times the activations (int8 layout).
TVNNI INLINE void ck_q8_i8(const int8_t *xq, long ldx, const int8_t *w, long ldw, long p0, long p1, const int NR,
                           const int NX, __m512i acc[8][4]) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    long p = p0;
    for (; p + 64 <= p1; p += 64) {
        if (CK_AHEAD512) CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 64 * NR);
        __m512i xv[4];
        for (int i = 0; i < NX; i++) xv[i] = _mm512_loadu_si512(xq + i * ldx + p);
        for (int r = 0; r < NR; r++) {
            __m512i wv = _mm512_xor_si512(_mm512_loadu_si512(w + r * ldw + p), flip);
            for (int i = 0; i < NX; i++) acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], wv, xv[i]);
        }
    }
    if (p < p1) {
        // Masked-off activation bytes are zero, so the flipped (128) weight bytes there add nothing.
        const __mmask64 m = (__mmask64)((1ULL << (p1 - p)) - 1);
        __m512i xv[4];
        for (int i = 0; i < NX; i++) xv[i] = _mm512_maskz_loadu_epi8(m, xq + i * ldx + p);
        for (int r = 0; r < NR; r++) {
            __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + r * ldw + p), flip);
            for (int i = 0; i < NX; i++) acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], wv, xv[i]);
        }
    }
}

/// The int4 step: byte p holds element 2p (high nibble, meets the even half of xq) and 2p+1 (low nibble, the odd
/// half at + half). `(b & 0x0F) ^ 0x08` is vpternlogd 0x6A.
TVNNI INLINE void ck_q8_i4_step(const int8_t *xq, long ldx, const uint8_t *w, long ldw, long p, long half,
                                __mmask64 m, const int NR, const int NX, __m512i acc[8][4]) {
    const __m512i nibble = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(0x08);
    __m512i xe[4], xo[4];
    for (int i = 0; i < NX; i++) {
        xe[i] = _mm512_maskz_loadu_epi8(m, xq + i * ldx + p);
        xo[i] = _mm512_maskz_loadu_epi8(m, xq + i * ldx + half + p);
    }
    for (int r = 0; r < NR; r++) {
        __m512i b = _mm512_maskz_loadu_epi8(m, w + r * ldw + p);
        __m512i lo = _mm512_ternarylogic_epi32(b, nibble, eight, 0x6A);
        __m512i hi = _mm512_ternarylogic_epi32(_mm512_srli_epi16(b, 4), nibble, eight, 0x6A);
        for (int i = 0; i < NX; i++) {
            // One row: the odd products go to the spare accumulator row, so two dependency chains run.
            acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], hi, xe[i]);
            acc[NR == 1 ? 1 : r][i] = _mm512_dpbusd_epi32(acc[NR == 1 ? 1 : r][i], lo, xo[i]);
        }
    }
}

TVNNI INLINE void ck_q8_i4(const int8_t *xq, long ldx, const uint8_t *w, long ldw, long p0, long p1, long half,
                           const int NR, const int NX, __m512i acc[8][4]) {
    long p = p0;
    for (; p + 64 <= p1; p += 64) {
        if (CK_AHEAD512) CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 64 * NR);
        ck_q8_i4_step(xq, ldx, w, ldw, p, half, ~(__mmask64)0, NR, NX, acc);
    }
    if (p < p1) ck_q8_i4_step(xq, ldx, w, ldw, p, half, (__mmask64)((1ULL << (p1 - p)) - 1), NR, NX, acc);
}

TVNNI INLINE float ck_q8_half(uint16_t h) {
    return _cvtsh_ss(h);
}

/// Rows [r, r + NR) × activation rows [i0, i0 + NX): every group, corrected and scaled, written to y.
TVNNI INLINE void ck_q8_block(const ck_gemv_q8_problem *p, long r, long i0, const int NR, const int NX) {
    const int i4 = p->format == CK_GEMV_I4;
    const long k = p->k, groups = p->groups, gs = k / groups, half = k / 2, ldw = i4 ? half : k;
    const int32_t offset = i4 ? 8 : 128;
    float total[8][4];
    for (int rr = 0; rr < NR; rr++)
        for (int i = 0; i < NX; i++) total[rr][i] = 0;
    for (long g = 0; g < groups; g++) {
        __m512i acc[8][4];
        for (int rr = 0; rr < (NR == 1 ? 2 : NR); rr++)
            for (int i = 0; i < NX; i++) acc[rr][i] = _mm512_setzero_si512();
        const int8_t *x = p->xq + i0 * k;
        if (i4) ck_q8_i4(x, k, (const uint8_t *)p->w + r * ldw, ldw, g * gs / 2, (g + 1) * gs / 2, half, NR, NX, acc);
        else ck_q8_i8(x, k, (const int8_t *)p->w + r * ldw, ldw, g * gs, (g + 1) * gs, NR, NX, acc);
        for (int rr = 0; rr < NR; rr++) {
            const float scale = ck_q8_half(p->scales[(r + rr) * groups + g]);
            for (int i = 0; i < NX; i++) {
                const __m512i sum = NR == 1 ? _mm512_add_epi32(acc[0][i], acc[1][i]) : acc[rr][i];
                const int32_t dot = _mm512_reduce_add_epi32(sum) - offset * p->x_sums[(i0 + i) * groups + g];
                total[rr][i] += (float)dot * scale;
            }
        }
    }
    for (int rr = 0; rr < NR; rr++)
        for (int i = 0; i < NX; i++) p->y[(i0 + i) * p->ldy + r + rr] = total[rr][i] * p->x_scales[i0 + i];
}

#define CK_Q8_NX(NR, nx)                                                                                           \
    switch (nx) {                                                                                                  \
    case 1: ck_q8_block(&problem, r, i0, NR, 1); break;                                                            \
    case 2: ck_q8_block(&problem, r, i0, NR, 2); break;                                                            \
    case 3: ck_q8_block(&problem, r, i0, NR, 3); break;                                                            \
    default: ck_q8_block(&problem, r, i0, NR, 4); break;                                                           \
    }

TVNNI static void ck_gemv_q8_vnni(ck_gemv_q8_problem problem, long row_begin, long row_end) {
    const long n = problem.n;
    long r = row_begin;
    while (r < row_end) {
        const int nr = CK_Q8_ROWS_PER_PASS <= 1 ? 1 : (n <= 2 && row_end - r >= 8) ? 8 : row_end - r >= 4 ? 4 : 1;
        for (long i0 = 0; i0 < n; i0 += 4) {
            const long nx = n - i0 < 4 ? n - i0 : 4;
            if (nr == 8) {
                CK_Q8_NX(8, nx)
            } else if (nr == 4) {
                CK_Q8_NX(4, nx)
            } else {
                CK_Q8_NX(1, nx)
            }
        }
        r += nr;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// AVX2 (no VNNI): the same arithmetic on vpmaddubsw (u8 x s8 pairs summed to s16) + vpmaddwd (pairs to s32).
//
// int8 takes the sign trick: |q| (u8, at most 127) times sign(q) * xq (s8), so a pair sum is at most 2 * 127 * 127
// and vpmaddubsw never saturates; no offset correction. int4 uses the offset form of the VNNI path: nibble v + 8 in
// [0, 15] times xq, pairs at most 2 * 15 * 127, corrected by 8 * Σ xq per group. Both are exact integer sums, so
// this path returns what the VNNI path returns (same float operations on the same int32 dot products).

#define T2 __attribute__((target("avx2,fma,f16c")))

T2 INLINE int32_t ck_q8_hsum256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/// Quantises like ck_gemv_q8_pack_x_vnni, element by element: the fp32 product x * (127 / max|x|) rounded to
/// nearest even (nearbyintf under the default rounding mode, as vcvtps2dq), clamped to [-127, 127].
static void ck_gemv_q8_pack_x_scalar(const float *x, long n, long k, long groups, int split, int8_t *xq,
                                     float *x_scales, int32_t *x_sums) {
    const long group_size = k / groups, half = k / 2;
    for (long i = 0; i < n; i++) {
        const float *row = x + i * k;
        float maximum = 0;
        for (long e = 0; e < k; e++) maximum = fabsf(row[e]) > maximum ? fabsf(row[e]) : maximum;
        x_scales[i] = maximum > 0 ? maximum / 127.0f : 0;
        const float inverse = maximum > 0 ? 127.0f / maximum : 0;
        int8_t *out = xq + i * k;
        for (long g = 0; g < groups; g++) {
            int32_t sum = 0;
            for (long e = g * group_size; e < (g + 1) * group_size; e++) {
                float q = nearbyintf(row[e] * inverse);
                q = q < -127 ? -127 : q > 127 ? 127 : q;
                const int8_t v = (int8_t)q;
                sum += v;
                out[split ? ((e & 1) ? half + (e >> 1) : (e >> 1)) : e] = v;
            }
            x_sums[i * groups + g] = sum;
        }
    }
}

/// One weight row against one activation row (decode at batch 1), 64 bytes per step in two accumulators and
/// without the software prefetch of the blocked loops: one sequential stream is what the hardware prefetcher
/// follows best, and the L2 prefetch slows it down; without it the loop reads DRAM at close to a plain read
/// loop's rate (measured: docs/BENCHMARKS.md, 'Decode kernels'). Returns the bytes done.
T2 INLINE long ck_q8a_i8_one(const int8_t *xq, const int8_t *w, long p0, long p1, __m256i *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i first = *acc, second = _mm256_setzero_si256();
    long p = p0;
    for (; p + 64 <= p1; p += 64) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + p));
        const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + p + 32));
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(xq + p));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xq + p + 32));
        first = _mm256_add_epi32(
            first, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0)), ones));
        second = _mm256_add_epi32(
            second, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w1, w1), _mm256_sign_epi8(x1, w1)), ones));
    }
    *acc = _mm256_add_epi32(first, second);
    return p - p0;
}

/// int4 as ck_q8a_i8_one, for the split activation layout: one xor makes both nibbles of a byte unsigned (v + 8)
/// before they are split, and two steps' products are summed in s16 (each maddubs pair is at most 2 * 15 * 127,
/// four of them 15240) before one vpmaddwd: 8.5 instead of 10 vector operations per 32 bytes. The loop is
/// compute-bound on AVX2 (with the weights in L2 too), so fewer operations per byte are more bandwidth (measured:
/// docs/BENCHMARKS.md, 'Decode kernels').
T2 INLINE long ck_q8a_i4_one(const int8_t *xq, const uint8_t *w, long p0, long p1, long half, __m256i *acc) {
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F);
    const __m256i both = _mm256_set1_epi8((char)0x88);
    __m256i sum = *acc;
    long p = p0;
    for (; p + 64 <= p1; p += 64) {
        const __m256i b0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + p)), both);
        const __m256i b1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + p + 32)), both);
        const __m256i pairs0 = _mm256_add_epi16(
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b0, 4), nibble),
                                 _mm256_loadu_si256((const __m256i *)(xq + p))),
            _mm256_maddubs_epi16(_mm256_and_si256(b0, nibble), _mm256_loadu_si256((const __m256i *)(xq + half + p))));
        const __m256i pairs1 = _mm256_add_epi16(
            _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b1, 4), nibble),
                                 _mm256_loadu_si256((const __m256i *)(xq + p + 32))),
            _mm256_maddubs_epi16(_mm256_and_si256(b1, nibble),
                                 _mm256_loadu_si256((const __m256i *)(xq + half + p + 32))));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_add_epi16(pairs0, pairs1), ones));
    }
    *acc = sum;
    return p - p0;
}

/// acc[r][i] += Σ over bytes [p0, p1) of q[r] * xq[i] (int8 weights, sign trick); tails element by element into
/// `tail[r][i]`.
T2 INLINE void ck_q8a_i8(const int8_t *xq, long ldx, const int8_t *w, long ldw, long p0, long p1, const int NR,
                         const int NX, __m256i acc[8][4], int32_t tail[8][4]) {
    const __m256i ones = _mm256_set1_epi16(1);
    long p = p0;
    if (NR == 1 && NX == 1) p += ck_q8a_i8_one(xq, w, p0, p1, &acc[0][0]);
    for (; p + 32 <= p1; p += 32) {
        CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 32 * NR);
        __m256i xv[4];
        for (int i = 0; i < NX; i++) xv[i] = _mm256_loadu_si256((const __m256i *)(xq + i * ldx + p));
        for (int r = 0; r < NR; r++) {
            const __m256i wv = _mm256_loadu_si256((const __m256i *)(w + r * ldw + p));
            const __m256i magnitude = _mm256_sign_epi8(wv, wv);
            for (int i = 0; i < NX; i++) {
                const __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(xv[i], wv));
                acc[r][i] = _mm256_add_epi32(acc[r][i], _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (; p < p1; p++)
        for (int r = 0; r < NR; r++)
            for (int i = 0; i < NX; i++) tail[r][i] += (int32_t)w[r * ldw + p] * (int32_t)xq[i * ldx + p];
}

/// int4 over bytes [p0, p1): high nibbles meet the even half of xq, low nibbles the odd half (+ half); each nibble
/// enters as v + 8 (unsigned), corrected by the caller.
T2 INLINE void ck_q8a_i4(const int8_t *xq, long ldx, const uint8_t *w, long ldw, long p0, long p1, long half,
                         const int NR, const int NX, __m256i acc[8][4], int32_t tail[8][4]) {
    const __m256i ones = _mm256_set1_epi16(1), nibble = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(0x08);
    long p = p0;
    if (NR == 1 && NX == 1) p += ck_q8a_i4_one(xq, w, p0, p1, half, &acc[0][0]);
    for (; p + 32 <= p1; p += 32) {
        CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 32 * NR);
        __m256i xe[4], xo[4];
        for (int i = 0; i < NX; i++) {
            xe[i] = _mm256_loadu_si256((const __m256i *)(xq + i * ldx + p));
            xo[i] = _mm256_loadu_si256((const __m256i *)(xq + i * ldx + half + p));
        }
        for (int r = 0; r < NR; r++) {
            const __m256i b = _mm256_loadu_si256((const __m256i *)(w + r * ldw + p));
            const __m256i lo = _mm256_xor_si256(_mm256_and_si256(b, nibble), eight);
            const __m256i hi = _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), nibble), eight);
            for (int i = 0; i < NX; i++) {
                // Both products are at most 2 * 15 * 127 per pair: their s16 sum cannot overflow either.
                const __m256i pairs =
                    _mm256_add_epi16(_mm256_maddubs_epi16(hi, xe[i]), _mm256_maddubs_epi16(lo, xo[i]));
                acc[r][i] = _mm256_add_epi32(acc[r][i], _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (; p < p1; p++)
        for (int r = 0; r < NR; r++) {
            const unsigned byte = w[r * ldw + p];
            for (int i = 0; i < NX; i++)
                tail[r][i] += (int32_t)((byte >> 4) ^ 8u) * xq[i * ldx + p] +
                              (int32_t)((byte & 15u) ^ 8u) * xq[i * ldx + half + p];
        }
}

/// Rows [r, r + NR) x activation rows [i0, i0 + NX), as ck_q8_block.
T2 INLINE void ck_q8a_block(const ck_gemv_q8_problem *p, long r, long i0, const int NR, const int NX) {
    const int i4 = p->format == CK_GEMV_I4;
    const long k = p->k, groups = p->groups, gs = k / groups, half = k / 2, ldw = i4 ? half : k;
    const int32_t offset = i4 ? 8 : 0;
    float total[8][4];
    for (int rr = 0; rr < NR; rr++)
        for (int i = 0; i < NX; i++) total[rr][i] = 0;
    for (long g = 0; g < groups; g++) {
        __m256i acc[8][4];
        int32_t tail[8][4];
        for (int rr = 0; rr < NR; rr++)
            for (int i = 0; i < NX; i++) {
                acc[rr][i] = _mm256_setzero_si256();
                tail[rr][i] = 0;
            }
        const int8_t *x = p->xq + i0 * k;
        if (i4)
            ck_q8a_i4(x, k, (const uint8_t *)p->w + r * ldw, ldw, g * gs / 2, (g + 1) * gs / 2, half, NR, NX, acc,
                      tail);
        else
            ck_q8a_i8(x, k, (const int8_t *)p->w + r * ldw, ldw, g * gs, (g + 1) * gs, NR, NX, acc, tail);
        for (int rr = 0; rr < NR; rr++) {
            const float scale = _cvtsh_ss(p->scales[(r + rr) * groups + g]);
            for (int i = 0; i < NX; i++) {
                const int32_t dot =
                    ck_q8_hsum256(acc[rr][i]) + tail[rr][i] - offset * p->x_sums[(i0 + i) * groups + g];
                total[rr][i] += (float)dot * scale;
            }
        }
    }
    for (int rr = 0; rr < NR; rr++)
        for (int i = 0; i < NX; i++) p->y[(i0 + i) * p->ldy + r + rr] = total[rr][i] * p->x_scales[i0 + i];
}

/// Decode at batch 1: one activation row, weight rows one after another with one accumulator in a register. The
/// general ck_q8a_block (accumulator and tail arrays sized for 8 x 4, a group-size division per row) spends much
/// of a batch-1 call outside its inner loop when a row is short (int4, k = 2048: 1 KiB per row); this loop keeps
/// the layer GEMVs near memory speed (Benchmarks/kernels/decode_layers.sh; measured: docs/BENCHMARKS.md, 'Decode
/// kernels'). Software prefetch 256-2048 bytes ahead makes no difference here.
T2 static void ck_q8a_rows_one(const ck_gemv_q8_problem *p, long row_begin, long row_end) {
    const int i4 = p->format == CK_GEMV_I4;
    const long k = p->k, groups = p->groups, half = k / 2, ldw = i4 ? half : k, group_bytes = ldw / groups;
    const int32_t offset = i4 ? 8 : 0;
    const int8_t *xq = p->xq;
    const float x_scale = p->x_scales[0];
    for (long r = row_begin; r < row_end; r++) {
        const uint8_t *w = (const uint8_t *)p->w + r * ldw;
        float total = 0;
        for (long g = 0; g < groups; g++) {
            const long b0 = g * group_bytes, b1 = b0 + group_bytes;
            __m256i acc = _mm256_setzero_si256();
            long b = b0 + (i4 ? ck_q8a_i4_one(xq, w, b0, b1, half, &acc)
                              : ck_q8a_i8_one(xq, (const int8_t *)w, b0, b1, &acc));
            int32_t tail = 0;
            for (; b < b1; b++)
                tail += i4 ? (int32_t)((w[b] >> 4) ^ 8u) * xq[b] + (int32_t)((w[b] & 15u) ^ 8u) * xq[half + b]
                           : (int32_t)(int8_t)w[b] * xq[b];
            const int32_t dot = ck_q8_hsum256(acc) + tail - offset * p->x_sums[g];
            total += (float)dot * _cvtsh_ss(p->scales[r * groups + g]);
        }
        p->y[r] = total * x_scale;
    }
}

/// Batch 1 as above; else one weight row per pass (one sequential stream per thread, as the VNNI path), activation
/// rows in blocks of 4. Two or four weight rows per pass decode the model more slowly (measured:
/// docs/BENCHMARKS.md, 'Decode kernels').
T2 static void ck_gemv_q8_avx2(ck_gemv_q8_problem problem, long row_begin, long row_end) {
    const long n = problem.n;
    if (n == 1) {
        ck_q8a_rows_one(&problem, row_begin, row_end);
        return;
    }
    for (long r = row_begin; r < row_end; r++)
        for (long i0 = 0; i0 < n; i0 += 4) {
            switch (n - i0) {  // compile-time NX so the accumulators stay in registers
            case 1: ck_q8a_block(&problem, r, i0, 1, 1); break;
            case 2: ck_q8a_block(&problem, r, i0, 1, 2); break;
            case 3: ck_q8a_block(&problem, r, i0, 1, 3); break;
            default: ck_q8a_block(&problem, r, i0, 1, 4); break;
            }
        }
}

// ---------------------------------------------------------------------------------------------------------------
// Dispatch

int ck_gemv_q8_resolve_isa(int isa) {
    const ck_cpu_features f = ck_detect_cpu();
    const int best = f.avx512vnni ? CK_ISA_AVX512 : f.avx2 && f.f16c ? CK_ISA_AVX2 : 0;
    if (isa <= CK_ISA_AUTO || isa > best) return best;
    return isa < CK_ISA_AVX2 ? 0 : isa;
}

void ck_gemv_q8_pack_x(const float *x, long n, long k, long groups, int split, int8_t *xq, float *x_scales,
                       int32_t *x_sums) {
    if (ck_gemv_q8_resolve_isa(CK_ISA_AUTO) == CK_ISA_AVX512)
        ck_gemv_q8_pack_x_vnni(x, n, k, groups, split, xq, x_scales, x_sums);
    else
        ck_gemv_q8_pack_x_scalar(x, n, k, groups, split, xq, x_scales, x_sums);
}

void ck_gemv_q8_on(ck_gemv_q8_problem problem, long row_begin, long row_end, int isa) {
    switch (ck_gemv_q8_resolve_isa(isa)) {
    case CK_ISA_AVX512: ck_gemv_q8_vnni(problem, row_begin, row_end); break;
    case CK_ISA_AVX2: ck_gemv_q8_avx2(problem, row_begin, row_end); break;
    default: break;  // callers check ck_gemv_q8_resolve_isa first
    }
}

#else  // not x86-64: DecodeKernels never calls these (ck_gemv_q8_resolve_isa reports no path).

int ck_gemv_q8_supported(int format, long k, long groups) { return 0; }
int ck_gemv_q8_resolve_isa(int isa) { return 0; }
void ck_gemv_q8_pack_x(const float *x, long n, long k, long groups, int split, int8_t *xq, float *x_scales,
                       int32_t *x_sums) {}
void ck_gemv_q8_on(ck_gemv_q8_problem problem, long row_begin, long row_end, int isa) {}

#endif
