#!/usr/bin/env bash
# Builds Benchmarks/kernels/pool_latency.c against Sources/CKernels/threadpool.c and runs it (no arguments).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CKernels"
binary="${TMPDIR:-/tmp}/glmcluster-pool-latency"
cc -O2 -I"$kernels/include" "$here/pool_latency.c" "$kernels/threadpool.c" -o "$binary" -lpthread
exec "$binary"
