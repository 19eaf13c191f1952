#include "ckernels_cpu.h"

ck_cpu_features ck_detect_cpu(void) {
    ck_cpu_features f = {0, 0, 0, 0, 0};
#if defined(__x86_64__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    f.f16c = __builtin_cpu_supports("f16c");
    f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    f.avx512bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
    f.avx512vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
#endif
    return f;
}
