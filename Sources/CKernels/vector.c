// Row-wise activation kernels and the decode attention core (see ckernels_vector.h for the contract).
//
// Structure: every kernel is written once as a branch-free scalar loop body (`static inline`, always inlined)
// and instantiated three times, inside functions carrying `target("avx512...")`, `target("avx2,fma")` or no
// attribute; clang vectorises each instantiation at that width (selects become blends, bit casts stay in
// registers), so the three paths compute the same algorithm. Reductions (max, sums, dot products) keep 16
// independent lane accumulators so they vectorise without -ffast-math.
//
// exp: Cody-Waite reduction by ln 2 (split in two constants) and the Cephes degree-7 polynomial, ~1 ulp on
// [-87, 88]; inputs below -87 give exactly 0 (so masked softmax entries vanish as with libm's expf).
// erf: FreeBSD's s_erff.c (Steve Kargl's 2017 minimax fits): x + x P/Q(x^2) below 0.84375, erx + P/Q(|x| - 1)
// below 1.25, 1 - exp(-z^2 - 0.5625) exp((z - x)(z + x) + R/S(1/x^2)) / x below 4 (z = x with the low 13 mantissa
// bits cleared, so z^2 is exact), +-1 beyond. Every lane evaluates all branches and selects.

#include "ckernels_vector.h"
#include "ckernels_cpu.h"
#include "ckernels_gemv.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#define CK_X86 1
#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c"), noinline))
#define T256 __attribute__((target("avx2,fma,f16c"), noinline))
#endif

#define INLINE static inline __attribute__((always_inline))
#define LANES 16

// ---------------------------------------------------------------------------------------------------------------
// Scalar building blocks (vectorised by the callers' loops)

INLINE float ck_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

INLINE uint32_t ck_to_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/// e^x, ~1 ulp for x in [-87, 88]; 0 below -87, +inf above 88.7 (not reached by the callers).
INLINE float ck_exp(float x) {
    float c = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    // round(c / ln 2) by the 1.5 * 2^23 trick (exact for |c / ln 2| < 2^22)
    float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * r2 + r + 1.0f;
    float scale = ck_from_bits((uint32_t)((int32_t)n + 127) << 23);
    float y = e * scale;
    return x < -87.0f ? 0.0f : y;
}

/// erf(x) in fp32, branch-free (see the file comment).
INLINE float ck_erf_scalar(float x) {
    uint32_t bits = ck_to_bits(x);
    uint32_t sign = bits & 0x80000000u;
    float a = ck_from_bits(bits & 0x7fffffffu);

    // |x| < 0.84375: x + x * P(x^2) / Q(x^2)
    float z2 = a * a;
    float pp = -1.86260219e-03f;
    pp = pp * z2 + -3.36030394e-01f;
    pp = pp * z2 + 1.28379166e-01f;
    float qq = -1.98859419e-03f;
    qq = qq * z2 + 2.16070302e-02f;
    qq = qq * z2 + 3.12324286e-01f;
    qq = qq * z2 + 1.0f;
    float small = a + a * (pp / qq);

    // 0.84375 <= |x| < 1.25: erx + P(s) / Q(s), s = |x| - 1
    float s = a - 1.0f;
    float pa = 1.10914491e-01f;
    pa = pa * s + -1.65179938e-01f;
    pa = pa * s + 4.15109694e-01f;
    pa = pa * s + 3.64939137e-06f;
    float qa = 5.62181212e-02f;
    qa = qa * s + 1.68576106e-01f;
    qa = qa * s + 5.35934687e-01f;
    qa = qa * s + 6.02074385e-01f;
    qa = qa * s + 1.0f;
    float middle = 8.42697144e-01f + pa / qa;

    // 1.25 <= |x| < 4: 1 - exp(-z^2 - 0.5625) exp((z - a)(z + a) + R/S(1/x^2)) / a
    float b = a < 1.25f ? 1.25f : (a > 4.0f ? 4.0f : a);
    float t = 1.0f / (b * b);
    int near = b < 2.85714293f;  // 1/0.35: the near fit has degree 3/4 in t, the far one 4/4
    float rn = -1.43268085e+00f;
    rn = rn * t + -2.17589188e+00f;
    rn = rn * t + -5.53605914e-01f;
    rn = rn * t + -9.87132732e-03f;
    float sn = -5.77397496e-02f;
    sn = sn * t + 1.43113089e+00f;
    sn = sn * t + 6.69798088e+00f;
    sn = sn * t + 5.45995426e+00f;
    sn = sn * t + 1.0f;
    float rf = -9.53764343e+00f;
    rf = rf * t + -1.66696873e+01f;
    rf = rf * t + -6.16498327e+00f;
    rf = rf * t + -6.25171244e-01f;
    rf = rf * t + -9.86494310e-03f;
    float sf = 8.93033314e+00f;
    sf = sf * t + 4.72810211e+01f;
    sf = sf * t + 4.51839523e+01f;
    sf = sf * t + 1.26884899e+01f;
    sf = sf * t + 1.0f;
    float ratio = near ? rn / sn : rf / sf;
    float z = ck_from_bits(ck_to_bits(b) & 0xffffe000u);
    float tail = ck_exp(-z * z - 0.5625f) * ck_exp((z - b) * (z + b) + ratio);
    float large = 1.0f - tail / b;

    float m = a < 0.84375f ? small : (a < 1.25f ? middle : (a < 4.0f ? large : 1.0f));
    return ck_from_bits(ck_to_bits(m) | sign);
}

