// The fp16 allreduce's reduction operator: widen both operands with the vector kernels' fp16 conversions, add in
// fp32, narrow back. Chunks on the stack keep it allocation-free inside MPI's progress engine.
#include "ckernels_reduce.h"
#include "ckernels_gemv.h"
#include "ckernels_vector.h"
#include <stdint.h>

enum { CK_REDUCE_CHUNK = 512 };

void ck_sum_f16_op(void *in, void *inout, int *count, void *datatype) {
    (void)datatype;
    const uint16_t *a = (const uint16_t *)in;
    uint16_t *b = (uint16_t *)inout;
    float x[CK_REDUCE_CHUNK], y[CK_REDUCE_CHUNK];
    for (long start = 0; start < *count; start += CK_REDUCE_CHUNK) {
        long n = *count - start < CK_REDUCE_CHUNK ? *count - start : CK_REDUCE_CHUNK;
        ck_widen_f16(a + start, x, n, CK_ISA_AUTO);
        ck_widen_f16(b + start, y, n, CK_ISA_AUTO);
        for (long i = 0; i < n; i++) y[i] += x[i];
        ck_narrow_to_f16(y, b + start, n, CK_ISA_AUTO);
    }
}
