#!/usr/bin/env bash
# Runs every benchmark (bench/*-bench.sh); results land in BUILD/bench/*.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
for b in "$top"/bench/*-bench.sh; do
	echo "== $(basename "$b" .sh)"
	"$b" "$BUILD"
done
