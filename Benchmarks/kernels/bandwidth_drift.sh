#!/usr/bin/env bash
# Builds Benchmarks/kernels/bandwidth_drift.c and runs it: triad and read-only bandwidth, alternating.
# Example: Benchmarks/kernels/bandwidth_drift.sh 2 20 256   (2 threads, 20 pairs, 256 MiB per array)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${TMPDIR:-/tmp}/glmcluster-bandwidth-drift"
cc -O3 "$here/bandwidth_drift.c" -o "$binary" -lpthread
exec "$binary" "$@"
