#ifndef CKERNELS_SAMPLING_H
#define CKERNELS_SAMPLING_H
// Sampling weights for the distributed sampler (Sources/Generation/DistributedSampler.swift): one exp per
// vocabulary entry is most of a sampled token's cost, and libm's exp is a call per element (measured:
// docs/BENCHMARKS.md, 'Sampling'). Here the exp is a vectorisable polynomial, computed without FMA
// contraction so every path (and the scalar ck_sampling_weight) gives the same bits: the exact mass sums must not
// depend on the instruction set or on how the vocabulary is sliced.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `exp(value - maximum)` in double for a token whose (temperature-scaled) logit is `value`: 1 when
/// `value == maximum` (also when both are infinite), 0 below `maximum - 44` (the weight would be under 2^-63,
/// below the mass's resolution), at most 1. `value` is never NaN (the sampler maps NaN to -inf). Computed in fp32
/// (`value - maximum` rounded to fp32, Cody-Waite reduction by ln 2, degree-7 Taylor polynomial): within 4 fp32
/// ulps of exp of that difference.
double ck_sampling_weight(float value, float maximum);

/// Σ over `values[0 ..< count]` of `round(ck_sampling_weight(v, maximum) · 2^62)` (halves away from zero), as
/// a 128-bit integer in `*high` and `*low`. Single-threaded; `isa` as the other kernels (0 auto).
void ck_sampling_mass(const float *values, long count, float maximum, uint64_t *high, uint64_t *low, int isa);

#ifdef __cplusplus
}
#endif
#endif
