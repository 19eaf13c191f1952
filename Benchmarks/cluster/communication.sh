#!/usr/bin/env bash
# What each extra node costs in communication (issue 21): `glmcluster bench` on the namespace cluster
# (scripts/netns-cluster.sh: one rank per node, every byte between ranks over TCP) at 1, 2 and 4 nodes, with
# unshaped links and links shaped to 10 and 1 Gbit/s, fp32 and fp16 partial sums; then one markdown table of decode
# and prefill time beside the allreduce calls, bytes, transfer and waiting that bench measured. Needs root.
#
# Usage: Benchmarks/cluster/communication.sh [OUT_DIR]
# Environment: CONFIG (default Benchmarks/configs/glm-1b.json), PROMPT (128), GEN (16), REPEAT (2), NODES ("1 2 4"),
# RATES ("none 10gbit 1gbit"), FORMATS ("fp32 fp16"), THREADS (cores / nodes, at least 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/glmcluster-communication}"
config="${CONFIG:-$root/Benchmarks/configs/glm-1b.json}"
binary="$root/.build/release/glmcluster"
[ -x "$binary" ] || (cd "$root" && swift build -c release --product glmcluster)
mkdir -p "$out"
cores="$(nproc)"
for nodes in ${NODES:-1 2 4}; do
    threads="${THREADS:-$(( cores / nodes > 0 ? cores / nodes : 1 ))}"
    for rate in ${RATES:-none 10gbit 1gbit}; do
        for format in ${FORMATS:-fp32 fp16}; do
            # One rank sums nothing: its link and format change nothing.
            [ "$nodes" = 1 ] && { [ "$format" = fp16 ] || [ "$rate" != none ]; } && continue
            shaping=(); [ "$rate" = none ] || shaping=(--rate "$rate")
            name="n${nodes}-${rate}-${format}"
            echo "[communication] $name ($threads threads per rank)" >&2
            "$root/scripts/netns-cluster.sh" run "$nodes" "${shaping[@]}" -- "$binary" bench --config "$config" \
                --prompt-tokens "${PROMPT:-128}" --gen-tokens "${GEN:-16}" --repeat "${REPEAT:-2}" --greedy \
                --threads "$threads" --allreduce "$format" --triad-mib 64 --sgemm-size 512 --format json \
                > "$out/$name.json" 2> "$out/$name.log"
        done
    done
done
python3 - "$out" <<'PY'
import glob, json, os, sys
rows = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "n*.json"))):
    nodes, rate, fmt = os.path.basename(path)[1:-5].split("-")
    r = json.load(open(path))
    c = r["communication"]
    rows.append((int(nodes), {"none": 0, "10gbit": 1, "1gbit": 2}[rate], fmt, rate, r, c))
rows.sort(key=lambda x: (x[0], x[1], x[2]))
print("| nodes | link | sums | decode ms/token | allreduce ms/token (transfer + wait) | calls x bytes/rank | "
      "prefill tok/s | allreduce ms/prefill (transfer + wait) |")
print("|---:|---|---|---:|---|---|---:|---|")
for nodes, _, fmt, rate, r, c in rows:
    d, p = c["decode"], c["prefill"]
    link = "unshaped" if rate == "none" else rate.replace("gbit", " Gbit/s")
    per_call = d["bytes_per_rank"] // max(1, d["calls"])
    print(f"| {nodes} | {link} | {fmt} | {r['decode']['ms_per_token']['median']:.1f} | "
          f"{d['ms']:.2f} ({d['transfer_ms']:.2f} + {d['wait_ms']:.2f}) | {d['calls']} x {per_call} B | "
          f"{r['prefill']['tokens_per_second']['median']:.1f} | "
          f"{p['ms']:.1f} ({p['transfer_ms']:.1f} + {p['wait_ms']:.1f}) |")
PY
