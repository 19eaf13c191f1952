#!/usr/bin/env bash
# GLMCluster vs llama.cpp vs chatglm.cpp on the ChatGLM2/GLM-4 architecture, same machine, same session
# (issue 19, item 6).
#
# 1. Builds the peers from their PyPI source packages unless cached: llama.cpp from llama-cpp-python's sdist
#    (its vendored vendor/llama.cpp, exported outside any git checkout, cmake Release, native CPU flags:
#    llama-bench, llama-batched-bench, llama-simple, llama-completion, llama-quantize) and chatglm.cpp from
#    chatglm-cpp 0.4.2 (pip install --no-build-isolation into a venv; only its Python binding builds). The
#    chatglm.cpp build (~15-25 min on 2 cores) starts first, in the background (log: CACHE/chatglm-build.log).
# 2. Writes the random-weights ~1.3B model once in GLM-4's release layout (Benchmarks/peers/make_model.py: fp16
#    safetensors shards + index + config.json; 16 layers, hidden 2048, 16 heads of 128, 2 KV groups, FFN 5632,
#    vocabulary 151552, rope_ratio 1, eps 1e-5, seed 7).
# 3. Converts it with numpy (no torch): GGUF F16 (convert_gguf.py), then Q8_0 / Q4_0 with llama.cpp's own
#    llama-quantize (its recipe: Q8_0 keeps output and embeddings Q8_0, Q4_0 makes the output layer Q6_K), plus
#    Q8_0 / Q4_0 with the output layer and embeddings F16 as GLMCluster stores them ("llama.cpp-f16out");
#    chatglm.cpp's GGML format f16 / q8_0 / q4_0 (convert_chatglm.py; chatglm.cpp quantizes the output layer too).
# 4. Times the engines alternately, FORMAT by FORMAT, for R rounds (engine A, B, C, then A, B, C ...), every run in
#    a fresh process: prefill of P tokens (tokens/s) and decode of G tokens after it (ms/token), T threads per
#    engine. GLMCluster: `glmcluster bench --model DIR --greedy --repeat 1` (its JSON has its own triad passes
#    around the decode) in three variants: "glmcluster" (exact precision, fp32 KV cache), "glmcluster-fast" (plus
#    --precision fast --kv-cache fp16) and "glmcluster-tp2" (exact, tensor parallel over 2 MPI ranks on this
#    machine: mpirun -np 2 with the repository's hostfiles/localhost and scripts/mpi-env.sh, each rank at
#    max(1, T/2) threads); llama.cpp: `llama-bench -p P -n 0` and `llama-bench -p 0 -n G -d P` (decode after a
#    P-token context), -r 1 after its warm-up; chatglm.cpp: Benchmarks/peers/chatglm_bench.py through its binding
#    under `taskset` (it has no thread setting). Before each peer run, Benchmarks/peers/triad.c (STREAM triad, T
#    OpenMP threads, 3 x 256 MiB, GLMCluster's convention) measures the memory bandwidth beside it.
#    Then, in the same round and format, the batched-decoding phase, engine by engine: B requests of PB prompt
#    tokens and GB generated tokens for each B of --batch-sizes. GLMCluster variants: `glmcluster bench
#    --batch-sizes B1 B2 ... --greedy` (continuous batching, requests = B, argmax: llama-batched-bench does not
#    sample either); llama.cpp: `llama-batched-bench -npp PB -ntg GB
#    -npl B1,B2,...` (the triad beside it too). chatglm.cpp has no batched run: it decodes one sequence at a time.
# 5. Writes every run's JSON under OUT/round-N/ (<engine>-<format>.json, <engine>-<format>-batched.json or .jsonl,
#    peers' .triad.json beside each), and OUT/report.md + OUT/report.json (Benchmarks/peers/report.py).
#
# Usage: Benchmarks/peers/compare.sh [options]
#   --out DIR            where the JSON files and the report go (default out/peers-<UTC time>)
#   --rounds N           alternating rounds (default 3)
#   --skip-build         use the cached builds, model and conversions; fail if one is missing
#   --prompt-tokens P    default 512
#   --gen-tokens G       default 64
#   --threads T          threads per engine (default 2; glmcluster-tp2: two ranks of max(1, T/2))
#   --formats "LIST"     of f16 q8_0 q4_0 (default all three; fp16/int8/int4 on the GLMCluster side)
#   --engines "LIST"     of glmcluster glmcluster-fast glmcluster-tp2 llama.cpp llama.cpp-f16out chatglm.cpp
#                        (default all but chatglm.cpp)
#   --batch-sizes "LIST" batch sizes of the batched-decoding phase (default "1 4 16"; "none" skips the phase)
#   --batch-prompt-tokens PB   prompt tokens per request in the batched phase (default 32)
#   --batch-gen-tokens GB      generated tokens per request in the batched phase (default 32)
#   --glmcluster PATH    the binary (default $GLMCLUSTER, else .build/release/glmcluster)
#   --cache DIR          builds, venvs and models (default $GLMCLUSTER_PEERS_CACHE or /root/.cache/glmcluster-peers)
# Environment: GLM_BENCH_EXTRA (extra arguments for every glmcluster bench run, all three variants),
#   LLAMA_BENCH_EXTRA (extra arguments for llama-bench), LLAMA_BATCHED_EXTRA (for llama-batched-bench),
#   PYTHON (a python3 to make the venvs, default python3).
# Full comparison: Benchmarks/peers/compare.sh --out out/peers-full      (smoke test: add --prompt-tokens 64
#   --gen-tokens 8 --rounds 1 --batch-sizes "1 4" --batch-prompt-tokens 16 --batch-gen-tokens 8).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GLMCLUSTER_PEERS_CACHE:-/root/.cache/glmcluster-peers}"
P=512 G=64 R=3 T=2
formats="f16 q8_0 q4_0"
# chatglm.cpp stays available through --engines; its build alone takes longer than a full comparison.
engines="glmcluster glmcluster-fast glmcluster-tp2 llama.cpp llama.cpp-f16out"
batch_sizes="1 4 16" PB=32 GB=32
glm="${GLMCLUSTER:-}"
out=""
skip_build=0
python="${PYTHON:-python3}"
chatglm_version="0.4.2"

