#!/usr/bin/env bash
# Runs every VM suite (tests/vm/NAME.sh whose first line is "# vm suite: ...") in one guest boot, with tests/vm/NAME.policy.json
# (if present; @SHA256:/path@ is replaced by that host file's digest) enforcing.
# A suite with tests/vm/NAME.bundle.json (a policy template) runs vigild on a signed bundle of it
# instead: the runner renders it to GEN/policy.json, makes a signing key (GEN/keys/signer.*, public
# half in GEN/trust/), runs tests/vm/NAME.prep.sh GEN on the host if present (it may add keys,
# bundles, a threshold, or write GEN/bundle.json itself), signs GEN/bundle.json if still missing,
# and copies GEN to /gen in the guest. After the guest, tests/vm/NAME.post.sh OUT LOG (if present)
# checks on the host what the guest left in OUT; its lines and counts join the suite's.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
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
	if [ -f "$top/tests/vm/$s.bundle.json" ]; then
		gen=$out/$s.gen
		rm -rf "$gen" && mkdir -p "$gen/keys" "$gen/trust"
		"$top/tests/vm/render-policy.sh" "$top/tests/vm/$s.bundle.json" > "$gen/policy.json" || exit 1
		"$BUILD/vigil" policy keygen "$gen/keys/signer" > /dev/null || exit 1
		cp "$gen/keys/signer.pem" "$gen/trust/"
		if [ -f "$top/tests/vm/$s.prep.sh" ]; then
			VIGIL=$BUILD/vigil bash "$top/tests/vm/$s.prep.sh" "$gen" || {
				echo "vm suite $s: $s.prep.sh failed"
				exit 1
			}
		fi
		[ -f "$gen/bundle.json" ] || "$BUILD/vigil" policy sign --key "$gen/keys/signer.key" \
			-o "$gen/bundle.json" "$gen/policy.json" || exit 1
		args+=(--bundle "$gen/bundle.json" --trust-dir "$gen/trust" --copy "$gen:/gen")
	fi
	extra=$(sed -n 's/^# vigil-vm-args: //p' "$top/tests/vm/$s.sh")
	# A guest under TCG on a busy 2-core host can take minutes per vigild start (BPF
	# verification, TPM): a generous bound unless the suite sets its own.
	case " $extra " in *" --timeout "*) ;; *) extra="--timeout 900 $extra" ;; esac
	start=$SECONDS
	echo "== vm suite $s"
	rm -rf "${out:?}/$s"
	# shellcheck disable=SC2086
	VIGIL_BUILD=$BUILD "$top/tools/vigil-vm" run "${args[@]}" $extra --out "$out/$s" \
		--copy "$top/tests/vm:/tests/vm" --copy "$BUILD/guest-tests:/tests/bin" -- sh /tests/vm/$s.sh > "$out/$s.log" 2>&1
	rc=$?
	# Host-side checks of what the guest left (tests/vm/NAME.post.sh OUT LOG): their lines and a
	# combined "N passed, N failed" line go into the suite's log.
	if [ -f "$top/tests/vm/$s.post.sh" ]; then
		BUILD=$BUILD bash "$top/tests/vm/$s.post.sh" "$out/$s" "$out/$s.log" >> "$out/$s.log" 2>&1 || rc=1
	fi
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
