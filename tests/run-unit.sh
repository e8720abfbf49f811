#!/usr/bin/env bash
# Runs the cmocka unit tests (built with ASan/UBSan) and prints one summary line.
set -uo pipefail
BUILD=$1
shift
pass=0 fail=0
for t in "$@"; do
	echo "== $(basename "$t")"
	if ASAN_OPTIONS=detect_leaks=1 "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed (test programs)"
[ "$fail" = 0 ]
