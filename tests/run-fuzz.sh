#!/usr/bin/env bash
# Runs every fuzz target for a bounded number of inputs from its seed corpus (tests/fuzz/corpus/NAME).
# FUZZ_RUNS sets the count (default 200000); a crash fails the run and leaves the input in BUILD/fuzz.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$1
shift
runs=${FUZZ_RUNS:-200000}
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f" | sed 's/^fuzz_//')
	work=$BUILD/fuzz/$name
	mkdir -p "$work/corpus"
	cp -n "$top/tests/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
	if "$f" -runs="$runs" -max_len=65536 -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1; then
		pass=$((pass + 1))
		echo "ok - fuzz $name: $(grep -a -o 'Done [0-9]* runs.*' "$work/log")"
	else
		fail=$((fail + 1))
		echo "not ok - fuzz $name: see $work/log"
		tail -n 20 "$work/log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