while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --rounds) R="$2"; shift 2 ;;
        --skip-build) skip_build=1; shift ;;
        --prompt-tokens) P="$2"; shift 2 ;;
        --gen-tokens) G="$2"; shift 2 ;;
        --threads) T="$2"; shift 2 ;;
        --formats) formats="$2"; shift 2 ;;
        --engines) engines="$2"; shift 2 ;;
        --batch-sizes) batch_sizes="$2"; shift 2 ;;
        --batch-prompt-tokens) PB="$2"; shift 2 ;;
        --batch-gen-tokens) GB="$2"; shift 2 ;;
        --glmcluster) glm="$2"; shift 2 ;;
        --cache) cache="$2"; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ beside these scripts in the checkout
die() { echo "compare.sh: $*" >&2; exit 1; }
has() { case " $engines " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
has_glm() { has glmcluster || has glmcluster-fast || has glmcluster-tp2; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

for e in $engines; do
    case "$e" in glmcluster|glmcluster-fast|glmcluster-tp2|llama.cpp|llama.cpp-f16out|chatglm.cpp) ;;
        *) die "unknown engine $e (see --help)" ;; esac
done
[ "$batch_sizes" = none ] && batch_sizes=""
for b in $batch_sizes $PB $GB; do
    case "$b" in ''|*[!0-9]*|0) die "batch sizes and batch token counts are positive integers, not '$b'" ;; esac