INLINE float ck_gelu_scalar(float x) { return 0.5f * x * (1.0f + ck_erf_scalar(x * 0.70710678118654752f)); }

/// The tanh GELU `0.5 x (1 + tanh(u))`, `u = sqrt(2 / pi) (x + 0.044715 x^3)`, as `x / (1 + exp(-2 u))` (the same
/// function, one exp and no cancellation near -1).
INLINE float ck_gelu_tanh_scalar(float x) {
    float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return x / (1.0f + ck_exp(-2.0f * u));
}

// ---------------------------------------------------------------------------------------------------------------
// Kernel bodies

INLINE void erf_body(const float *restrict x, float *restrict y, long count) {
    for (long i = 0; i < count; i++) y[i] = ck_erf_scalar(x[i]);
}

INLINE void gelu_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = ck_gelu_scalar(x[i]);
}

INLINE void gelu_tanh_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = ck_gelu_tanh_scalar(x[i]);
}

INLINE void geglu_body(const float *restrict linear, const float *restrict gate, float *restrict out, long count) {
    for (long j = 0; j < count; j++) out[j] = linear[j] * ck_gelu_scalar(gate[j]);
}

/// SwiGLU gating: `silu(gate) * up`, `silu(x) = x / (1 + exp(-x))`.
INLINE void swiglu_body(const float *restrict gate, const float *restrict up, float *restrict out, long count) {
    for (long j = 0; j < count; j++) out[j] = gate[j] / (1.0f + ck_exp(-gate[j])) * up[j];
}

INLINE float row_max(const float *restrict v, long count) {
    float m[LANES];
    for (int l = 0; l < LANES; l++) m[l] = -INFINITY;
    long i = 0;
    for (; i + LANES <= count; i += LANES)
        for (int l = 0; l < LANES; l++) m[l] = v[i + l] > m[l] ? v[i + l] : m[l];
    for (; i < count; i++) m[0] = v[i] > m[0] ? v[i] : m[0];
    float result = m[0];
    for (int l = 1; l < LANES; l++) result = m[l] > result ? m[l] : result;
    return result;
}

/// Masks, then soft-maxes one row in place.
INLINE void softmax_row(float *restrict v, long columns, long allowed) {
    for (long c = allowed; c < columns; c++) v[c] = -10000.0f;
    float maximum = row_max(v, columns);
    float sums[LANES] = {0};
    long i = 0;
    for (; i + LANES <= columns; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = ck_exp(v[i + l] - maximum);
            v[i + l] = e;
            sums[l] += e;
        }
    for (; i < columns; i++) {
        float e = ck_exp(v[i] - maximum);
        v[i] = e;
        sums[0] += e;
    }
    float sum = 0;
    for (int l = 0; l < LANES; l++) sum += sums[l];
    float inverse = 1.0f / sum;
    for (long c = 0; c < columns; c++) v[c] *= inverse;
}

INLINE long allowed_columns(long columns, long query, long prefix) {
    long allowed = prefix > query + 1 ? prefix : query + 1;
    return allowed < columns ? allowed : columns;
}

INLINE void softmax_body(
    float *scores, long ld, long columns, long row_begin, long row_end, long first_query, long prefix) {
    for (long row = row_begin; row < row_end; row++)
        softmax_row(scores + row * ld, columns, allowed_columns(columns, first_query + row, prefix));
}

