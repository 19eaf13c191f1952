#!/usr/bin/env bash
# The demo: installs what is needed, builds GLMCluster, creates a small random-weights GLM in the official
# checkpoint layout (configs/demo.json, MP=2) and generates text from it with a real 2-rank `mpirun` job:
# each rank memory-maps only its half of the weights, rank 0 tokenizes, samples and prints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
source scripts/mpi-env.sh

swift build -c release --product glmcluster
bin=.build/release/glmcluster
model=${DEMO_MODEL_DIR:-.demo/glm-demo}
if [ ! -f "$model/latest" ]; then
    "$bin" create-model --config configs/demo.json --seed 1 --mp 2 --out "$model"
fi

ranks=${DEMO_RANKS:-2}
run() { mpirun --hostfile hostfiles/localhost -np "$ranks" --bind-to none "$bin" "$@" --threads 1; }

prompt=${1:-"The capital of France is"}
echo "== $ranks ranks, greedy, [gMASK] appended: $prompt" >&2
run generate --model "$model" --prompt "$prompt" --greedy --max-new-tokens 24
echo "== $ranks ranks, sampling (temperature 0.9, top-p 0.7, seed 42), blanks filled left to right" >&2
run generate --model "$model" --prompt "Tsinghua University is located in [MASK], and [MASK] is in Shanghai." \
    --temperature 0.9 --top-p 0.7 --seed 42 --max-new-tokens 12