done
tp2_threads=$(( T / 2 > 1 ? T / 2 : 1 ))   # two ranks share the T threads the other engines get
# llama-batched-bench skips (silently) any batch whose B x (PB + GB) cells exceed its context, and splits the
# context evenly over max(B) sequences: a power of two at least max(B) x (PB + GB) fits every batch.
max_batch=1
for b in $batch_sizes; do if [ "$b" -gt "$max_batch" ]; then max_batch="$b"; fi; done
batched_ctx=1
while [ "$batched_ctx" -lt $(( max_batch * (PB + GB) )) ]; do batched_ctx=$(( batched_ctx * 2 )); done

out="${out:-$repo/out/peers-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out" "$cache/src" "$cache/models" "$cache/bin"
tools="$cache/venv-tools"            # numpy, pyyaml (gguf-py), cmake, ninja, scikit-build-core (sdist metadata)
chatglm_venv="$cache/venv-chatglm"   # chatglm-cpp and numpy
model="$cache/models/glm4-1b"
cpus="0-$((T - 1))"

# ---- 1. builds ----------------------------------------------------------------------------------------------
chatglm_ok() { "$chatglm_venv/bin/python" -c 'import chatglm_cpp' 2>/dev/null; }
llama_dir() { ls -d "$cache"/llama.cpp-*/ 2>/dev/null | sort -V | tail -1 | sed 's:/$::'; }
llama_ok() {  # llama-batched-bench only when the batched phase runs (an older cache may lack it)
    local d; d="$(llama_dir)"
    [ -n "$d" ] && [ -x "$d/build/bin/llama-bench" ] && [ -x "$d/build/bin/llama-quantize" ] &&
        { [ -z "$batch_sizes" ] || [ -x "$d/build/bin/llama-batched-bench" ]; }
}

chatglm_pid=""
if [ "$skip_build" = 0 ]; then
    if [ ! -x "$tools/bin/python" ]; then
        log "making $tools"
        "$python" -m venv "$tools"
        "$tools/bin/pip" install -q numpy pyyaml cmake ninja scikit-build-core >&2
    fi
    export PATH="$tools/bin:$PATH"   # cmake and ninja for both builds
    if has chatglm.cpp && ! chatglm_ok; then
        [ -x "$chatglm_venv/bin/python" ] || { "$python" -m venv "$chatglm_venv" && \
            "$chatglm_venv/bin/pip" install -q numpy setuptools wheel cmake >&2; }
        sdist="$cache/src/chatglm_cpp-$chatglm_version.tar.gz"
        [ -f "$sdist" ] || (cd "$cache/src" && "$chatglm_venv/bin/pip" download -q --no-deps --no-binary :all: \
            --no-build-isolation "chatglm-cpp==$chatglm_version" >&2)
        log "building chatglm.cpp $chatglm_version in the background (log: $cache/chatglm-build.log)"
        # Its vendored CMake files predate CMake 4; only the Python binding builds (CHATGLM_ENABLE_PYBIND).
        CMAKE_ARGS="-DCMAKE_POLICY_VERSION_MINIMUM=3.5" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
            nohup "$chatglm_venv/bin/pip" install -v --no-build-isolation "$sdist" > "$cache/chatglm-build.log" 2>&1 &
        chatglm_pid=$!
    fi
    if { has llama.cpp || has llama.cpp-f16out; } && ! llama_ok; then
        sdist="$(ls "$cache"/src/llama_cpp_python-*.tar.gz 2>/dev/null | sort -V | tail -1 || true)"
        if [ -z "$sdist" ]; then
            # Preparing the sdist's metadata needs scikit-build-core and a cmake on PATH (the tools venv).
            (cd "$cache/src" && "$tools/bin/pip" download -q --no-deps --no-binary :all: --no-build-isolation \
                llama-cpp-python >&2)
            sdist="$(ls "$cache"/src/llama_cpp_python-*.tar.gz | sort -V | tail -1)"
        fi
        version="$(basename "$sdist" .tar.gz)"; version="${version#llama_cpp_python-}"
        dir="$cache/llama.cpp-$version"
        if [ ! -f "$dir/src/CMakeLists.txt" ]; then
            rm -rf "$dir/src" && mkdir -p "$dir"
            tar xzf "$sdist" -C "$cache/src" "llama_cpp_python-$version/vendor/llama.cpp"
            # An exported copy, without the submodule's .git file: inside a git checkout ninja re-runs cmake forever.
            cp -a "$cache/src/llama_cpp_python-$version/vendor/llama.cpp" "$dir/src"
            rm -rf "$dir/src/.git"
        fi
        log "building llama.cpp (llama-cpp-python $version) in $dir/build"
        cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
            -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF \
            > "$dir/cmake.log" 2>&1 || die "llama.cpp cmake failed: $dir/cmake.log"
        ninja -C "$dir/build" -j "$(nproc)" llama-bench llama-batched-bench llama-simple llama-completion \
            llama-quantize > "$dir/ninja.log" 2>&1 || die "llama.cpp build failed: $dir/ninja.log"
    fi
    if [ ! -x "$cache/bin/triad" ] || [ "$here/triad.c" -nt "$cache/bin/triad" ]; then
        cc -O3 -march=native -fopenmp "$here/triad.c" -o "$cache/bin/triad"
    fi