INLINE void layer_norm_body(
    const float *x, long width, const float *restrict weight, const float *restrict bias, float epsilon, float *y,
    long row_begin, long row_end) {
    for (long row = row_begin; row < row_end; row++) {
        const float *restrict in = x + row * width;
        float *restrict out = y + row * width;
        double sums[8] = {0};
        long i = 0;
        for (; i + 8 <= width; i += 8)
            for (int l = 0; l < 8; l++) sums[l] += (double)in[i + l];
        for (; i < width; i++) sums[0] += (double)in[i];
        double sum = 0;
        for (int l = 0; l < 8; l++) sum += sums[l];
        double mean = sum / (double)width;
        double squares[8] = {0};
        i = 0;
        for (; i + 8 <= width; i += 8)
            for (int l = 0; l < 8; l++) {
                double d = (double)in[i + l] - mean;
                squares[l] += d * d;
            }
        for (; i < width; i++) {
            double d = (double)in[i] - mean;
            squares[0] += d * d;
        }
        double total = 0;
        for (int l = 0; l < 8; l++) total += squares[l];
        float inverse = (float)(1.0 / sqrt(total / (double)width + (double)epsilon));
        float meanF = (float)mean;
        for (long j = 0; j < width; j++) out[j] = (in[j] - meanF) * inverse * weight[j] + bias[j];
    }
}

INLINE void rms_norm_body(
    const float *x, long width, const float *restrict weight, float epsilon, float *y, long row_begin,
    long row_end) {
    for (long row = row_begin; row < row_end; row++) {
        const float *restrict in = x + row * width;
        float *restrict out = y + row * width;
        double squares[8] = {0};
        long i = 0;
        for (; i + 8 <= width; i += 8)
            for (int l = 0; l < 8; l++) squares[l] += (double)in[i + l] * (double)in[i + l];
        for (; i < width; i++) squares[0] += (double)in[i] * (double)in[i];
        double total = 0;
        for (int l = 0; l < 8; l++) total += squares[l];
        float inverse = (float)(1.0 / sqrt(total / (double)width + (double)epsilon));
        for (long j = 0; j < width; j++) out[j] = weight[j] * (in[j] * inverse);
    }
}

/// Decode attention streams each head's keys, then its values, once per token; each step asks for the K/V row
/// this many bytes ahead into L2. With the prefetch decode attention takes markedly less time per token than with
/// the hardware prefetchers alone, and 8 KiB ahead does better than 2 KiB (measured: docs/BENCHMARKS.md, 'Decode').
#ifndef CK_ATTENTION_AHEAD
#define CK_ATTENTION_AHEAD 8192
#endif

/// Asks for the `bytes` of a K/V row CK_ATTENTION_AHEAD past `row` into L2 (prefetches never fault).
INLINE void prefetch_ahead(const void *row, long bytes) {
    if (CK_ATTENTION_AHEAD)
        for (long b = 0; b < bytes; b += 64) __builtin_prefetch((const char *)row + CK_ATTENTION_AHEAD + b, 0, 2);
}

/// Element `index` of a K/V row stored as fp32 (`half` 0) or IEEE fp16 (`half` 1); `half` is a constant at every
/// call, so each instantiation reads one type (fp16 widens with vcvtph2ps where the target has F16C).
INLINE float kv_at(const void *row, long index, int half) {
    if (!half) return ((const float *)row)[index];
    _Float16 h;  // the cache holds uint16_t bits: copy, not an aliasing load
    memcpy(&h, (const char *)row + 2 * index, 2);
    return (float)h;
}

