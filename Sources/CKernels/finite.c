#include "ckernels_finite.h"

enum { CK_FINITE_BLOCK = 4096 };

long ck_f16_first_nonfinite(const uint16_t *values, long count) {
    for (long start = 0; start < count; start += CK_FINITE_BLOCK) {
        const long end = start + CK_FINITE_BLOCK < count ? start + CK_FINITE_BLOCK : count;
        // Branch-free over the block (vectorised); the element is located only in a block that has one.
        unsigned found = 0;
        for (long i = start; i < end; i++) found |= (values[i] & 0x7C00u) == 0x7C00u;
        if (!found) continue;
        for (long i = start; i < end; i++) {
            if ((values[i] & 0x7C00u) == 0x7C00u) return i;
        }
    }
    return -1;
}
