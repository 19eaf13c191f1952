// Decode GEMV / small-batch GEMM over compact weights (see ckernels_gemv.h for the contract).
//
// Structure: for each ISA (AVX-512, AVX2, portable) and each format, a driver walks the weight rows of its range
// in blocks (AVX-512: 8 rows for n <= 2, else 4; AVX2: 4 rows for n <= 2, else 3) and, for each block of activation
// rows (AVX-512: 4; AVX2: 2 for n <= 2, else 4), each scale group, computes the rows x nx dot products with the
// weights widened to fp32 in registers; every weight byte is read from memory
// once per block of activation rows (the second and later blocks, n > 4, find the 4 rows in L1/L2). Accumulation
// is fp32; a group's partial sum is multiplied by its scale once. Tails: masked loads (AVX-512) or scalar loops.
//
// int4: the high nibble of byte p is element 2p and the low nibble element 2p+1 (the official packing, unchanged
// in memory). Instead of shuffling nibbles back into element order, the activations are split once per call into
// even and odd halves (ck_gemv_split_pairs), so high nibbles multiply the even half and low nibbles the odd half.
// AVX-512 maps a nibble to its fp32 value with one vpermps through a 16-entry table (no shift-extend-convert).
//
// Why C and not Swift SIMD: for fp32/fp16/bf16 a Swift SIMD loop streams about as fast, so C buys no speed there;
// it buys run-time ISA selection without a -target-cpu for the whole module (a cluster may mix CPUs), AVX-512
// masked tails, the int8 paths and the int4 path's vpermps nibble table, which Swift loops fall far behind
// (measured: docs/BENCHMARKS.md, 'Decode kernels').

#include "ckernels_gemv.h"
#include "ckernels_cpu.h"
#include "prefetch.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#define T256 __attribute__((target("avx2,fma,f16c")))
#endif

/// Software prefetch distance on each weight row stream (bytes; 0 = none). Off: on Zen 4 a 2 KiB per-row
/// prefetcht0 makes the fp16 GEMV from DRAM slower than the hardware prefetchers alone, which keep it at the speed
/// of a plain read loop (measured: docs/BENCHMARKS.md, 'Decode kernels'); the block-ahead L2 prefetch below is the
/// one the kernels use.
#ifndef CK_PF
#define CK_PF 0
#endif
/// The AVX-512 kernels take the AVX2 kernels' block-ahead L2 prefetch (prefetch.h, CK_L2_AHEAD past the point the
/// block of rows has reached): with the hardware prefetchers alone a token's layer GEMVs
/// (Benchmarks/kernels/decode_layers.sh) stay under a plain read loop through the same pool calls; with it the
/// exact fp16 and the fast int8/int4 kernels reach the read loop, and whole-model decode gets faster in every
/// format (distances of 16-128 KiB do alike; measured: docs/BENCHMARKS.md, 'Decode kernels'). The per-row
/// prefetcht0 (CK_PF) stays off. Build with -DCK_AHEAD512=0 to compare.
#ifndef CK_AHEAD512
#define CK_AHEAD512 1
#endif
/// Weight rows per pass when n <= 2 (8 streams in flight per thread; 4 for larger n, where accumulators run out).
#ifndef CK_NR8
#define CK_NR8 8
#endif
/// AVX2 shape for n > 2 activation rows: 3 weight rows x 4 activation rows per pass (12 accumulators, 3 weight
/// vectors, 1 activation vector: all 16 ymm registers), so each weight vector is widened once per 4 activation rows
/// instead of once per 2 (the 4 x 2 shape of n <= 2). A GEMV over a batch is bound by the core (widening and
/// FMAs), not by memory, so widening less per FMA raises its FLOP rate; the 2 x 6, 2 x 5 and 1 x 8 shapes are
/// slower (measured: docs/BENCHMARKS.md, 'Decode kernels'). int4 keeps 4 x 2 (two weight vectors per step).
/// Build with -DCK_NR256=4 -DCK_XB256=2 to compare.
#ifndef CK_NR256
#define CK_NR256 3
#endif
#ifndef CK_XB256
#define CK_XB256 4
#endif
#define INLINE static inline __attribute__((always_inline))

