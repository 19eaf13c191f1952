#!/usr/bin/env bash
# Builds Benchmarks/kernels/gemv_bandwidth.c against Sources/CKernels (same flags as Package.swift) and runs it.
# Example: Benchmarks/kernels/gemv_bandwidth.sh 2 7 2048 131072 3   (2 threads, 7 runs, k = 2048, 128 MiB, int8)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CKernels"
binary="${TMPDIR:-/tmp}/glmcluster-gemv-bandwidth"
cc -O3 -fno-math-errno -I"$kernels/include" -I"$kernels" "$here/gemv_bandwidth.c" "$kernels/gemv.c" \
    "$kernels/gemv_q8.c" "$kernels/cpu.c" -o "$binary" -lpthread -lm
exec "$binary" "$@"
