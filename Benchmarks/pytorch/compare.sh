#!/usr/bin/env bash
# GLMCluster vs PyTorch on CPU, same session, same machine, same config (issue 4, section 6).
#
# Runs Benchmarks/pytorch/glm_torch_bench.py in fp32 and bf16, then `glmcluster bench --config FILE` for each
# GLMCluster variant, and prints the ratio table (Benchmarks/pytorch/compare_report.py): GLMCluster decode
# speed-up vs PyTorch bf16 and fp32, prefill ratio vs PyTorch bf16 (and fp32). Runs one engine at a time. Both
# decode greedily (argmax), so a token's time is the same work on each side.
#
# Usage: Benchmarks/pytorch/compare.sh [options]
#   --config FILE        model config (default Benchmarks/configs/glm-1b.json, the issue's ~1B model)
#   --prompt-tokens P    default 512
#   --gen-tokens G       default 32
#   --repeat R           default 3
#   --threads T          threads per engine (default: nproc); with --tp N each rank gets T/N
#   --variants "LIST"    GLMCluster variants, DTYPE or DTYPE:QUANT (default "fp32 bf16 fp16 fp16:int8 fp16:int4")
#   --tp N               GLMCluster tensor-parallel degree on this machine (default 1; N>1 runs under mpirun)
#   --glmcluster PATH    the binary (default $GLMCLUSTER, else .build/release/glmcluster, else glmcluster on PATH)
#   --build              `swift build -c release` first if the binary is missing
#   --out DIR            where the JSON files go (default out/compare-<UTC time>)
#   --skip-pytorch       reuse DIR/pytorch-{fp32,bf16}.json from an earlier run in --out DIR
# Environment: PYTHON (python with torch, default python3), MPIRUN (default "mpirun --hostfile hostfiles/localhost
#   --allow-run-as-root --oversubscribe --bind-to none", as the end-to-end tests run it),
#   GLM_BENCH_EXTRA (extra arguments for glmcluster bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
config="$repo/Benchmarks/configs/glm-1b.json"
P=512 G=32 R=3
threads="$(nproc)"
variants="fp32 bf16 fp16 fp16:int8 fp16:int4"
tp=1
glm="${GLMCLUSTER:-}"
build=0
out=""
skip_pytorch=0
python="${PYTHON:-python3}"
mpirun_cmd="${MPIRUN:-mpirun --hostfile $repo/hostfiles/localhost --allow-run-as-root --oversubscribe --bind-to none}"

while [ $# -gt 0 ]; do
    case "$1" in
        --config) config="$2"; shift 2 ;;
        --prompt-tokens) P="$2"; shift 2 ;;
        --gen-tokens) G="$2"; shift 2 ;;
        --repeat) R="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --variants) variants="$2"; shift 2 ;;
        --tp) tp="$2"; shift 2 ;;
        --glmcluster) glm="$2"; shift 2 ;;
        --build) build=1; shift ;;
        --out) out="$2"; shift 2 ;;
        --skip-pytorch) skip_pytorch=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

[ -f "$config" ] || { echo "compare.sh: no config $config" >&2; exit 2; }
out="${out:-$repo/out/compare-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

echo "# GLMCluster vs PyTorch"
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "host: $(hostname); CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(nproc) CPUs"
echo "config: $config; P=$P G=$G R=$R threads=$threads tp=$tp"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results: $out"
echo

# ---- PyTorch ------------------------------------------------------------------------------------------------
if [ "$skip_pytorch" = 0 ]; then
    if ! "$python" -c 'import torch' 2>/dev/null; then
        echo "compare.sh: '$python' cannot import torch; pip install torch (a CPU wheel), or set PYTHON" >&2
        exit 1
    fi
    for dt in fp32 bf16; do
        echo "PyTorch $dt ..." >&2
        "$python" "$here/glm_torch_bench.py" --config "$config" --dtype "$dt" --prompt-tokens "$P" \
            --gen-tokens "$G" --repeat "$R" --threads "$threads" --format json > "$out/pytorch-$dt.json"
    done
fi
for dt in fp32 bf16; do
    [ -s "$out/pytorch-$dt.json" ] || { echo "compare.sh: missing $out/pytorch-$dt.json" >&2; exit 1; }
done

# ---- GLMCluster ---------------------------------------------------------------------------------------------
if [ -z "$glm" ]; then
    if [ -x "$repo/.build/release/glmcluster" ]; then
        glm="$repo/.build/release/glmcluster"
    elif command -v glmcluster > /dev/null 2>&1; then
        glm="$(command -v glmcluster)"
    elif [ "$build" = 1 ]; then
        echo "building glmcluster (swift build -c release) ..." >&2
        (cd "$repo" && swift build -c release --product glmcluster >&2)
        glm="$repo/.build/release/glmcluster"
    fi
fi

glm_ok=1
if [ -z "$glm" ] || [ ! -x "$glm" ]; then
    echo "NOTE: no glmcluster binary found (looked at \$GLMCLUSTER, .build/release/glmcluster, PATH; --build builds it)."
    glm_ok=0
elif ! help_text="$("$glm" bench --help 2>&1)" || ! grep -q -- "--prompt-tokens" <<< "$help_text"; then
    echo "NOTE: $glm has no 'bench' subcommand yet (\`glmcluster bench --help\` failed); showing PyTorch only."
    glm_ok=0
fi

report_args=(--pytorch-fp32 "$out/pytorch-fp32.json" --pytorch-bf16 "$out/pytorch-bf16.json")
if [ "$glm_ok" = 1 ]; then
    rank_threads=$(( threads / tp )); [ "$rank_threads" -ge 1 ] || rank_threads=1
    for v in $variants; do
        dtype="${v%%:*}"
        quant=""; [ "$v" != "$dtype" ] && quant="${v#*:}"
        # --greedy: PyTorch takes the argmax of each token's logits, so GLMCluster decodes greedily too.
        args=(bench --config "$config" --dtype "$dtype" --prompt-tokens "$P" --gen-tokens "$G" --repeat "$R"
              --threads "$rank_threads" --greedy --format json)
        [ -n "$quant" ] && args+=(--quantize "$quant")
        # shellcheck disable=SC2206
        extra=(${GLM_BENCH_EXTRA:-})
        file="$out/glmcluster-${dtype}${quant:+-$quant}-tp$tp.json"
        echo "GLMCluster $v (tp $tp) ..." >&2
        if [ "$tp" -gt 1 ]; then
            # shellcheck disable=SC2086
            cmd=($mpirun_cmd -np "$tp" "$glm" "${args[@]}" --tp "$tp" ${extra[@]+"${extra[@]}"})
        else
            cmd=("$glm" "${args[@]}" ${extra[@]+"${extra[@]}"})
        fi
        echo "  ${cmd[*]}" >&2
        if "${cmd[@]}" > "$file" 2> "$file.stderr"; then
            report_args+=(--glmcluster "$v=$file")
        else
            echo "NOTE: GLMCluster $v failed (exit $?); see $file.stderr:" 
            tail -3 "$file.stderr" | sed 's/^/    /'
        fi
    done
fi

echo
"$python" "$here/compare_report.py" "${report_args[@]}" --format md
"$python" "$here/compare_report.py" "${report_args[@]}" --format json > "$out/ratios.json"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