typedef void (*ck_gemv_kernel)(const ck_gemv_problem *p, long row_begin, long row_end);

// ---------------------------------------------------------------------------------------------------------------
// Scalar helpers (portable path, tails, scales)

static inline float ck_bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/// IEEE binary16 bits to fp32, exact for every input (subnormals, infinities, NaN).
static inline float ck_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0) {
        float magnitude = (float)mantissa * 5.9604644775390625e-8f;  // mantissa * 2^-24, exact
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return ck_bits_to_float(sign | 0x7f800000u | (mantissa << 13));
    return ck_bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

static inline float ck_bf16_to_float(uint16_t b) { return ck_bits_to_float((uint32_t)b << 16); }

/// Signed value of a 4-bit two's complement nibble.
static inline int ck_nibble(unsigned v) { return (int)((v & 15u) ^ 8u) - 8; }

static inline float ck_scale(const ck_gemv_problem *p, long row, long group) {
    return ck_half_to_float(p->scales[row * p->groups + group]);
}

/// Element j of a row as fp32, for the non-int4 formats.
static inline float ck_element(int format, const void *row, long j) {
    switch (format) {
    case CK_GEMV_F32: return ((const float *)row)[j];
    case CK_GEMV_F16: return ck_half_to_float(((const uint16_t *)row)[j]);
    case CK_GEMV_BF16: return ck_bf16_to_float(((const uint16_t *)row)[j]);
    default: return (float)((const int8_t *)row)[j];
    }
}

static inline long ck_row_bytes(int format, long k) {
    switch (format) {
    case CK_GEMV_F32: return 4 * k;
    case CK_GEMV_F16:
    case CK_GEMV_BF16: return 2 * k;
    case CK_GEMV_I8: return k;
    default: return k / 2;
    }
}

static inline int ck_quantized(int format) { return format == CK_GEMV_I8 || format == CK_GEMV_I4; }

void ck_gemv_split_pairs(const float *x, long n, long k, float *xs) {
    long half = k / 2;
    for (long i = 0; i < n; i++) {
        const float *src = x + i * k;
        float *even = xs + i * k, *odd = even + half;
        for (long p = 0; p < half; p++) {
            even[p] = src[2 * p];
            odd[p] = src[2 * p + 1];
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Portable path: widen a chunk of one weight row to fp32 on the stack, then dot it with every activation row.

enum { CK_CHUNK = 256 };

static inline float ck_dot(const float *a, const float *b, long count) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 independent sums: vectorisable without reassociation
    long j = 0;
    for (; j + 8 <= count; j += 8)
        for (int l = 0; l < 8; l++) s[l] += a[j + l] * b[j + l];
    float total = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; j < count; j++) total += a[j] * b[j];
    return total;
}

/// int4 with an odd group size: element by element (bytes straddle groups).
static void ck_gemv_i4_elementwise(const ck_gemv_problem *p, long rb, long re) {
    const long k = p->k, half = k / 2, gs = k / p->groups;
    const uint8_t *w = (const uint8_t *)p->w;
    for (long r = rb; r < re; r++) {
        const uint8_t *row = w + r * half;
        for (long i = 0; i < p->n; i++) {
            const float *xe = p->x + i * k, *xo = xe + half;
            float total = 0;
            for (long g = 0; g < p->groups; g++) {
                float partial = 0;
                for (long j = g * gs; j < (g + 1) * gs; j++) {
                    unsigned byte = row[j >> 1];
                    partial += (j & 1) ? (float)ck_nibble(byte) * xo[j >> 1] : (float)ck_nibble(byte >> 4) * xe[j >> 1];
                }
                total += partial * ck_scale(p, r, g);
            }
            p->y[i * p->ldy + r] = total;
        }
    }
}

static void ck_gemv_portable(const ck_gemv_problem *p, long rb, long re) {
    const int format = p->format;
    const long k = p->k, n = p->n, groups = ck_quantized(format) ? p->groups : 1, gs = k / groups;
    const long row_bytes = ck_row_bytes(format, k);
    if (format == CK_GEMV_I4 && (gs & 1)) {
        ck_gemv_i4_elementwise(p, rb, re);
        return;
    }
    float buffer[2 * CK_CHUNK];
    for (long r = rb; r < re; r++) {
        const void *row = (const char *)p->w + r * row_bytes;
        for (long i = 0; i < n; i++) p->y[i * p->ldy + r] = 0;
        for (long g = 0; g < groups; g++) {
            const float scale = ck_quantized(format) ? ck_scale(p, r, g) : 1.0f;
            if (format == CK_GEMV_I4) {
                const long half = k / 2;
                for (long p0 = g * gs / 2; p0 < (g + 1) * gs / 2; p0 += CK_CHUNK) {
                    long count = (g + 1) * gs / 2 - p0;
                    if (count > CK_CHUNK) count = CK_CHUNK;
                    const uint8_t *bytes = (const uint8_t *)row + p0;
                    for (long c = 0; c < count; c++) {
                        buffer[c] = (float)ck_nibble(bytes[c] >> 4);
                        buffer[CK_CHUNK + c] = (float)ck_nibble(bytes[c]);
                    }
                    for (long i = 0; i < n; i++) {
                        const float *xe = p->x + i * k + p0;
                        float partial = ck_dot(buffer, xe, count) + ck_dot(buffer + CK_CHUNK, xe + half, count);
                        p->y[i * p->ldy + r] += partial * scale;
                    }
                }
            } else {
                // Partial sums per group chunk; the scale applies to the chunk's sum (same as per group).
                for (long j0 = g * gs; j0 < (g + 1) * gs; j0 += CK_CHUNK) {
                    long count = (g + 1) * gs - j0;
                    if (count > CK_CHUNK) count = CK_CHUNK;
                    for (long c = 0; c < count; c++) buffer[c] = ck_element(format, row, j0 + c);
                    for (long i = 0; i < n; i++)
                        p->y[i * p->ldy + r] += ck_dot(buffer, p->x + i * k + j0, count) * scale;
                }
            }
        }
    }
}

#if CK_X86
// ---------------------------------------------------------------------------------------------------------------
// AVX-512: 4 weight rows x up to 4 activation rows per pass (16 accumulators), masked tails.

#define W512_F32(ptr) _mm512_loadu_ps((const float *)(ptr))
#define W512M_F32(m, ptr) _mm512_maskz_loadu_ps((m), (const float *)(ptr))
#define W512_F16(ptr) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(ptr)))
#define W512M_F16(m, ptr) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((m), (ptr)))
#define W512_BF16(ptr) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(ptr))), 16))
#define W512M_BF16(m, ptr) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16((m), (ptr))), 16))
#define W512_I8(ptr) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(ptr))))
#define W512M_I8(m, ptr) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8((m), (ptr))))

// out[r][i] = sum_{j in [k0, k1)} w[r * ldw + j] * x[i * ldx + j] for r < NR, i < NX (compile-time after inlining).
// The main loop takes 64 bytes of each weight row per step (one cache line: U vectors of 16 weights) and prefetches
// each row stream CK_PF bytes ahead; vector u of a step goes to accumulator set u & 1 when NR * NX is small, so
// the FMA chains stay independent.
#define CK_DOT512(NAME, WT, LOADW, LOADWM, U)                                                                      \
    T512 INLINE void NAME(const float *x, long ldx, const WT *w, long ldw, long k0, long k1, const int NR,        \
                          const int NX, float out[8][4]) {                                                         \
        const int two = NX == 1;                                                                                    \
        __m512 acc[8][4], acc2[8][4];                                                                              \
        for (int r = 0; r < NR; r++)                                                                               \
            for (int i = 0; i < NX; i++) acc[r][i] = acc2[r][i] = _mm512_setzero_ps();                             \
        long j = k0;                                                                                               \
        for (; j + 16 * U <= k1; j += 16 * U) {                                                                    \
            if (CK_PF)                                                                                             \
                for (int r = 0; r < NR; r++) _mm_prefetch((const char *)(w + r * ldw + j) + CK_PF, _MM_HINT_T0); \
            if (CK_AHEAD512) CK_PREFETCH_AHEAD(w + k0 + (j - k0) * NR, 16 * U * NR * sizeof(WT));                  \
            for (int u = 0; u < U; u++) {                                                                          \
                __m512 wv[8];                                                                                      \
                for (int r = 0; r < NR; r++) wv[r] = LOADW(w + r * ldw + j + 16 * u);                              \
                for (int i = 0; i < NX; i++) {                                                                     \
                    __m512 xv = _mm512_loadu_ps(x + i * ldx + j + 16 * u);                                         \
                    for (int r = 0; r < NR; r++) {                                                                 \
                        if (two && (u & 1)) acc2[r][i] = _mm512_fmadd_ps(wv[r], xv, acc2[r][i]);                   \
                        else acc[r][i] = _mm512_fmadd_ps(wv[r], xv, acc[r][i]);                                    \
                    }                                                                                              \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
        for (; j + 16 <= k1; j += 16) {                                                                            \
            __m512 wv[8];                                                                                          \
            for (int r = 0; r < NR; r++) wv[r] = LOADW(w + r * ldw + j);                                           \
            for (int i = 0; i < NX; i++) {                                                                         \
                __m512 xv = _mm512_loadu_ps(x + i * ldx + j);                                                      \
                for (int r = 0; r < NR; r++) acc[r][i] = _mm512_fmadd_ps(wv[r], xv, acc[r][i]);                    \
            }                                                                                                      \
        }                                                                                                          \
        if (j < k1) {                                                                                              \
            __mmask16 m = (__mmask16)((1u << (k1 - j)) - 1u);                                                      \
            __m512 wv[8];                                                                                          \
            for (int r = 0; r < NR; r++) wv[r] = LOADWM(m, w + r * ldw + j);                                       \
            for (int i = 0; i < NX; i++) {                                                                         \
                __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + j);                                             \
                for (int r = 0; r < NR; r++) acc[r][i] = _mm512_fmadd_ps(wv[r], xv, acc[r][i]);                    \
            }                                                                                                      \
        }                                                                                                          \
        for (int r = 0; r < NR; r++)                                                                               \
            for (int i = 0; i < NX; i++)                                                                           \
                out[r][i] = _mm512_reduce_add_ps(two ? _mm512_add_ps(acc[r][i], acc2[r][i]) : acc[r][i]);          \
    }

CK_DOT512(ck_dot512_f32, float, W512_F32, W512M_F32, 1)
CK_DOT512(ck_dot512_f16, uint16_t, W512_F16, W512M_F16, 2)
CK_DOT512(ck_dot512_bf16, uint16_t, W512_BF16, W512M_BF16, 2)
CK_DOT512(ck_dot512_i8, int8_t, W512_I8, W512M_I8, 4)

/// int4 over byte (pair) range [p0, p1): x is the split layout (even half at x, odd half at x + half).
/// One byte -> one 32-bit lane (vpmovzxbd); vpermps through a 16-entry table turns the low 4 bits of a lane into
/// the nibble's fp32 value, so the low nibble needs no shift and the high nibble one. With NX <= 2 the even and
/// odd products go to separate accumulators (two FMAs per row and step would otherwise form one latency chain).
T512 INLINE void ck_i4_step512(const float *x, long ldx, const uint8_t *w, long ldw, long p, __mmask16 m, const int NR,
                               const int NX, __m512 acc[8][4], long half, __m512 table) {
    __m512 hi[8], lo[8];
    for (int r = 0; r < NR; r++) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, w + r * ldw + p));
        lo[r] = _mm512_permutexvar_ps(v, table);
        hi[r] = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
    }
    for (int i = 0; i < NX; i++) {
        __m512 xe = _mm512_maskz_loadu_ps(m, x + i * ldx + p);
        __m512 xo = _mm512_maskz_loadu_ps(m, x + i * ldx + half + p);
        for (int r = 0; r < NR; r++) {
            if (NX <= 2) {
                acc[r][2 * i] = _mm512_fmadd_ps(hi[r], xe, acc[r][2 * i]);
                acc[r][2 * i + 1] = _mm512_fmadd_ps(lo[r], xo, acc[r][2 * i + 1]);
            } else {
                acc[r][i] = _mm512_fmadd_ps(hi[r], xe, acc[r][i]);
                acc[r][i] = _mm512_fmadd_ps(lo[r], xo, acc[r][i]);
            }
        }
    }
}

T512 INLINE void ck_dot512_i4(const float *x, long ldx, const uint8_t *w, long ldw, long p0, long p1, const int NR,
                              const int NX, float out[8][4], long half) {
    const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
    __m512 acc[8][4];
    for (int r = 0; r < NR; r++)
        for (int i = 0; i < 4; i++) acc[r][i] = _mm512_setzero_ps();
    long p = p0;
    for (; p + 64 <= p1; p += 64) {
        if (CK_PF)
            for (int r = 0; r < NR; r++) _mm_prefetch((const char *)(w + r * ldw + p) + CK_PF, _MM_HINT_T0);
        if (CK_AHEAD512) CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 64 * NR);
        for (int u = 0; u < 4; u++)
            ck_i4_step512(x, ldx, w, ldw, p + 16 * u, (__mmask16)0xffff, NR, NX, acc, half, table);
    }
    for (; p + 16 <= p1; p += 16) ck_i4_step512(x, ldx, w, ldw, p, (__mmask16)0xffff, NR, NX, acc, half, table);
    if (p < p1) ck_i4_step512(x, ldx, w, ldw, p, (__mmask16)((1u << (p1 - p)) - 1u), NR, NX, acc, half, table);
    for (int r = 0; r < NR; r++)
        for (int i = 0; i < NX; i++)
            out[r][i] = NX <= 2 ? _mm512_reduce_add_ps(_mm512_add_ps(acc[r][2 * i], acc[r][2 * i + 1]))
                                : _mm512_reduce_add_ps(acc[r][i]);
}

