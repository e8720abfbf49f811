#!/usr/bin/env bash
# Host test: every example policy (policies/examples/*.json) is valid and passes its case file
# (NAME.cases.jsonl, required) under `vigil policy test`. The committed digests are not checked
# here: they are those of the Debian bookworm files the examples name as of their last pin, and
# Debian's point and security releases change them. `vigil policy pin` re-pins an example for this
# machine's files: every exec rule and every key rule's exe, which `vigil policy check` then finds
# matching (where this machine has the files).
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
	if [ -z "$(jq -r '[.exec.allow[]?.path, .keys.rules[]?.exe.path? // empty] | .[]' "$p" |
		while read -r f; do [ -f "$f" ] || echo "$f"; done)" ]; then
		pinned=$(mktemp) zeroed=$(mktemp)
		# Every digest zeroed first: pin must fill each one in.
		jq 'walk(if type == "object" and has("sha256") then .sha256 = ("0" * 64) else . end)' "$p" > "$zeroed"
		if "$BUILD/vigil" policy pin -o "$pinned" "$zeroed" &&
			out=$("$BUILD/vigil" policy check "$pinned" 2>&1) && grep -q "every digest matches" <<<"$out" &&
			[ -z "$(jq -r '.keys.rules[]?.exe | select(.) | "\(.path) \(.sha256)"' "$pinned" |
				while read -r f h; do [ "$(sha256sum "$f" | cut -c1-64)" = "$h" ] || echo "$f"; done)" ]; then
			pass=$((pass + 1)); echo "ok - $n: pinned for this machine, every digest (key rules' exe included) matches"
		else
			fail=$((fail + 1)); echo "not ok - $n: pin then check: ${out:-pin failed}"
		fi
		rm -f "$pinned" "$zeroed"
	fi
	want=$(grep -c '^{' "$c")
	if out=$("$BUILD/vigil" policy test "$p" "$c" 2>&1) &&
		grep -q ": $want cases, $want passed, 0 failed$" <<<"$out"; then
		pass=$((pass + 1)); echo "ok - $n: $want cases pass"
	else
		fail=$((fail + 1)); echo "not ok - $n: policy test: $out"
	fi
done
# vigil policy check checks a key rule's exe digest, as vigild does at load.
ex=$top/policies/examples/inference-server.json
if [ -f "$(jq -r '.keys.rules[0].exe.path' "$ex")" ]; then
	bad=$(mktemp)
	# Pinned for this machine first: only the key rule's digest is wrong.
	"$BUILD/vigil" policy pin "$ex" | jq '.keys.rules[0].exe.sha256 = ("0" * 64)' > "$bad"
	out=$("$BUILD/vigil" policy check "$bad" 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && grep -q "keys.rules\[0\].exe.sha256: rule 'model-key-server-only': .* does not have the SHA-256 the policy names" <<<"$out"; then
		pass=$((pass + 1)); echo "ok - a wrong key-rule exe digest fails policy check (exit 3), naming the field"
	else
		fail=$((fail + 1)); echo "not ok - a wrong key-rule exe digest: exit $rc: $out"
	fi
	rm -f "$bad"
fi
echo "policy examples: $pass passed, $fail failed"
[ "$fail" = 0 ]
