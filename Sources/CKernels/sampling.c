// Sampling weights and their exact fixed-point mass (see ckernels_sampling.h for the contract).
//
// The weight body is plain scalar C in fp32 (the official sampler's softmax is fp32), instantiated with and
// without `target("avx2")` (the compiler vectorises the loop, 8 floats per instruction); FMA contraction is off
// inside it, so the vector lanes, the portable loop and the scalar ck_sampling_weight round identically. 2^n goes
// into the exponent field directly: the rounded multiple n sits in the low bits of `t = x log2(e) + 1.5 * 2^23`.

#include "ckernels_sampling.h"
#include "ckernels_vector.h"
#include "ckernels_gemv.h"
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE float weight_body(float value, float maximum) {
#pragma clang fp contract(off)
    const float x = value - maximum;
    const float clamped = x < -45.0f ? -45.0f : x;  // -inf, and lanes selected away below
    const float shifter = 0x1.8p23f;
    const float t = clamped * 1.44269504088896341f + shifter;
    const float n = t - shifter;  // round(x / ln 2), in [-65, 0]
    const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;  // ln 2 in two parts: n * 0.693359375 is exact
    float p = 1.0f / 5040.0f;  // Taylor to r^7 / 7!: the next term is below 2^-27 of the sum for |r| <= ln 2 / 2
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits, tBits, shifterBits;
    memcpy(&bits, &p, 4);
    memcpy(&tBits, &t, 4);
    memcpy(&shifterBits, &shifter, 4);
    bits += (tBits - shifterBits) << 23;  // p * 2^n (n is the integer difference of the bit patterns)
    float e;
    memcpy(&e, &bits, 4);
    e = e < 1.0f ? e : 1.0f;
    return value == maximum ? 1.0f : (x < -44.0f ? 0.0f : e);
}

/// round(w * 2^62), halves away from zero, for a weight w in [0, 1] that is 0 or at least 2^-64: the fp32 bits
/// give w = m * 2^(exponent - 150) with a 24-bit m, so the product is m shifted by exponent - 88 (left for
/// w >= 2^-38, else right by at most 25 with the rounding bit added first).
INLINE uint64_t fixed_point(float w) {
    uint32_t bits;
    memcpy(&bits, &w, 4);
    const int32_t exponent = (int32_t)(bits >> 23);
    const uint64_t m = (uint64_t)((bits & 0x7fffffu) | 0x800000u);
    const int32_t shift = exponent - 88;
    const uint64_t left = m << (shift > 0 ? shift : 0);
    const int32_t right = shift < 0 ? (-shift < 63 ? -shift : 63) : 0;  // 63 only for w = 0 (selected away below)
    const uint64_t rounded = (m + ((uint64_t)1 << right >> 1)) >> right;
    return bits == 0 ? 0 : (shift >= 0 ? left : rounded);
}

/// The mass in two 64-bit sums, of the high and the low 32 bits of each fixed-point weight (2^62 at most, so
/// neither sum can overflow below 2^31 entries); `total = high * 2^32 + low`.
INLINE void mass_body(const float *restrict values, long count, float maximum, uint64_t *high, uint64_t *low) {
    uint64_t h = 0, l = 0;
#pragma clang loop vectorize_width(8) interleave_count(1)
    for (long i = 0; i < count; i++) {
        const uint64_t f = fixed_point(weight_body(values[i], maximum));
        h += f >> 32;
        l += f & 0xffffffffu;
    }
    *high = h;
    *low = l;
}

__attribute__((noinline)) static void mass_portable(const float *v, long count, float maximum, uint64_t *h,
                                                    uint64_t *l) {
    mass_body(v, count, maximum, h, l);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"), noinline)) static void mass_avx2(const float *v, long count, float maximum,
                                                                     uint64_t *h, uint64_t *l) {
    mass_body(v, count, maximum, h, l);
}
#endif

double ck_sampling_weight(float value, float maximum) { return (double)weight_body(value, maximum); }

void ck_sampling_mass(const float *values, long count, float maximum, uint64_t *high, uint64_t *low, int isa) {
    uint64_t h = 0, l = 0;
    for (long start = 0; start < count; start += 1l << 30) {  // each call's sums stay below 2^62 + 2^60
        const long m = count - start < (1l << 30) ? count - start : (1l << 30);
        uint64_t bh, bl;
#if defined(__x86_64__)
        if (ck_vector_resolve_isa(isa) >= CK_ISA_AVX2)
            mass_avx2(values + start, m, maximum, &bh, &bl);
        else
#endif
            mass_portable(values + start, m, maximum, &bh, &bl);
        h += bh;
        l += bl;
    }
    const unsigned __int128 total = ((unsigned __int128)h << 32) + l;
    *high = (uint64_t)(total >> 64);
    *low = (uint64_t)total;
}