// ---------------------------------------------------------------------------------------------------------------
// AVX2: 4 weight rows x up to 2 activation rows per pass (n <= 2), 3 x 4 for more (CK_NR256), scalar tails.

T256 INLINE float ck_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define W256_F32(ptr) _mm256_loadu_ps((const float *)(ptr))
#define W256_F16(ptr) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ptr)))
#define W256_BF16(ptr) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(ptr))), 16))
#define W256_I8(ptr) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(ptr))))

#define CK_DOT256(NAME, WT, LOADW, FORMAT)                                                                         \
    T256 INLINE void NAME(const float *x, long ldx, const WT *w, long ldw, long k0, long k1, const int NR,        \
                          const int NX, float out[8][4]) {                                                         \
        __m256 acc[8][4];                                                                                          \
        for (int r = 0; r < NR; r++)                                                                               \
            for (int i = 0; i < NX; i++) acc[r][i] = _mm256_setzero_ps();                                          \
        long j = k0;                                                                                               \
        for (; j + 8 <= k1; j += 8) {                                                                              \
            CK_PREFETCH_AHEAD(w + k0 + (j - k0) * NR, 8 * NR * sizeof(WT));                                        \
            __m256 wv[8];                                                                                          \
            for (int r = 0; r < NR; r++) wv[r] = LOADW(w + r * ldw + j);                                           \
            for (int i = 0; i < NX; i++) {                                                                         \
                __m256 xv = _mm256_loadu_ps(x + i * ldx + j);                                                      \
                for (int r = 0; r < NR; r++) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);                    \
            }                                                                                                      \
        }                                                                                                          \
        for (int r = 0; r < NR; r++)                                                                               \
            for (int i = 0; i < NX; i++) {                                                                         \
                float s = ck_hsum256(acc[r][i]);                                                                   \
                for (long t = j; t < k1; t++) s += ck_element(FORMAT, w + r * ldw, t) * x[i * ldx + t];            \
                out[r][i] = s;                                                                                     \
            }                                                                                                      \
    }