fi
[ -x "$tools/bin/python" ] || die "no $tools (run without --skip-build)"
[ -x "$cache/bin/triad" ] || die "no $cache/bin/triad (run without --skip-build)"
if has llama.cpp || has llama.cpp-f16out; then llama_ok || die "no llama.cpp build under $cache"; fi
llama="$(llama_dir)"

if [ -z "$glm" ]; then glm="$repo/.build/release/glmcluster"; fi
if has_glm; then [ -x "$glm" ] || die "no glmcluster binary at $glm (swift build -c release --product glmcluster)"; fi
if has glmcluster-tp2; then command -v mpirun > /dev/null || die "glmcluster-tp2 needs mpirun (Open MPI) on PATH"; fi

# ---- 2. the model -------------------------------------------------------------------------------------------
if [ ! -f "$model/model.safetensors.index.json" ]; then
    [ "$skip_build" = 0 ] || die "no model at $model (run without --skip-build)"
    log "writing the random-weights model to $model"
    "$tools/bin/python" "$here/make_model.py" "$model" "$repo/Tests/Fixtures/glm-4-9b-chat-tiny" >&2
fi

# ---- 3. conversions -----------------------------------------------------------------------------------------
gguf_dir="$cache/models/gguf"; chatglm_dir="$cache/models/chatglm"
mkdir -p "$gguf_dir" "$chatglm_dir"
gguf_file() {  # engine format -> path
    case "$1:$2" in
        *:f16) echo "$gguf_dir/glm4-1b-F16.gguf" ;;
        llama.cpp:q8_0) echo "$gguf_dir/glm4-1b-Q8_0.gguf" ;;
        llama.cpp:q4_0) echo "$gguf_dir/glm4-1b-Q4_0.gguf" ;;
        llama.cpp-f16out:q8_0) echo "$gguf_dir/glm4-1b-Q8_0-f16out.gguf" ;;
        llama.cpp-f16out:q4_0) echo "$gguf_dir/glm4-1b-Q4_0-f16out.gguf" ;;
    esac
}
if has llama.cpp || has llama.cpp-f16out; then
    f16="$gguf_dir/glm4-1b-F16.gguf"
    if [ ! -f "$f16" ]; then
        [ "$skip_build" = 0 ] || die "no $f16 (run without --skip-build)"
        log "converting to GGUF F16"
        "$tools/bin/python" "$here/convert_gguf.py" "$model" "$f16" --gguf-py "$llama/src/gguf-py" >&2
    fi
    for e in llama.cpp llama.cpp-f16out; do
        has "$e" || continue
        for fmt in $formats; do
            [ "$fmt" = f16 ] && continue
            dst="$(gguf_file "$e" "$fmt")"
            [ -f "$dst" ] && continue
            [ "$skip_build" = 0 ] || die "no $dst (run without --skip-build)"
            type="$(echo "$fmt" | tr a-z A-Z)"
            extra=(); [ "$e" = llama.cpp-f16out ] && extra=(--token-embedding-type f16 --output-tensor-type f16)
            log "llama-quantize ${extra[*]:-} $type -> $dst"
            "$llama/build/bin/llama-quantize" ${extra[@]+"${extra[@]}"} "$f16" "$dst.partial" "$type" "$T" \
                > "$dst.log" 2>&1 || die "llama-quantize failed: $dst.log"
            mv "$dst.partial" "$dst"
        done
    done
