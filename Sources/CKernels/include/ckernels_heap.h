#ifndef CKERNELS_HEAP_H
#define CKERNELS_HEAP_H
#ifdef __cplusplus
extern "C" {
#endif

/// glibc's `malloc_trim`, which Swift's Glibc module does not export (it lives in <malloc.h>). Returns 1 when
/// memory was given back to the kernel, 0 otherwise (and off glibc, where there is nothing to call).
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
static inline int ck_heap_trim(void) { return malloc_trim(0); }
#else
static inline int ck_heap_trim(void) { return 0; }
#endif

#ifdef __cplusplus
}
#endif
#endif
