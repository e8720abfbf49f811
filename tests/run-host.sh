#!/usr/bin/env bash
# Runs the host integration tests: tests/host/test_*.sh (no TPM, no guest).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
pass=0 fail=0
for t in "$top"/tests/host/test_*.sh; do
	echo "== $(basename "$t")"
	if BUILD=$BUILD bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "host: $pass passed, $fail failed (test scripts)"
[ "$fail" = 0 ]