fi
if has chatglm.cpp; then
    for fmt in $formats; do
        dst="$chatglm_dir/glm4-1b-$fmt.bin"
        [ -f "$dst" ] && continue
        [ "$skip_build" = 0 ] || die "no $dst (run without --skip-build)"
        log "converting to chatglm.cpp $fmt"
        "$tools/bin/python" "$here/convert_chatglm.py" "$model" "$dst" --type "$fmt" >&2
    done
    if [ -n "$chatglm_pid" ]; then
        log "waiting for the chatglm.cpp build (pid $chatglm_pid)"
        wait "$chatglm_pid" || die "chatglm.cpp build failed: $cache/chatglm-build.log"
    fi
    chatglm_ok || die "chatglm_cpp does not import from $chatglm_venv (see $cache/chatglm-build.log)"
fi

# ---- 4. timing ----------------------------------------------------------------------------------------------
{
    echo "# GLMCluster vs llama.cpp vs chatglm.cpp"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(hostname); CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(nproc) CPUs"
    echo "model: $model; P=$P G=$G rounds=$R threads=$T formats: $formats; engines: $engines"
    if [ -n "$batch_sizes" ]; then
        echo "batched decoding: batch sizes $batch_sizes, PB=$PB GB=$GB (llama-batched-bench -c $batched_ctx)"
        if has chatglm.cpp; then echo "chatglm.cpp: no batched run (it decodes one sequence at a time)"; fi
    else
        echo "batched decoding: skipped (--batch-sizes none)"
    fi
    echo "llama.cpp: $llama; chatglm.cpp: chatglm-cpp $chatglm_version ($chatglm_venv)"
    echo "glmcluster: $glm ${GLM_BENCH_EXTRA:-}"
    if has glmcluster-tp2; then
        echo "glmcluster-tp2: mpirun --hostfile hostfiles/localhost -np 2 --bind-to none, $tp2_threads threads per rank"
    fi
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    # ggml's threads (llama.cpp: OpenMP, chatglm.cpp: its own spin barriers) wait for each other at every graph
    # node: with another process on one of T cores, a T-thread decode collapsed (llama.cpp Q4_0 tg8 at 2 threads:
    # 1.2 tokens/s against 7.7 at 1 thread, 2026-12-07). Timings taken beside other work compare nothing.
    busy="$(ps -eo pcpu=,pid=,comm= --sort=-pcpu | awk -v me=$$ '$1 > 20 && $2 != me { printf "%s (pid %s, %s%%) ", $3, $2, $1 }')"
    if has chatglm.cpp && [ "$T" != "$(nproc)" ]; then
        echo "WARNING: chatglm.cpp starts as many threads as there are online CPUs ($(nproc)) whatever the affinity;"
        echo "         at --threads $T its figures oversubscribe $T CPUs (see Benchmarks/peers/chatglm_bench.py)"
    fi
    [ -z "$busy" ] || echo "WARNING: other processes are using the CPUs: $busy- these timings are smoke tests only"
} | tee "$out/header.txt"
echo "results: $out"
echo