CK_DOT256(ck_dot256_f32, float, W256_F32, CK_GEMV_F32)
CK_DOT256(ck_dot256_f16, uint16_t, W256_F16, CK_GEMV_F16)
CK_DOT256(ck_dot256_bf16, uint16_t, W256_BF16, CK_GEMV_BF16)
CK_DOT256(ck_dot256_i8, int8_t, W256_I8, CK_GEMV_I8)

/// int4 with one activation row (decode at batch 1): separate sums for high and low nibbles, and the low nibble
/// widened by one shift, as q * 2^28 (the byte sign-extended and shifted left 28: exact in int32 and in fp32), its
/// sum scaled back by 2^-28 at the end (exact). Against the shared-chain form below (shift-shift for the low
/// nibble, both FMAs on one accumulator): 7 instead of 8 vector ops per 16 weights and no FMA chained on the one
/// before it. Exact int4 is compute-bound on AVX2, below a plain read loop from DRAM, so every operation saved per
/// weight raises its bandwidth (measured: docs/BENCHMARKS.md, 'Decode kernels').
T256 INLINE void ck_dot256_i4_one(const float *x, const uint8_t *w, long ldw, long p0, long p1, const int NR,
                                  float out[8][4], long half) {
    __m256 high[8], low[8];
    for (int r = 0; r < NR; r++) high[r] = low[r] = _mm256_setzero_ps();
    long p = p0;
    for (; p + 8 <= p1; p += 8) {
        CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 8 * NR);
        const __m256 xe = _mm256_loadu_ps(x + p), xo = _mm256_loadu_ps(x + half + p);
        for (int r = 0; r < NR; r++) {
            const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + r * ldw + p)));
            high[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(v, 4)), xe, high[r]);
            low[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_slli_epi32(v, 28)), xo, low[r]);
        }
    }
    for (int r = 0; r < NR; r++) {
        float s = ck_hsum256(high[r]) + ck_hsum256(low[r]) * 0x1p-28f;
        for (long t = p; t < p1; t++) {
            unsigned byte = w[r * ldw + t];
            s += (float)ck_nibble(byte >> 4) * x[t] + (float)ck_nibble(byte) * x[half + t];
        }
        out[r][0] = s;
    }
}

