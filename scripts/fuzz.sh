#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers of user-supplied files (Sources/FuzzTargets): builds glmcluster-fuzz with
# libFuzzer into .build-fuzz and runs each target for SECONDS, starting from Fuzz/corpus/<target> and the past
# findings in Fuzz/regressions/<target>. New inputs go to a scratch folder, never into the committed corpus.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     targets: checkpoint pickle config batch safetensors tiktoken (default: all)
#
# GLMCLUSTER_FUZZ_SEED=N fixes libFuzzer's random seed (CI does, so that a run can be repeated).
# A crash, a hang (-timeout) or a runaway allocation (-rss_limit_mb) stops that target and the script exits 1,
# naming the input that did it (under .build-fuzz/findings/<target>/). Copy it into Fuzz/regressions/<target>/,
# fix the reader, and the tests replay it from then on. docs/FUZZING.md records the campaigns.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(checkpoint pickle config batch safetensors tiktoken)

# libFuzzer's runtime ships with the Swift toolchain; lld links it (gold fails on the fuzzer archive).
swift build -c release --build-path .build-fuzz --product glmcluster-fuzz \
    -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | tail -1
binary=".build-fuzz/release/glmcluster-fuzz"

max_len() {
    case "$1" in
        checkpoint) echo 16384 ;;
        pickle) echo 8192 ;;
        safetensors) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

failed=0
for target in "${targets[@]}"; do
    scratch="$(mktemp -d)"
    findings=".build-fuzz/findings/$target"
    mkdir -p "$findings"
    cp Fuzz/corpus/"$target"/* "$scratch"/
    log="$findings/log.txt"
    set +e
    GLMCLUSTER_FUZZ_TARGET="$target" GLMCLUSTER_FUZZ_MODEL="Tests/Fixtures/glm-tiny-icetk/mp1" \
        SWIFT_BACKTRACE=enable=no "$binary" "$scratch" Fuzz/regressions/"$target" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$findings/" -print_final_stats=1 ${GLMCLUSTER_FUZZ_SEED:+-seed=$GLMCLUSTER_FUZZ_SEED} \
        >"$log" 2>&1
    status=$?
    set -e
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")"
    coverage="$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)"
    corpus="$(ls "$scratch" | wc -l)"
    if ((status == 0)); then
        echo "fuzz $target: ${seconds} s, $runs executions, $coverage, corpus $(ls Fuzz/corpus/"$target" | wc -l) -> $corpus inputs, no finding"
    else
        failed=1
        echo "fuzz $target: FINDING after $runs executions (exit $status); input and log in $findings/" >&2
        grep -E "ERROR|Fatal error|deadly signal|timeout|out-of-memory|Test unit written" "$log" | head -5 >&2
    fi
    rm -rf "$scratch"
done
exit "$failed"
