#!/usr/bin/env bash
# Runs every VM suite (tests/vm/NAME.sh whose first line is "# vm suite: ...") in one guest boot, with tests/vm/NAME.policy.json
# (if present; @SHA256:/path@ is replaced by that host file's digest) enforcing.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
out=$BUILD/vm
mkdir -p "$out"
suites=${VM_SUITES:-$(cd "$top/tests/vm" && grep -l '^# vm suite:' *.sh | sed 's/\.sh$//')}
total_pass=0 total_fail=0 failed_suites=
for s in $suites; do
	args=()
	pol=$top/tests/vm/$s.policy.json
	if [ -f "$pol" ]; then
		gen=$out/$s.policy.json
		"$top/tests/vm/render-policy.sh" "$pol" > "$gen" || exit 1
		args+=(--policy "$gen")
	fi
	extra=$(sed -n "s/^# vigil-vm-args: //p" "$top/tests/vm/$s.sh")
	start=$SECONDS
	echo "== vm suite $s"
	rm -rf "${out:?}/$s"
	# shellcheck disable=SC2086
	VIGIL_BUILD=$BUILD "$top/tools/vigil-vm" run "${args[@]}" $extra --out "$out/$s" \
		--copy "$top/tests/vm:/tests/vm" --copy "$BUILD/guest-tests:/tests/bin" -- sh /tests/vm/$s.sh > "$out/$s.log" 2>&1
	rc=$?
	cat "$out/$s.log"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out/$s.log" | tail -n 1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out/$s.log" | tail -n 1)
	if [ -z "$p" ]; then
		echo "vm suite $s: no result line (exit $rc); guest output in $out/$s"
		p=0 f=1
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
	fi
	echo "== vm suite $s: $p passed, $f failed ($((SECONDS - start)) s)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	[ "$f" = 0 ] || failed_suites="$failed_suites $s"
done
echo "vm: $total_pass passed, $total_fail failed"
[ -z "$failed_suites" ] || { echo "failed vm suites:$failed_suites"; exit 1; }
