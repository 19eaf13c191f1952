#!/usr/bin/env bash
# Builds Benchmarks/kernels/decode_layers.c against Sources/CKernels (clang, as SwiftPM builds CKernels) and runs it.
# Example: Benchmarks/kernels/decode_layers.sh 4 2 40   (int4, 2 chunks, 40 tokens; 1 fp16 exact, 0 read loop)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CKernels"
binary="${TMPDIR:-/tmp}/glmcluster-decode-layers"
"${CC:-clang}" -O3 -fno-math-errno -I"$kernels/include" -I"$kernels" "$here/decode_layers.c" "$kernels/gemv_q8.c" \
    "$kernels/cpu.c" "$kernels/threadpool.c" "$kernels/gemv.c" -o "$binary" -lpthread -lm
exec "$binary" "$@"
