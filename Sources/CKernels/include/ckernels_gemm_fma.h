#ifndef CKERNELS_GEMM_FMA_H
#define CKERNELS_GEMM_FMA_H
// The exact GEMM over compact weights on the fp32 FMA units: `y[n, out] = x[n, k] · W[out, k]^T` with fp32
// activations and every weight dequantised exactly to fp32 (fp16 and bf16 widened, int8/int4 `q · scale`, which
// fp32 holds exactly), accumulated in fp32: the same math as widening the weights and calling sgemm, without the
// widened copy in memory and with the whole call on one blocked kernel.
//
// Shape of the work (the GotoBLAS/BLIS loop nest, threads splitting the output columns):
// - x is packed once per call into row blocks of at most MR rows (12 on AVX-512, 6 on AVX2), the n rows split
//   into ceil(n / MR) blocks of near-equal size so that a batch of 16 runs as 8 + 8, not 12 + 4; inside a block
//   the rows of each k step are adjacent, the order the microkernel broadcasts them in.
// - each thread walks its columns in blocks of CK_GEMM_FMA_NC, and for each k chunk of CK_GEMM_FMA_KC dequantises
//   NR weight rows (32 on AVX-512, 16 on AVX2) into an fp32 panel transposed to k-major order (16 × 16 or 8 × 8
//   register transposes) kept in L1, then runs an R × NR register-blocked microkernel (R up to MR) over every row
//   block of the row group: the packed x chunk stays in L2 and the column block of y stays in L2 across k chunks.
//
// Only reads its inputs and writes y; threads may run disjoint column ranges concurrently. Measured:
// docs/BENCHMARKS.md, 'Prefill'.
#include "ckernels_gemv.h"
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set path the exact GEMM runs for `isa` (`ck_isa`) on this CPU: CK_ISA_AVX512 or CK_ISA_AVX2, or
/// 0 where the CPU has neither (callers then use sgemm). A forced path the CPU lacks falls back to the one below.
int ck_gemm_fma_resolve_isa(int isa);

/// Output columns per microkernel call on `isa` (a resolved path): column ranges start at multiples of it.
long ck_gemm_fma_column_block(int isa);

/// Row blocks the n rows are split into on `isa`: ceil(n / MR).
long ck_gemm_fma_row_blocks(long n, int isa);

/// Floats of packed x for n rows of k: n * k.
size_t ck_gemm_fma_packed_x_count(long n, long k);

/// Packs row blocks [block_begin, block_end) of x (fp32 [n, k], row stride k) on `isa`. Disjoint block ranges may
/// be packed concurrently.
void ck_gemm_fma_pack_x(const float *x, long n, long k, long block_begin, long block_end, float *packed, int isa);

/// y[:, column_begin ..< column_end] = x · W^T for the weight of `problem` (`format`, `w`, `scales`, `groups`,
/// `k`; its `x` is ignored) from x packed by `ck_gemm_fma_pack_x` on the same `isa`, n = `problem.n` rows, into
/// `problem.y` with row stride `problem.ldy`. column_begin is a multiple of `ck_gemm_fma_column_block(isa)`.
void ck_gemm_fma_columns(ck_gemv_problem problem, const float *packed_x, long column_begin, long column_end,
                         int isa);

#ifdef __cplusplus
}
#endif
#endif
