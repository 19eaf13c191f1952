#ifndef CKERNELS_FINITE_H
#define CKERNELS_FINITE_H
// A scan for NaN and infinite fp16 values, run on every weight tensor as it loads: a damaged checkpoint must be
// an error naming the tensor, not garbage text with exit status 0. Plain C that the compiler vectorises (an OR of
// exponent tests over blocks), so it runs at memory speed beside the copy it follows.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The index of the first fp16 value in `values[0, count)` whose exponent bits are all ones (NaN or ±infinity),
/// or -1 when every value is finite.
long ck_f16_first_nonfinite(const uint16_t *values, long count);

#ifdef __cplusplus
}
#endif
#endif
