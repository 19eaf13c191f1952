#ifndef CKERNELS_CPU_H
#define CKERNELS_CPU_H
#ifdef __cplusplus
extern "C" {
#endif

/// CPU features the kernels dispatch on, detected once at run time (a cluster may mix CPUs, so builds stay
/// portable and pick the widest units present).
typedef struct {
    int avx2;        ///< AVX2 + FMA
    int f16c;        ///< vcvtph2ps / vcvtps2ph (every kernel that reads fp16 weights or scales needs it)
    int avx512;      ///< AVX-512 F/BW/VL/DQ
    int avx512bf16;  ///< vdpbf16ps
    int avx512vnni;  ///< vpdpbusd
} ck_cpu_features;

ck_cpu_features ck_detect_cpu(void);

#ifdef __cplusplus
}
#endif
#endif