INLINE float dot(const float *restrict a, const void *restrict b, long d, int half) {
    float acc[LANES] = {0};
    long i = 0;
    for (; i + LANES <= d; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[i + l] * kv_at(b, i + l, half);
    for (; i < d; i++) acc[0] += a[i] * kv_at(b, i, half);
    float sum = 0;
    for (int l = 0; l < LANES; l++) sum += acc[l];
    return sum;
}

INLINE void attention_body(
    const float *q, long n, long d, const void *keys, const void *values, long total, float scale,
    long first_query, long prefix, float *scores, float *out, long ldo, int half) {
    const long element = half ? 2 : 4;
    for (long i = 0; i < n; i++) {
        float *restrict s = scores + i * total;
        long allowed = allowed_columns(total, first_query + i, prefix);
        for (long c = 0; c < allowed; c++) {
            const void *restrict k = (const char *)keys + c * d * element;
            prefetch_ahead(k, d * element);
            s[c] = scale * dot(q + i * d, k, d, half);
        }
        softmax_row(s, total, allowed);
        float *restrict o = out + i * ldo;
        for (long j = 0; j < d; j++) o[j] = 0;
        // Masked columns have probability exactly 0 (exp flushes below e^-87), so they add nothing.
        for (long c = 0; c < allowed; c++) {
            float p = s[c];
            const void *restrict v = (const char *)values + c * d * element;
            prefetch_ahead(v, d * element);
            for (long j = 0; j < d; j++) o[j] += p * kv_at(v, j, half);
        }
    }
}

/// Grouped attention of `n` query heads at one position (a decode step) sharing one key/value head: each key and
/// value row is read once for all n queries (keys outer, queries inner), where `attention_body` reads them once per
/// query. Every column is allowed: the step sees the whole cache.
INLINE void attention_group_body(
    const float *q, long n, long ldq, long d, const void *keys, const void *values, long total, float scale,
    float *scores, float *out, long ldo, int half) {
    const long element = half ? 2 : 4;
    for (long c = 0; c < total; c++) {
        const void *restrict k = (const char *)keys + c * d * element;
        prefetch_ahead(k, d * element);
        for (long i = 0; i < n; i++) scores[i * total + c] = scale * dot(q + i * ldq, k, d, half);
    }
    for (long i = 0; i < n; i++) {
        softmax_row(scores + i * total, total, total);
        for (long j = 0; j < d; j++) out[i * ldo + j] = 0;
    }
    for (long c = 0; c < total; c++) {
        const void *restrict v = (const char *)values + c * d * element;
        prefetch_ahead(v, d * element);
        for (long i = 0; i < n; i++) {
            float p = scores[i * total + c];
            float *restrict o = out + i * ldo;
            for (long j = 0; j < d; j++) o[j] += p * kv_at(v, j, half);
        }
    }
}

/// fp32 -> fp16, round to nearest even (vcvtps2ph, or the compiler runtime's conversion: the same bits).
INLINE void narrow_body(const float *restrict x, uint16_t *restrict y, long count) {
    for (long i = 0; i < count; i++) {
        _Float16 h = (_Float16)x[i];
        memcpy(y + i, &h, 2);
    }
}

INLINE void widen_body(const uint16_t *restrict x, float *restrict y, long count) {
    for (long i = 0; i < count; i++) y[i] = kv_at(x, i, 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Instantiations and dispatch

#define CK_INSTANTIATE(SUFFIX, ATTR)                                                                              \
    ATTR static void erf_##SUFFIX(const float *x, float *y, long count) { erf_body(x, y, count); }                \
    ATTR static void gelu_##SUFFIX(const float *x, float *y, long count) { gelu_body(x, y, count); }              \
    ATTR static void gelu_tanh_##SUFFIX(const float *x, float *y, long count) { gelu_tanh_body(x, y, count); }    \
    ATTR static void geglu_##SUFFIX(const float *l, const float *g, float *out, long count) {                     \
        geglu_body(l, g, out, count);                                                                             \
    }                                                                                                             \
    ATTR static void swiglu_##SUFFIX(const float *g, const float *u, float *out, long count) {                   \
        swiglu_body(g, u, out, count);                                                                            \
    }                                                                                                             \
    ATTR static void rms_norm_##SUFFIX(                                                                           \
        const float *x, long w, const float *g, float eps, float *y, long b, long e) {                            \
        rms_norm_body(x, w, g, eps, y, b, e);                                                                     \
    }                                                                                                             \
    ATTR static void softmax_##SUFFIX(float *s, long ld, long c, long b, long e, long q, long p) {               \
        softmax_body(s, ld, c, b, e, q, p);                                                                       \
    }                                                                                                             \
    ATTR static void layer_norm_##SUFFIX(                                                                         \
        const float *x, long w, const float *g, const float *bi, float eps, float *y, long b, long e) {           \
        layer_norm_body(x, w, g, bi, eps, y, b, e);                                                               \
    }                                                                                                             \
    ATTR static void attention_##SUFFIX(                                                                          \
        const float *q, long n, long d, const float *k, const float *v, long t, float sc, long fq, long p,         \
        float *s, float *o, long ldo) {                                                                           \
        attention_body(q, n, d, k, v, t, sc, fq, p, s, o, ldo, 0);                                                \
    }                                                                                                             \
    ATTR static void attention_f16_##SUFFIX(                                                                      \
        const float *q, long n, long d, const uint16_t *k, const uint16_t *v, long t, float sc, long fq, long p,   \
        float *s, float *o, long ldo) {                                                                           \
        attention_body(q, n, d, k, v, t, sc, fq, p, s, o, ldo, 1);                                                \
    }                                                                                                             \
    ATTR static void attention_group_##SUFFIX(                                                                    \
        const float *q, long n, long ldq, long d, const void *k, const void *v, long t, float sc, float *s,       \
        float *o, long ldo, int half) {                                                                           \
        attention_group_body(q, n, ldq, d, k, v, t, sc, s, o, ldo, half);                                         \
    }                                                                                                             \
    ATTR static void narrow_##SUFFIX(const float *x, uint16_t *y, long count) { narrow_body(x, y, count); }       \
    ATTR static void widen_##SUFFIX(const uint16_t *x, float *y, long count) { widen_body(x, y, count); }

