#!/usr/bin/env bash
# Host test: every example policy (policies/examples/*.json) is valid and passes its case file
# (NAME.cases.jsonl, required) under `vigil policy test`. Digests are not checked here: they are
# those of the Debian bookworm files the examples name (`vigil policy pin` refreshes them).
set -uo pipefail
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
for p in "$top"/policies/examples/*.json; do
	n=$(basename "$p" .json)
	c=${p%.json}.cases.jsonl
	if out=$("$BUILD/vigil" policy check --no-digests "$p" 2>&1); then
		pass=$((pass + 1)); echo "ok - $n: policy check"
	else
		fail=$((fail + 1)); echo "not ok - $n: policy check: $out"
	fi
	if [ ! -f "$c" ]; then
		fail=$((fail + 1)); echo "not ok - $n: no case file $c"
		continue
	fi
	want=$(grep -c '^{' "$c")
	if out=$("$BUILD/vigil" policy test "$p" "$c" 2>&1) &&
		grep -q ": $want cases, $want passed, 0 failed$" <<<"$out"; then
		pass=$((pass + 1)); echo "ok - $n: $want cases pass"
	else
		fail=$((fail + 1)); echo "not ok - $n: policy test: $out"
	fi
done
echo "policy examples: $pass passed, $fail failed"
[ "$fail" = 0 ]
