#ifndef CKERNELS_PEAK_H
#define CKERNELS_PEAK_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Machine-limit probes for `glmcluster bench`: a STREAM triad and peak loops of each dot-product unit. They are
/// in C because the peak loops need intrinsics of units chosen at run time (function-level target attributes),
/// and the triad must vectorise with the same code whatever Swift's target CPU is.

/// STREAM triad `a[i] = b[i] + scalar * c[i]` for `i` in `[begin, end)`; reads 8 and writes 4 bytes per element.
void ck_peak_triad(float *a, const float *b, const float *c, float scalar, size_t begin, size_t end);

/// The dot-product units a peak loop exists for.
typedef enum {
    CK_UNIT_FMA_F32_AVX2 = 0,   ///< vfmadd231ps ymm: 16 FLOP per instruction
    CK_UNIT_FMA_F32_AVX512 = 1, ///< vfmadd231ps zmm: 32 FLOP per instruction
    CK_UNIT_BF16_AVX512 = 2,    ///< vdpbf16ps zmm: 32 bf16 pairs, 64 FLOP per instruction
    CK_UNIT_VNNI_AVX512 = 3,    ///< vpdpbusd zmm: 64 u8 x s8 products, 128 integer OP per instruction
} ck_unit;

/// Whether this CPU can run `unit`'s peak loop.
int ck_peak_available(ck_unit unit);

/// Floating-point (or integer) operations one instruction of `unit` counts for.
int ck_peak_ops_per_instruction(ck_unit unit);

/// Independent accumulators each peak loop keeps (enough to cover latency x issue width on current cores).
int ck_peak_accumulators(void);

/// Runs `iterations` rounds of `ck_peak_accumulators()` independent `unit` instructions on the calling thread and
/// returns a value derived from the accumulators (so the loop is not optimised away). Operations performed:
/// `iterations * ck_peak_accumulators() * ck_peak_ops_per_instruction(unit)`. Returns 0 if the unit is absent.
double ck_peak_run(ck_unit unit, long iterations);

#ifdef __cplusplus
}
#endif
#endif
