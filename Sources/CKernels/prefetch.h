// Block-ahead L2 prefetch for the AVX2 decode kernels (internal to CKernels).
//
// A decode GEMV walks its rows in order, so the weights it reads next lie just past the current block of rows in
// memory. Each step of the AVX2 kernels asks for the cache lines CK_L2_AHEAD bytes past the point the block has
// reached, into L2 (prefetcht1), at the rate the step consumes them. On this project's AVX2-only Zen 4 VMs the
// hardware prefetchers alone leave the converting GEMV well under a plain read loop; with this, fp16 4-row GEMV
// from DRAM, GB/s (C microbenchmark, 128 MiB of weights, 7 runs, 2026-12-03; read loop beside it 19-25 / 27-33):
//   k = 4096: one thread 11.5-17.0 -> 18.3-21.3, two threads 22.0-25.0 -> 25.8-29.9
//   k = 2048: one thread 12.0-13.7 -> 18.3-20.7, two threads 21.1-22.5 -> 30.4-31.6
//   k = 1024: one thread  7.5-9.2  -> 18.9-21.0, two threads 13.6-16.0 -> 24.5-30.4
// (distances 16-128 KiB were alike; into L1 (prefetcht0) it lost 20-40%, as a 2 KiB per-row prefetcht0 did on the
// AVX-512 machine of 2026-11-23.) The AVX-512 kernels use it too since 2026-12-06 (CK_AHEAD512 in gemv.c: +15-45%
// on Emerald Rapids). Prefetches never fault, so running past the end of the weights is harmless. Build with
// -DCK_L2_AHEAD=0 to compare without.
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
