#!/usr/bin/env bash
# Every test: installs what is needed, builds, runs the Swift test suites (unit, official test vectors,
# end-to-end against the NumPy reference, bad inputs) and the NumPy reference's own tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-dependencies.sh
source scripts/mpi-env.sh

swift build --build-tests
swift test --skip-build
python3 -m pytest -q Tests/Reference
