#!/usr/bin/env bash
# Shared by the guest benchmarks (sourced after set -euo pipefail): the repository as the working
# directory, BUILD (the script's first argument, default build) and out (BUILD/bench, made).
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
BUILD=${1:-build}
out=$BUILD/bench
mkdir -p "$out"