T256 INLINE void ck_dot256_i4(const float *x, long ldx, const uint8_t *w, long ldw, long p0, long p1, const int NR,
                              const int NX, float out[8][4], long half) {
    if (NX == 1) {
        ck_dot256_i4_one(x, w, ldw, p0, p1, NR, out, half);
        return;
    }
    __m256 acc[8][4];
    for (int r = 0; r < NR; r++)
        for (int i = 0; i < NX; i++) acc[r][i] = _mm256_setzero_ps();
    long p = p0;
    for (; p + 8 <= p1; p += 8) {
        CK_PREFETCH_AHEAD(w + p0 + (p - p0) * NR, 8 * NR);
        __m256 hi[8], lo[8];
        for (int r = 0; r < NR; r++) {
            __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + r * ldw + p)));
            hi[r] = _mm256_cvtepi32_ps(_mm256_srai_epi32(v, 4));
            lo[r] = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 28), 28));
        }
        for (int i = 0; i < NX; i++) {
            __m256 xe = _mm256_loadu_ps(x + i * ldx + p);
            __m256 xo = _mm256_loadu_ps(x + i * ldx + half + p);
            for (int r = 0; r < NR; r++) {
                acc[r][i] = _mm256_fmadd_ps(hi[r], xe, acc[r][i]);
                acc[r][i] = _mm256_fmadd_ps(lo[r], xo, acc[r][i]);
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int i = 0; i < NX; i++) {
            float s = ck_hsum256(acc[r][i]);
            for (long t = p; t < p1; t++) {
                unsigned byte = w[r * ldw + t];
                s += (float)ck_nibble(byte >> 4) * x[i * ldx + t] + (float)ck_nibble(byte) * x[i * ldx + half + t];
            }
            out[r][i] = s;
        }
}

