#ifndef CKERNELS_QUANTIZE_H
#define CKERNELS_QUANTIZE_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// The official per-row weight quantization of fp16 weights (see Tensors/Quantization.swift for the scheme),
/// vectorised with AVX2 + F16C: for each row r in [row_begin, row_end) of the row-major `[*, columns]` fp16 bits
/// `w`, `scales[r] = fp16(max|w_r| / level)` and `levels[r * columns + j] = clamp(round_half_even(fp16(w / scale)),
/// -level, level)` (0 when the scale is 0). Bit-exact with the scalar Swift definition. A row holding an infinity
/// or NaN is not quantized here: `nonfinite[r]` is set to 1 (else 0) and the caller handles it.
/// Returns 0 without touching anything when the CPU lacks AVX2/F16C (the caller then runs the scalar path).
/// Why C: Swift's per-element loop (a scalar division, two fp16 conversions and NaN/range traps per weight, not
/// vectorised) about doubles the start-up of a model quantized at load; with this kernel quantizing costs no more
/// than the noise of loading (measured: docs/BENCHMARKS.md, 'Memory and start-up').
int ck_quantize_rows_f16(const uint16_t *w, long row_begin, long row_end, long columns, int level, int8_t *levels,
                         uint16_t *scales, uint8_t *nonfinite);

#ifdef __cplusplus
}
#endif
#endif
