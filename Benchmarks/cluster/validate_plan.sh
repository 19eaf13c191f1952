#!/usr/bin/env bash
# The scaling predictor against measurement (issue 21): on the namespace cluster, for each node count and link
# rate, `glmcluster plan --measure` (node and link measured by the same ranks) predicts the degree the job runs at,
# then `glmcluster bench` measures it; each pair runs ROUNDS times, alternating. Prints predicted and measured
# decode ms/token and prefill tokens/s with their ratio (medians over rounds). Needs root.
#
# Usage: Benchmarks/cluster/validate_plan.sh [OUT_DIR]
# Environment: CONFIG (Benchmarks/configs/glm-1b.json), PROMPT (128), GEN (16), NODES ("1 2"), RATES ("none 10gbit
# 1gbit"), ROUNDS (3), THREADS (cores / nodes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-/tmp/glmcluster-plan-validation}"
config="${CONFIG:-$root/Benchmarks/configs/glm-1b.json}"
prompt="${PROMPT:-128}"
gen="${GEN:-16}"
binary="$root/.build/release/glmcluster"
[ -x "$binary" ] || (cd "$root" && swift build -c release --product glmcluster)
mkdir -p "$out"
cores="$(nproc)"
for round in $(seq 1 "${ROUNDS:-3}"); do
    for nodes in ${NODES:-1 2}; do
        threads="${THREADS:-$(( cores / nodes > 0 ? cores / nodes : 1 ))}"
        for rate in ${RATES:-none 10gbit 1gbit}; do
            [ "$nodes" = 1 ] && [ "$rate" != none ] && continue
            shaping=(); [ "$rate" = none ] || shaping=(--rate "$rate")
            name="n${nodes}-${rate}-r${round}"
            echo "[validate] $name" >&2
            # One node measures no link: any figures do, TP 1 sends nothing.
            link=(); [ "$nodes" = 1 ] && link=(--link-gbit 1 --latency-us 1)
            "$root/scripts/netns-cluster.sh" run "$nodes" "${shaping[@]}" -- "$binary" plan --config "$config" \
                --measure "${link[@]}" --prompt-tokens "$prompt" --context-tokens "$((prompt + gen))" \
                --max-tp "$nodes" --threads "$threads" --format json \
                > "$out/$name.plan.json" 2> "$out/$name.plan.log"
            "$root/scripts/netns-cluster.sh" run "$nodes" "${shaping[@]}" -- "$binary" bench --config "$config" \
                --prompt-tokens "$prompt" --gen-tokens "$gen" --repeat 2 --greedy --threads "$threads" \
                --triad-mib 64 --sgemm-size 512 --format json > "$out/$name.bench.json" 2> "$out/$name.bench.log"
        done
    done
done
python3 - "$out" <<'PY'
import collections, glob, json, os, statistics, sys
runs = collections.defaultdict(list)
for path in glob.glob(os.path.join(sys.argv[1], "*.plan.json")):
    name = os.path.basename(path)[:-len(".plan.json")]
    key = name.rsplit("-r", 1)[0]
    plan = json.load(open(path))
    bench = json.load(open(path.replace(".plan.json", ".bench.json")))
    nodes = int(key.split("-")[0][1:])
    predicted = next(d for d in plan["degrees"] if d["tp"] == nodes)
    runs[key].append((predicted["decodeMilliseconds"], bench["decode"]["ms_per_token"]["median"],
                      predicted["prefillTokensPerSecond"], bench["prefill"]["tokens_per_second"]["median"]))
print("| nodes | link | decode ms/token predicted | measured | ratio | prefill tok/s predicted | measured | ratio |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
order = {"none": 0, "10gbit": 1, "1gbit": 2}
for key in sorted(runs, key=lambda k: (int(k.split("-")[0][1:]), order[k.split("-")[1]])):
    nodes, rate = key.split("-")
    m = [statistics.median(x) for x in zip(*runs[key])]
    link = "unshaped" if rate == "none" else rate.replace("gbit", " Gbit/s")
    print(f"| {nodes[1:]} | {link} | {m[0]:.1f} | {m[1]:.1f} | {m[0] / m[1]:.2f} | {m[2]:.1f} | {m[3]:.1f} | "
          f"{m[2] / m[3]:.2f} |")
PY