// ---------------------------------------------------------------------------------------------------------------
// Drivers: rows in blocks of NR8 (n <= 2) or NRW (then singles), activation rows in blocks of XB (n <= 2) or XBW,
// groups innermost per block.

// Calls DOT with compile-time NR (8, 4, 3 or 1) and NX (1..4) so the accumulator arrays live in registers.
#define CK_DISPATCH_NX(DOT, NR, nx, ...)                                                                           \
    switch (nx) {                                                                                                  \
    case 1: DOT(__VA_ARGS__, NR, 1, out EXTRA); break;                                                             \
    case 2: DOT(__VA_ARGS__, NR, 2, out EXTRA); break;                                                             \
    case 3: DOT(__VA_ARGS__, NR, 3, out EXTRA); break;                                                             \
    default: DOT(__VA_ARGS__, NR, 4, out EXTRA); break;                                                            \
    }

#define CK_DRIVER(NAME, ATTR, DOT, WT, FORMAT, XB, NR8, XBW, NRW)                                                             \
    ATTR static void NAME(const ck_gemv_problem *p, long rb, long re) {                                            \
        const long k = p->k, n = p->n, groups = ck_quantized(FORMAT) ? p->groups : 1, gs = k / groups;            \
        const int i4 = FORMAT == CK_GEMV_I4;                                                                       \
        const long half = k / 2, ldw = i4 ? half : k;                                                              \
        const WT *w = (const WT *)p->w;                                                                            \
        long r = rb;                                                                                               \
        while (r < re) {                                                                                           \
            const int nr = n <= 2 ? (re - r >= NR8 ? NR8 : re - r >= 4 ? 4 : 1) : re - r >= NRW ? NRW : 1;          \
            const long xb = n <= 2 ? XB : XBW;                                                                     \
            for (long i0 = 0; i0 < n; i0 += xb) {                                                                  \
                const int nx = (int)(n - i0 < xb ? n - i0 : xb);                                                   \
                float total[8][4] = {{0}};                                                                         \
                for (long g = 0; g < groups; g++) {                                                                \
                    float out[8][4];                                                                               \
                    const long k0 = i4 ? g * gs / 2 : g * gs, k1 = i4 ? (g + 1) * gs / 2 : (g + 1) * gs;          \
                    const float *x = p->x + i0 * k;                                                                \
                    const WT *wr = w + r * ldw;                                                                    \
                    if (nr == 8) {                                                                                 \
                        CK_DISPATCH_NX(DOT, 8, nx, x, k, wr, ldw, k0, k1)                                          \
                    } else if (nr == 4) {                                                                          \
                        CK_DISPATCH_NX(DOT, 4, nx, x, k, wr, ldw, k0, k1)                                          \
                    } else if (nr == 3) {                                                                          \
                        CK_DISPATCH_NX(DOT, 3, nx, x, k, wr, ldw, k0, k1)                                          \
                    } else {                                                                                       \
                        CK_DISPATCH_NX(DOT, 1, nx, x, k, wr, ldw, k0, k1)                                          \
                    }                                                                                              \
                    for (int rr = 0; rr < nr; rr++) {                                                              \
                        const float scale = ck_quantized(FORMAT) ? ck_scale(p, r + rr, g) : 1.0f;                  \
                        for (int i = 0; i < nx; i++) total[rr][i] += out[rr][i] * scale;                           \
                    }                                                                                              \
                }                                                                                                  \
                for (int rr = 0; rr < nr; rr++)                                                                    \
                    for (int i = 0; i < nx; i++) p->y[(i0 + i) * p->ldy + r + rr] = total[rr][i];                  \
            }                                                                                                      \
            r += nr;                                                                                               \
        }                                                                                                          \
    }

