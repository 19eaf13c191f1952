#!/usr/bin/env bash
# Builds Benchmarks/kernels/group_attention.c against Sources/CKernels (clang, as SwiftPM builds CKernels) and runs
# it. Example: Benchmarks/kernels/group_attention.sh 8 544 128 0   (8 heads per group, 544 tokens, d 128, fp32 cache)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CKernels"
binary="${TMPDIR:-/tmp}/glmcluster-group-attention"
"${CC:-clang}" -O3 -fno-math-errno -I"$kernels/include" -I"$kernels" "$here/group_attention.c" "$kernels/vector.c" \
    "$kernels/cpu.c" -o "$binary" -lpthread -lm
exec "$binary" "$@"