triad_beside() { OMP_NUM_THREADS="$T" OMP_PROC_BIND=true taskset -c "$cpus" "$cache/bin/triad" 256 3 > "$1"; }
first_json() {  # raw out: the first JSON document of raw (mpirun's stdout) alone in out
    "$tools/bin/python" -c 'import json, sys
text = open(sys.argv[1]).read(); start = text.find("{")
if start < 0: sys.exit("no JSON document in " + sys.argv[1])
json.dump(json.JSONDecoder().raw_decode(text, start)[0], open(sys.argv[2], "w"), indent=1)' "$1" "$2"
}
glm_bench() {  # engine format file bench-arguments...: one `glmcluster bench` run of a GLMCluster variant
    local e="$1" fmt="$2" file="$3"; shift 3
    local args=(bench --model "$model" "$@" --format json) threads="$T"
    case "$fmt" in q8_0) args+=(--quantize int8) ;; q4_0) args+=(--quantize int4) ;; esac
    case "$e" in
        glmcluster-fast) args+=(--precision fast --kv-cache fp16) ;;
        glmcluster-tp2) threads="$tp2_threads" ;;
    esac
    args+=(--threads "$threads")
    # shellcheck disable=SC2206
    local extra=(${GLM_BENCH_EXTRA:-})
    if [ "$e" != glmcluster-tp2 ]; then
        echo "  $glm ${args[*]} ${extra[*]:-}" >&2
        "$glm" "${args[@]}" ${extra[@]+"${extra[@]}"} > "$file" 2> "$file.stderr"
        return
    fi
    # The project's own launch (scripts/demo.sh): its MPI environment (scripts/mpi-env.sh exports
    # OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1, oversubscription, no CMA) and hostfile;
    # --bind-to none leaves each rank's threads free on the T CPUs, as the one-rank variants are.
    local launch=(mpirun --allow-run-as-root --oversubscribe --bind-to none --hostfile "$repo/hostfiles/localhost"
                  -np 2)
    echo "  ${launch[*]} $glm ${args[*]} ${extra[*]:-}" >&2
    # Rank 0 alone prints the report; first_json keeps only that document should mpirun add anything to stdout.
    ( # shellcheck source=/dev/null
      source "$repo/scripts/mpi-env.sh"
      "${launch[@]}" "$glm" "${args[@]}" ${extra[@]+"${extra[@]}"} ) > "$file.raw" 2> "$file.stderr" &&
        first_json "$file.raw" "$file" && rm -f "$file.raw"
}
run_engine() {  # engine format file
    local e="$1" fmt="$2" file="$3"
    case "$e" in
        glmcluster|glmcluster-fast|glmcluster-tp2)
            glm_bench "$e" "$fmt" "$file" --prompt-tokens "$P" --gen-tokens "$G" --greedy --repeat 1 ;;
        llama.cpp|llama.cpp-f16out)
            local m; m="$(gguf_file "$e" "$fmt")"
            # shellcheck disable=SC2206
            local extra=(${LLAMA_BENCH_EXTRA:-})
            triad_beside "${file%.json}.triad.json"
            echo "  llama-bench -m $m -t $T -r 1 -p $P -n 0 / -p 0 -n $G -d $P ${extra[*]:-}" >&2
            {
                "$llama/build/bin/llama-bench" -m "$m" -t "$T" -r 1 -p "$P" -n 0 -o json ${extra[@]+"${extra[@]}"}
                "$llama/build/bin/llama-bench" -m "$m" -t "$T" -r 1 -p 0 -n "$G" -d "$P" -o json \
                    ${extra[@]+"${extra[@]}"}
            } > "$file.parts" 2> "$file.stderr" &&
                "$tools/bin/python" -c 'import json, sys
text = open(sys.argv[1]).read(); dec = json.JSONDecoder(); runs, i = [], 0
while i < len(text):
    if text[i].isspace(): i += 1; continue
    part, i = dec.raw_decode(text, i); runs += part