#define NOATTR __attribute__((noinline))
CK_INSTANTIATE(portable, NOATTR)
#if CK_X86
CK_INSTANTIATE(avx2, T256)
CK_INSTANTIATE(avx512, T512)
#endif

int ck_vector_resolve_isa(int isa) {
    static int detected = 0;  // benign race: every thread computes the same value
    if (!detected) {
        ck_cpu_features f = ck_detect_cpu();
        detected = f.avx512 && f.f16c ? CK_ISA_AVX512 : (f.avx2 && f.f16c ? CK_ISA_AVX2 : CK_ISA_PORTABLE);
    }
    if (isa == CK_ISA_AUTO || isa > detected) return detected;
    return isa;
}

#if CK_X86
#define CK_DISPATCH(NAME, ...)                                                                                    \
    switch (ck_vector_resolve_isa(isa)) {                                                                         \
    case CK_ISA_AVX512: NAME##_avx512(__VA_ARGS__); break;                                                        \
    case CK_ISA_AVX2: NAME##_avx2(__VA_ARGS__); break;                                                            \
    default: NAME##_portable(__VA_ARGS__); break;                                                                 \
    }
#else
#define CK_DISPATCH(NAME, ...) NAME##_portable(__VA_ARGS__)
#endif

void ck_erf(const float *x, float *y, long count, int isa) { CK_DISPATCH(erf, x, y, count) }

void ck_gelu(const float *x, float *y, long count, int isa) { CK_DISPATCH(gelu, x, y, count) }

void ck_gelu_tanh(const float *x, float *y, long count, int isa) { CK_DISPATCH(gelu_tanh, x, y, count) }

void ck_geglu(const float *linear, const float *gate, float *out, long count, int isa) {
    CK_DISPATCH(geglu, linear, gate, out, count)
}

void ck_swiglu(const float *gate, const float *up, float *out, long count, int isa) {
    CK_DISPATCH(swiglu, gate, up, out, count)
}

void ck_rms_norm_rows(
    const float *x, long width, const float *weight, float epsilon, float *y, long row_begin, long row_end, int isa) {
    CK_DISPATCH(rms_norm, x, width, weight, epsilon, y, row_begin, row_end)
}

void ck_softmax_rows(
    float *scores, long ld, long columns, long row_begin, long row_end, long first_query, long bidirectional_prefix,
    int isa) {
    CK_DISPATCH(softmax, scores, ld, columns, row_begin, row_end, first_query, bidirectional_prefix)
}

void ck_layer_norm_rows(
    const float *x, long width, const float *weight, const float *bias, float epsilon, float *y, long row_begin,
    long row_end, int isa) {
    CK_DISPATCH(layer_norm, x, width, weight, bias, epsilon, y, row_begin, row_end)
}

void ck_attention_head(
    const float *q, long n, long d, const float *keys, const float *values, long total, float scale,
    long first_query, long bidirectional_prefix, float *scores, float *out, long ldo, int isa) {
    CK_DISPATCH(attention, q, n, d, keys, values, total, scale, first_query, bidirectional_prefix, scores, out, ldo)
}

void ck_attention_head_f16(
    const float *q, long n, long d, const uint16_t *keys, const uint16_t *values, long total, float scale,
    long first_query, long bidirectional_prefix, float *scores, float *out, long ldo, int isa) {
    CK_DISPATCH(attention_f16, q, n, d, keys, values, total, scale, first_query, bidirectional_prefix, scores, out,
                ldo)
}

void ck_attention_group(
    const float *q, long n, long ldq, long d, const void *keys, const void *values, long total, float scale,
    float *scores, float *out, long ldo, int half, int isa) {
    CK_DISPATCH(attention_group, q, n, ldq, d, keys, values, total, scale, scores, out, ldo, half)
}

void ck_narrow_to_f16(const float *x, uint16_t *y, long count, int isa) { CK_DISPATCH(narrow, x, y, count) }

void ck_widen_f16(const uint16_t *x, float *y, long count, int isa) { CK_DISPATCH(widen, x, y, count) }
