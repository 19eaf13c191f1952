#!/usr/bin/env bash
# GLM-130B on CPU clusters as `glmcluster plan` predicts it (issue 21): int8 and int4 weights, 4 to 32 nodes of the
# stated hardware, 10, 25 and 100 Gbit/s links. Prints one markdown table (decode ms/token, prefill tokens/s of a
# 512-token prompt). The node: NODE_BANDWIDTH GB/s triad, NODE_GFLOPS sgemm, NODE_CORES cores, NODE_MEMORY_GIB.
#
# Usage: Benchmarks/cluster/glm130b_projection.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
binary="$root/.build/release/glmcluster"
[ -x "$binary" ] || (cd "$root" && swift build -c release --product glmcluster)
node=(--bandwidth "${NODE_BANDWIDTH:-300}" --gflops "${NODE_GFLOPS:-4000}" --cores "${NODE_CORES:-64}"
      --memory-gib "${NODE_MEMORY_GIB:-256}")
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Link rate and a one-way small-message latency typical of it (TCP on 10 and 25 GbE, RDMA-class on 100).
for link in "10 25" "25 15" "100 5"; do
    set -- $link
    for format in int8 int4; do
        "$binary" plan --preset glm-130b --dtype "$format" "${node[@]}" --link-gbit "$1" --latency-us "$2" \
            --max-tp 32 --format json > "$out/$format-$1.json"
    done
done
python3 - "$out" <<'PY'
import glob, json, os, sys
print("| weights | link | " + " | ".join(f"{n} nodes: ms/token, prefill tok/s" for n in (4, 8, 16, 32)) + " |")
print("|---|---|" + "---:|" * 4)
for fmt in ("int8", "int4"):
    for gbit in (10, 25, 100):
        r = json.load(open(os.path.join(sys.argv[1], f"{fmt}-{gbit}.json")))
        by = {d["tp"]: d for d in r["degrees"]}
        cells = []
        for n in (4, 8, 16, 32):
            d = by[n]
            cell = f"{d['decodeMilliseconds']:.1f}, {d['prefillTokensPerSecond']:.0f}"
            cells.append(cell if d["fits"] else f"({cell}: does not fit)")
        print(f"| {fmt} | {gbit} Gbit/s, {r['link']['latencySeconds'] * 1e6:.0f} µs | " + " | ".join(cells) + " |")
PY
