#!/usr/bin/env bash
# Every test: installs what is needed, builds, runs the Swift test suites (unit, official test vectors,
# end-to-end against the NumPy reference, bad inputs), the NumPy reference's own tests, and a short fuzzing run:
# each libFuzzer target and the CLI mutation fuzzer for a fixed budget with fixed seeds (docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
source scripts/mpi-env.sh

swift build --build-tests
swift test --skip-build
python3 -m pytest -q Tests/Reference

GLMCLUSTER_FUZZ_SEED=1 bash scripts/fuzz.sh "${GLMCLUSTER_FUZZ_SECONDS:-30}"
python3 scripts/cli-fuzz.py --binary .build/debug/glmcluster --seed 1 --seconds "${GLMCLUSTER_CLI_FUZZ_SECONDS:-60}" \
    --out "$(mktemp -d)"
