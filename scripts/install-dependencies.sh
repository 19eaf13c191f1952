#!/usr/bin/env bash
# Installs the system libraries GLMCluster links against (OpenMPI, OpenBLAS, SentencePiece, libdeflate) and the
# Python packages of the NumPy reference, skipping whatever is already there. Needs root (or sudo) for apt-get.
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libsentencepiece-dev sentencepiece libdeflate-dev pkg-config python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "${missing[@]}"
fi

python3 - <<'PY' || python3 -m pip install --quiet numpy scipy pytest regex
import numpy, scipy, pytest, regex  # noqa: F401
PY

if ! command -v swift >/dev/null; then
    echo "error: the Swift toolchain (swift 6.2 or later) is not on PATH; install it from swift.org" >&2
    exit 1
fi
