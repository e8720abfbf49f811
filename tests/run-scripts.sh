#!/usr/bin/env bash
# Runs the shell test scripts tests/SUITE/test_*.sh (host: no TPM, no guest; tpm: each starts its
# own swtpm) and prints one summary line. Usage: run-scripts.sh SUITE BUILD
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
suite=$1
BUILD=${2:-build}
pass=0 fail=0
shopt -s nullglob
for t in "$top/tests/$suite"/test_*.sh; do
	echo "== $(basename "$t")"
	if BUILD=$BUILD bash "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "$suite: $pass passed, $fail failed (test scripts)"
[ "$fail" = 0 ]
