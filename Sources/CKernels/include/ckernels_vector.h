#ifndef CKERNELS_VECTOR_H
#define CKERNELS_VECTOR_H
// Row-wise activation kernels of the forward pass (GELU/GeGLU, softmax with the GLM mask, LayerNorm) and the
// decode attention core, in C because the exact-erf GELU and softmax need a vectorised exp/erf, which Swift can
// only reach as one libm call per element. Each kernel takes an `isa` (a `ck_isa` value from ckernels_gemv.h:
// 0 auto, 1 portable, 2 AVX2, 3 AVX-512); a forced path the CPU lacks falls back to the widest one it has. All
// paths run the same scalar algorithm (vectorised by the compiler under each function's target attribute), so
// results differ between paths only by FMA contraction. Callers split rows (or heads) across threads; every
// function here is single-threaded and may run concurrently on disjoint outputs.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The path the kernels below take for `isa` on this CPU (never 0).
int ck_vector_resolve_isa(int isa);

/// y[i] = erf(x[i]) for i < count, fp32 (FreeBSD s_erff.c rational approximations, branch-free, with a ~1 ulp
/// vector exp). Absolute error below 2e-7 against the exact erf (tested on a dense grid). Exposed for tests.
void ck_erf(const float *x, float *y, long count, int isa);

/// y[i] = 0.5 x (1 + erf(x / sqrt 2)), the exact GELU, for i < count. `y` may equal `x`.
void ck_gelu(const float *x, float *y, long count, int isa);

/// y[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the tanh GELU (ChatGLM-6B), for i < count. `y` may
/// equal `x`.
void ck_gelu_tanh(const float *x, float *y, long count, int isa);

/// GeGLU gating: `out[j] = linear[j] * gelu(gate[j])` for j < count.
void ck_geglu(const float *linear, const float *gate, float *out, long count, int isa);

/// SwiGLU gating: `out[j] = silu(gate[j]) * up[j]`, `silu(x) = x / (1 + exp(-x))`, for j < count (ChatGLM2).
void ck_swiglu(const float *gate, const float *up, float *out, long count, int isa);

/// RMSNorm of rows [row_begin, row_end) of `x [rows, width]` into `y`: `weight * (x / sqrt(mean(x^2) + eps))`, the
/// mean of squares accumulated in double, the rest in fp32 (ChatGLM2's `RMSNorm`).
void ck_rms_norm_rows(
    const float *x, long width, const float *weight, float epsilon, float *y, long row_begin, long row_end, int isa);

/// Softmax (shifted by the row maximum) in place over rows [row_begin, row_end) of `scores` (row stride `ld`,
/// `columns` values per row), after the GLM mask: row r is query `first_query + r`, and columns
/// `c >= max(bidirectional_prefix, first_query + r + 1)` (those `SequenceLayout.allows` forbids) are set to -10000
/// first. Pass `bidirectional_prefix >= columns` for no mask.
void ck_softmax_rows(
    float *scores, long ld, long columns, long row_begin, long row_end, long first_query, long bidirectional_prefix,
    int isa);

/// LayerNorm of rows [row_begin, row_end) of `x [rows, width]` into `y`:
/// `(x - mean) / sqrt(var + eps) * weight + bias` with the biased variance; mean and variance are accumulated in
/// double (two passes), the rest in fp32.
void ck_layer_norm_rows(
    const float *x, long width, const float *weight, const float *bias, float epsilon, float *y, long row_begin,
    long row_end, int isa);

/// Attention of `n` query rows of one head against `total` cached tokens, without BLAS (decode, n small):
/// `scores[i, c] = scale * q[i]·keys[c]`, masked and soft-maxed as `ck_softmax_rows` does (query i is
/// `first_query + i`), then `out[i * ldo + j] = sum_c scores[i, c] * values[c * d + j]`. q is `[n, d]`, keys and
/// values `[total, d]` (row stride d), `scores` is caller scratch of n * total floats.
void ck_attention_head(
    const float *q, long n, long d, const float *keys, const float *values, long total, float scale,
    long first_query, long bidirectional_prefix, float *scores, float *out, long ldo, int isa);

/// ck_attention_head with keys and values stored as IEEE fp16 bits (the fp16 KV cache), widened to fp32 as they
/// are read; the arithmetic is ck_attention_head's.
void ck_attention_head_f16(
    const float *q, long n, long d, const uint16_t *keys, const uint16_t *values, long total, float scale,
    long first_query, long bidirectional_prefix, float *scores, float *out, long ldo, int isa);

/// Grouped attention of one decode step: `n` query heads (`q + i * ldq`, d values each) that share one key/value
/// head, against all `total` cached tokens (no mask: the step sees every earlier token), each key and value row read
/// once for the n queries. `half` says keys and values are fp16 bits (else fp32). Results as ck_attention_head's for
/// n calls of one row each: `out[i * ldo + j]`; `scores` is caller scratch of n * total floats.
void ck_attention_group(
    const float *q, long n, long ldq, long d, const void *keys, const void *values, long total, float scale,
    float *scores, float *out, long ldo, int half, int isa);

/// y[i] = x[i] as IEEE fp16 bits, rounded to nearest even (overflow gives infinity).
void ck_narrow_to_f16(const float *x, uint16_t *y, long count, int isa);

/// y[i] = the fp16 bits x[i] as fp32 (exact).
void ck_widen_f16(const uint16_t *x, float *y, long count, int isa);

#ifdef __cplusplus
}
#endif
#endif
