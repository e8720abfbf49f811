#!/usr/bin/env bash
# Runs the swtpm-backed host tests: tests/tpm/test_*.sh, each starting its own swtpm.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
pass=0 fail=0
shopt -s nullglob
for t in "$top"/tests/tpm/test_*.sh; do
	echo "== $(basename "$t")"
	if BUILD=$BUILD bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "tpm: $pass passed, $fail failed (test scripts)"
[ "$fail" = 0 ]
