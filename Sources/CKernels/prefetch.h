// Block-ahead L2 prefetch for the decode kernels (internal to CKernels).
//
// A decode GEMV walks its rows in order, so the weights it reads next lie just past the current block of rows in
// memory. Each step of the AVX2 kernels asks for the cache lines CK_L2_AHEAD bytes past the point the block has
// reached, into L2 (prefetcht1), at the rate the step consumes them. The hardware prefetchers alone leave the
// converting GEMV well under a plain read loop from DRAM, the more so the shorter the rows; with this block-ahead
// prefetch the fp16 GEMV reads at about the read loop's rate (measured: docs/BENCHMARKS.md, 'Decode kernels').
// Distances of 16-128 KiB do alike; prefetching into L1 (prefetcht0, also as a 2 KiB per-row prefetch) or
// non-temporally is slower. The AVX-512 kernels use it too (CK_AHEAD512 in gemv.c). Prefetches never fault, so
// running past the end of the weights is harmless. Build with -DCK_L2_AHEAD=0 to compare without.
#ifndef CK_PREFETCH_H
#define CK_PREFETCH_H
#ifndef CK_L2_AHEAD
#define CK_L2_AHEAD 32768
#endif

/// Prefetches into L2 the `bytes` consumed by one step, CK_L2_AHEAD past `position` (one line per 64 bytes).
#define CK_PREFETCH_AHEAD(position, bytes)                                                                        \
    do {                                                                                                           \
        if (CK_L2_AHEAD)                                                                                           \
            for (long ck_b = 0; ck_b < (long)(bytes); ck_b += 64)                                                  \
                _mm_prefetch((const char *)(position) + CK_L2_AHEAD + ck_b, _MM_HINT_T1);                          \
    } while (0)
#endif
