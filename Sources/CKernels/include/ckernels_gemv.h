#ifndef CKERNELS_GEMV_H
#define CKERNELS_GEMV_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Decode GEMV / small-batch GEMM over compact weights: `y[i, r] = sum_j x[i, j] * W[r, j]` for activation rows
/// `i < n` (n is small, typically 1..8) and weight rows `r` in `[row_begin, row_end)`.
///
/// Why C: Swift SIMD cannot reach the AVX-512 conversions (`vcvtph2ps zmm`, masked tails, `vpermps` nibble
/// tables) without `-target-cpu` for the whole module, and a cluster may mix CPUs; here each ISA is a function with
/// its own `target` attribute, chosen at run time. Measured: docs/BENCHMARKS.md, 'Decode kernels'.

/// Weight storage format of `ck_gemv_problem.w`.
typedef enum {
    CK_GEMV_F32 = 0,   ///< `float`, row-major `[rows, k]`
    CK_GEMV_F16 = 1,   ///< IEEE binary16 bits (`uint16_t`), row-major `[rows, k]`
    CK_GEMV_BF16 = 2,  ///< bfloat16 bits (the upper half of an fp32), row-major `[rows, k]`
    CK_GEMV_I8 = 3,    ///< `int8_t` `[rows, k]`, `w = q * scales[r * groups + j / (k / groups)]`
    CK_GEMV_I4 = 4,    ///< two per byte, element 2p in the HIGH nibble, 2p+1 in the LOW nibble, two's complement;
                       ///< rows are `k / 2` bytes; scales as for int8
} ck_gemv_format;

/// Instruction-set paths. `CK_ISA_AUTO` picks the widest the CPU has; the others force a path (for tests), and a
/// forced path the CPU lacks falls back to the widest one it has below it.
typedef enum {
    CK_ISA_AUTO = 0,
    CK_ISA_PORTABLE = 1,  ///< plain C (auto-vectorised at the build's baseline)
    CK_ISA_AVX2 = 2,      ///< AVX2 + FMA + F16C, 8 lanes
    CK_ISA_AVX512 = 3,    ///< AVX-512 F/BW/VL/DQ + F16C + FMA, 16 lanes, masked tails
} ck_isa;

/// One multiplication. All pointers stay owned by the caller and are only read (`y` is written) during the call.
typedef struct {
    ck_gemv_format format;
    /// Activations, fp32 `[n, k]` row-major. For `CK_GEMV_I4` instead the split layout written by
    /// `ck_gemv_split_pairs` (even elements then odd elements, per activation row).
    const float *x;
    long n;
    long k;
    /// The whole weight matrix (row 0 first), in `format`.
    const void *w;
    /// fp16 bits `[rows, groups]` for int8/int4, else ignored (may be NULL).
    const uint16_t *scales;
    /// Scale groups per row for int8/int4 (`k % groups == 0`), else ignored.
    long groups;
    /// Output fp32, element `(i, r)` at `y[i * ldy + r]`.
    float *y;
    long ldy;
} ck_gemv_problem;

/// Computes weight rows `[row_begin, row_end)` of the problem with the given `ck_isa` path. Disjoint row ranges
/// may run concurrently on different threads.
void ck_gemv(ck_gemv_problem problem, long row_begin, long row_end, int isa);

/// The path `ck_gemv` takes for `isa` on this CPU (never `CK_ISA_AUTO`).
int ck_gemv_resolve_isa(int isa);

/// Writes the int4 activation layout: for each row i, `xs[i*k + p] = x[i*k + 2p]` and
/// `xs[i*k + k/2 + p] = x[i*k + 2p + 1]` for `p < k/2` (k even), so that high and low nibbles each meet a
/// contiguous activation vector.
void ck_gemv_split_pairs(const float *x, long n, long k, float *xs);


#ifdef __cplusplus
}
#endif
#endif