#define EXTRA
CK_DRIVER(ck_gemv512_f32, T512, ck_dot512_f32, float, CK_GEMV_F32, 4, CK_NR8, 4, 4)
CK_DRIVER(ck_gemv512_f16, T512, ck_dot512_f16, uint16_t, CK_GEMV_F16, 4, CK_NR8, 4, 4)
CK_DRIVER(ck_gemv512_bf16, T512, ck_dot512_bf16, uint16_t, CK_GEMV_BF16, 4, CK_NR8, 4, 4)
CK_DRIVER(ck_gemv512_i8, T512, ck_dot512_i8, int8_t, CK_GEMV_I8, 4, CK_NR8, 4, 4)
CK_DRIVER(ck_gemv256_f32, T256, ck_dot256_f32, float, CK_GEMV_F32, 2, 4, CK_XB256, CK_NR256)
CK_DRIVER(ck_gemv256_f16, T256, ck_dot256_f16, uint16_t, CK_GEMV_F16, 2, 4, CK_XB256, CK_NR256)
CK_DRIVER(ck_gemv256_bf16, T256, ck_dot256_bf16, uint16_t, CK_GEMV_BF16, 2, 4, CK_XB256, CK_NR256)
CK_DRIVER(ck_gemv256_i8, T256, ck_dot256_i8, int8_t, CK_GEMV_I8, 2, 4, CK_XB256, CK_NR256)
#undef EXTRA
#define EXTRA , half
CK_DRIVER(ck_gemv512_i4_even, T512, ck_dot512_i4, uint8_t, CK_GEMV_I4, 4, CK_NR8, 4, 4)
CK_DRIVER(ck_gemv256_i4_even, T256, ck_dot256_i4, uint8_t, CK_GEMV_I4, 2, 4, 2, 4)
#undef EXTRA

