#!/usr/bin/env bash
# GLM-4 tokenizer throughput: encodes about 100 KB of mixed English, Chinese and code with the tiny GLM-4 vocabulary
# in a release build and prints milliseconds per 100 KB (the best of 10 runs). It builds only the BytePairEncoding
# module and its tests, in a scratch package that links to them, so no other module (nor MPI) is built in release.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/Sources" "$scratch/Tests"
ln -s "$root/Sources/BytePairEncoding" "$scratch/Sources/BytePairEncoding"
ln -s "$root/Tests/BytePairEncodingTests" "$scratch/Tests/BytePairEncodingTests"
ln -s "$root/Tests/Fixtures" "$scratch/Tests/Fixtures"
cat >"$scratch/Package.swift" <<'SWIFT'
// swift-tools-version: 6.2
import PackageDescription

let package = Package(
    name: "TokenizerThroughput",
    targets: [
        .target(name: "BytePairEncoding"),
        .testTarget(name: "BytePairEncodingTests", dependencies: ["BytePairEncoding"]),
    ],
    swiftLanguageModes: [.v6]
)
SWIFT
cd "$scratch"
# The tests use @testable imports, which a release build allows only with -enable-testing.
GLMCLUSTER_TOKENIZER_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter ThroughputBenchmark 2>&1 |
    grep -E "tokenizer throughput|error|failed"
