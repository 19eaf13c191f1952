// CKernels: hot loops in C where intrinsics beat Swift SIMD (see each header for the measured reason).
// Umbrella header: every kernel family has its own header beside this one.
#ifndef CKERNELS_H
#define CKERNELS_H
#include "ckernels_cpu.h"
#include "ckernels_pool.h"
#include "ckernels_peak.h"
#include "ckernels_gemm.h"
#include "ckernels_gemm_fma.h"
#include "ckernels_gemv.h"
#include "ckernels_gemv_q8.h"
#include "ckernels_vector.h"
#include "ckernels_heap.h"
#include "ckernels_quantize.h"
#include "ckernels_sampling.h"
#include "ckernels_finite.h"
#include "ckernels_reduce.h"
#endif
