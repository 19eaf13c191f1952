#ifndef CKERNELS_GEMM_H
#define CKERNELS_GEMM_H
// Prefill GEMM kernels `y[n, out] = x[n, k] · W[out, k]^T` on the AVX-512 dot-product units (and, for int8/int4
// weights on CPUs without them, AVX2's vpmaddubsw: gemm_i8_avx2.c), in C because Swift cannot reach vdpbf16ps /
// vpdpbusd. Each kernel function carries its own target attribute, so this target builds
// without -march; call them only where `ck_detect_cpu()` reports the unit (PrefillKernels does).
//
// Shape of the work: x is packed once per call into row blocks of CK_GEMM_ROW_BLOCK rows (k pairs or quads
// interleaved, the layout the dot-product instructions read); each thread then owns a range of output columns,
// packs CK_GEMM_COLUMN_BLOCK weight rows × one k block at a time into an L1-resident panel (converting fp16 to
// bf16 or unpacking int4 on the way) and runs a 12 × 32 register-blocked microkernel over every row block.
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

enum {
    CK_GEMM_ROW_BLOCK = 12,     ///< rows of x per microkernel call (MR)
    CK_GEMM_COLUMN_BLOCK = 32,  ///< output columns per microkernel call (NR); column ranges start at multiples
};

// MARK: bf16 (vdpbf16ps), for bf16 and fp16 weights

/// uint32 elements of x packed for the bf16 kernel: ceil(n / 12) * 12 rows × ceil(k / 2) pairs.
size_t ck_gemm_bf16_packed_x_count(long n, long k);

/// Packs row blocks [block_begin, block_end) of x (fp32, [n, k], row stride k) as bf16, rounded to nearest even;
/// rows past n are zero. Disjoint block ranges may be packed in parallel.
void ck_gemm_bf16_pack_x(const float *x, long n, long k, long block_begin, long block_end, uint32_t *packed);

/// y[:, column_begin ..< column_end] = x · W^T for W [out, k] (row stride k) stored as bf16 (upper halves of
/// fp32) or, when `weights_are_fp16`, as IEEE fp16 (rounded to bf16 in the panel). column_begin is a multiple of
/// CK_GEMM_COLUMN_BLOCK; y has row stride ldy. Threads may run disjoint column ranges concurrently.
void ck_gemm_bf16_columns(
    const uint32_t *packed_x, long n, long k, const void *weights, int weights_are_fp16, long column_begin,
    long column_end, float *y, long ldy);

// MARK: int8 (vpdpbusd), for int8 and int4 weights with per-row-per-group fp16 scales

/// Quads (4 k elements) per packed row: each of the `groups` groups of k / groups elements padded to a multiple
/// of 4, so no quad straddles two scales.
long ck_gemm_i8_quads(long k, long groups);

/// uint32 elements of x packed for the int8 kernel: ceil(n / 12) * 12 rows × ck_gemm_i8_quads(k, groups).
size_t ck_gemm_i8_packed_x_count(long n, long k, long groups);

/// Quantises row blocks [block_begin, block_end) of x per row: q = round_half_even(x / s) in [-127, 127] with
/// s = max|x_row| / 127, stored as q + 128 (u8); writes s to scales[row] (0 for rows past n and all-zero rows).
void ck_gemm_i8_pack_x(
    const float *x, long n, long k, long groups, long block_begin, long block_end, uint32_t *packed, float *scales);

/// y[:, column_begin ..< column_end] = x · W^T for W = q · scale, q int8 [out, k] or (when `weights_are_int4`)
/// int4 packed two per byte, element 2i in the high nibble; scales fp16 [out, groups]. Per group the int32
/// accumulator holds Σ (xq + 128) · q, corrected by 128 · Σ q and scaled by s_x · scale.
void ck_gemm_i8_columns(
    const uint32_t *packed_x, const float *x_scales, long n, long k, long groups, const void *weights,
    int weights_are_int4, const void *fp16_scales, long column_begin, long column_end, float *y, long ldy);

// MARK: int8 on AVX2 (vpmaddubsw), for int8 and int4 weights on CPUs without AVX512-VNNI

enum {
    CK_GEMM_AVX2_ROW_BLOCK = 4,      ///< rows of x per microkernel call
    CK_GEMM_AVX2_COLUMN_BLOCK = 16,  ///< output columns per microkernel call; column ranges start at multiples
};

/// uint32 elements of x packed for the AVX2 kernel: ceil(n / 4) * 4 rows × ck_gemm_i8_quads(k, groups).
size_t ck_gemm_i8_avx2_packed_x_count(long n, long k, long groups);

/// Quantises row blocks [block_begin, block_end) of x per row as `ck_gemm_i8_pack_x` does (q in [-127, 127],
/// s = max|x_row| / 127), stored as signed bytes; rows past n are zero with scale 0.
void ck_gemm_i8_avx2_pack_x(
    const float *x, long n, long k, long groups, long block_begin, long block_end, uint32_t *packed, float *scales);

/// `ck_gemm_i8_columns` on AVX2: vpmaddubsw multiplies |w| (unsigned) by x carrying w's sign (vpsignb), so no
/// pair sum exceeds 2 · 128 · 127 < 2^15 and int8 weights of -128 stay exact; vpmaddwd widens the pairs to int32.
/// Each group's int32 sum is scaled by s_x · scale. column_begin is a multiple of CK_GEMM_AVX2_COLUMN_BLOCK.
void ck_gemm_i8_avx2_columns(
    const uint32_t *packed_x, const float *x_scales, long n, long k, long groups, const void *weights,
    int weights_are_int4, const void *fp16_scales, long column_begin, long column_end, float *y, long ldy);

#ifdef __cplusplus
}
#endif
#endif