json.dump(runs, open(sys.argv[2], "w"), indent=1)' "$file.parts" "$file" && rm -f "$file.parts" ;;
        chatglm.cpp)
            triad_beside "${file%.json}.triad.json"
            echo "  taskset -c $cpus chatglm_bench.py $chatglm_dir/glm4-1b-$fmt.bin --prompt-tokens $P --gen-tokens $G" >&2
            taskset -c "$cpus" "$chatglm_venv/bin/python" "$here/chatglm_bench.py" "$chatglm_dir/glm4-1b-$fmt.bin" \
                --prompt-tokens "$P" --gen-tokens "$G" > "$file" 2> "$file.stderr" ;;
    esac
}

run_batched() {  # engine format file (file without its .json / .jsonl ending)
    local e="$1" fmt="$2" file="$3"
    case "$e" in
        glmcluster|glmcluster-fast|glmcluster-tp2)
            # shellcheck disable=SC2086
            glm_bench "$e" "$fmt" "$file.json" --batch-sizes $batch_sizes --prompt-tokens "$PB" --gen-tokens "$GB" \
                --greedy ;;
        llama.cpp|llama.cpp-f16out)
            local m; m="$(gguf_file "$e" "$fmt")"
            # shellcheck disable=SC2206
            local extra=(${LLAMA_BATCHED_EXTRA:-})
            # shellcheck disable=SC2086
            local npl; npl="$(echo $batch_sizes | tr ' ' ,)"   # "1 4 16" -> 1,4,16
            triad_beside "$file.triad.json"
            echo "  llama-batched-bench -m $m -t $T -c $batched_ctx -npp $PB -ntg $GB -npl $npl ${extra[*]:-}" >&2
            # stdout: one JSON line per batch, then a blank line; the log and timings go to stderr.
            "$llama/build/bin/llama-batched-bench" -m "$m" -t "$T" -c "$batched_ctx" -npp "$PB" -ntg "$GB" \
                -npl "$npl" --output-format jsonl ${extra[@]+"${extra[@]}"} > "$file.raw" 2> "$file.jsonl.stderr" &&
                grep '^{' "$file.raw" > "$file.jsonl" && rm -f "$file.raw" ;;
        *) return 0 ;;   # chatglm.cpp cannot batch (see the header)
    esac
}

for round in $(seq 1 "$R"); do
    dir="$out/round-$round"; mkdir -p "$dir"
    for fmt in $formats; do
        for e in $engines; do
            [ "$e" = llama.cpp-f16out ] && [ "$fmt" = f16 ] && continue   # the same file as llama.cpp F16
            log "round $round/$R: $e $fmt"
            if ! run_engine "$e" "$fmt" "$dir/$e-$fmt.json"; then
                echo "NOTE: $e $fmt failed in round $round; see $dir/$e-$fmt.json.stderr:"
                tail -3 "$dir/$e-$fmt.json.stderr" | sed 's/^/    /'
                rm -f "$dir/$e-$fmt.json"
            fi
        done
        # The batched phase of this format right after its single-sequence runs, engine by engine as above.
        [ -n "$batch_sizes" ] || continue
        for e in $engines; do
            [ "$e" = llama.cpp-f16out ] && [ "$fmt" = f16 ] && continue
            [ "$e" = chatglm.cpp ] && continue
            case "$e" in llama.cpp*) ext=jsonl ;; *) ext=json ;; esac
            base="$dir/$e-$fmt-batched"
            log "round $round/$R: $e $fmt batched (B = $batch_sizes)"
            if ! run_batched "$e" "$fmt" "$base"; then
                echo "NOTE: $e $fmt batched failed in round $round; see $base.$ext.stderr:"
                tail -3 "$base.$ext.stderr" | sed 's/^/    /'
                rm -f "$base.$ext"
            fi
        done
    done
done

# ---- 5. report ----------------------------------------------------------------------------------------------
report=("$tools/bin/python" "$here/report.py" "$out" --model "$model" --prompt-tokens "$P" --gen-tokens "$G"
        --batch-prompt-tokens "$PB" --batch-gen-tokens "$GB" --threads "$T")
"${report[@]}" --format json > "$out/report.json"
"${report[@]}" --format md | tee "$out/report.md"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
