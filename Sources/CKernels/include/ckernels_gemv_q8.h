#ifndef CKERNELS_GEMV_Q8_H
#define CKERNELS_GEMV_Q8_H
// Fast-precision decode GEMV for int8 / int4 weights on integer dot products: AVX512-VNNI `vpdpbusd`, or on AVX2
// `vpmaddubsw` + `vpmaddwd`. The activations are quantised per row to int8 (as the prefill int8 kernels do), so a
// weight line costs a few integer instructions instead of the widen-and-FMA chain of the exact kernels (gemv.c),
// which are compute-bound for int8/int4. Both paths compute the same exact integer sums. Call only where
// `ck_gemv_q8_resolve_isa(CK_ISA_AUTO)` is non-zero (QuantizedDecodeKernels checks).
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// One multiplication `y[i, r] = s_i · Σ_g scale[r, g] · Σ_{j in g} xq[i, j] · q[r, j]`.
typedef struct {
    /// `CK_GEMV_I8` or `CK_GEMV_I4` (ckernels_gemv.h); weights, scales and groups as in `ck_gemv_problem`.
    int format;
    /// Quantised activations `[n, k]` from `ck_gemv_q8_pack_x` (for int4 in the even-then-odd split layout).
    const int8_t *xq;
    /// Per activation row: the scale s_i and, per group, Σ xq over the group's elements (`[n, groups]`).
    const float *x_scales;
    const int32_t *x_sums;
    long n;
    long k;
    const void *w;
    const uint16_t *scales;
    long groups;
    float *y;
    long ldy;
} ck_gemv_q8_problem;

/// Whether the kernel takes this shape: int8 any group size, int4 even group sizes (whole bytes per group).
int ck_gemv_q8_supported(int format, long k, long groups);

/// Quantises each of the n rows of x (fp32 `[n, k]`): s = max|x_row| / 127, q = round_half_even(x · (127 /
/// max|x_row|)) in [-127, 127] (the formula of `ck_gemm_i8_pack_x`, so prefill and decode round alike); all-zero
/// rows get s = 0. With `split` the row is stored as its even elements then its odd elements. Writes xq `[n, k]`,
/// x_scales `[n]` and x_sums `[n, groups]`.
void ck_gemv_q8_pack_x(const float *x, long n, long k, long groups, int split, int8_t *xq, float *x_scales,
                       int32_t *x_sums);

/// Computes weight rows `[row_begin, row_end)` on the path `isa` (`ck_isa` of ckernels_gemv.h: `CK_ISA_AUTO` = the
/// widest this CPU has, `CK_ISA_AVX512` = VNNI, `CK_ISA_AVX2`); a forced path the CPU lacks falls back to the widest
/// one it has. Disjoint ranges may run concurrently.
void ck_gemv_q8_on(ck_gemv_q8_problem problem, long row_begin, long row_end, int isa);

/// The path `ck_gemv_q8_on` takes for `isa`: `CK_ISA_AVX512` (VNNI), `CK_ISA_AVX2`, or 0 when the CPU has neither.
int ck_gemv_q8_resolve_isa(int isa);

#ifdef __cplusplus
}
#endif
#endif
