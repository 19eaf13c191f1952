#!/usr/bin/env bash
# Builds Benchmarks/kernels/gemm_rate.c against Sources/CKernels (same flags as Package.swift) and OpenBLAS, runs it.
# Example: Benchmarks/kernels/gemm_rate.sh 2 9 512 2048 5632 1   (2 threads, 9 runs, n 512, k 2048, 5632 out, fp16)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CKernels"
binary="${TMPDIR:-/tmp}/glmcluster-gemm-rate"
"${CC:-$(command -v clang || echo cc)}" -O3 -fno-math-errno ${GEMM_RATE_CFLAGS:-} -I"$kernels/include" -I"$kernels" "$here/gemm_rate.c" \
    "$kernels/gemm_fma.c" "$kernels/gemm.c" "$kernels/gemm_i8_avx2.c" "$kernels/gemv.c" "$kernels/cpu.c" -o "$binary" -lopenblas -lpthread -lm
exec "$binary" "$@"