/// int4 vector paths need whole bytes per group (even group size); odd sizes go element by element.
static void ck_gemv512_i4(const ck_gemv_problem *p, long rb, long re) {
    if ((p->k / p->groups) & 1) ck_gemv_i4_elementwise(p, rb, re);
    else ck_gemv512_i4_even(p, rb, re);
}
static void ck_gemv256_i4(const ck_gemv_problem *p, long rb, long re) {
    if ((p->k / p->groups) & 1) ck_gemv_i4_elementwise(p, rb, re);
    else ck_gemv256_i4_even(p, rb, re);
}
#endif  // CK_X86

// ---------------------------------------------------------------------------------------------------------------
// Dispatch

static int ck_best_isa(void) {
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa < 0) {
        ck_cpu_features f = ck_detect_cpu();
        isa = CK_ISA_PORTABLE;
#if CK_X86
        if (f.avx2 && f.f16c) isa = CK_ISA_AVX2;
        if (f.avx512 && f.avx2 && f.f16c) isa = CK_ISA_AVX512;
#else
        (void)f;
#endif
        __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    }
    return isa;
}

int ck_gemv_resolve_isa(int isa) {
    int best = ck_best_isa();
    if (isa <= CK_ISA_AUTO || isa > best) return best;
    return isa;
}

void ck_gemv(ck_gemv_problem problem, long row_begin, long row_end, int isa) {
    if (row_end <= row_begin || problem.n <= 0) return;
    if ((unsigned)problem.format > CK_GEMV_I4) return;
    ck_gemv_kernel kernel = ck_gemv_portable;
#if CK_X86
    static const ck_gemv_kernel avx512[5] = {ck_gemv512_f32, ck_gemv512_f16, ck_gemv512_bf16, ck_gemv512_i8,
                                             ck_gemv512_i4};
    static const ck_gemv_kernel avx2[5] = {ck_gemv256_f32, ck_gemv256_f16, ck_gemv256_bf16, ck_gemv256_i8,
                                           ck_gemv256_i4};
    switch (ck_gemv_resolve_isa(isa)) {
    case CK_ISA_AVX512: kernel = avx512[problem.format]; break;
    case CK_ISA_AVX2: kernel = avx2[problem.format]; break;
    default: break;
    }
#else
    (void)isa;
#endif
    kernel(&problem, row_begin, row_end);
}
