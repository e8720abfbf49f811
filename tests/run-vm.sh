#!/usr/bin/env bash
# Runs every VM suite (tests/vm/NAME.sh whose first line is "# vm suite: ...") in one guest boot, with tests/vm/NAME.policy.json
# (if present; @SHA256:/path@ is replaced by that host file's digest) enforcing.
# A suite with tests/vm/NAME.bundle.json (a policy template) runs vigild on a signed bundle of it
# instead: the runner renders it to GEN/policy.json, makes a signing key (GEN/keys/signer.*, public
# half in GEN/trust/), runs tests/vm/NAME.prep.sh GEN on the host if present (it may add keys,
# bundles, a threshold, or write GEN/bundle.json itself), signs GEN/bundle.json if still missing,
# and copies GEN to /gen in the guest. After the guest, tests/vm/NAME.post.sh OUT LOG (if present)
# checks on the host what the guest left in OUT; its lines and counts join the suite's.
# tests/vm/NAME.host.sh (if present) runs host services around the guest: `start DIR` before it
# prints extra vigil-vm arguments (e.g. --otlp-forward PORT), `stop DIR` after it; DIR is
# OUT/host, where post.sh finds what they kept.
#
# Environment: VM_SUITES (names, default all; NAME@6.12 runs NAME on that kernel),
# VIGIL_KERNEL=6.1|6.12 (the guest kernel of the names without @; 6.1 when unset),
# VM_JOBS=N (default 1): N suites side by side, each in its own guest (-smp 1), swtpm and
# work directories. Every suite's output is kept in BUILD/vm/NAME.log and printed whole, in
# the order of VM_SUITES, as soon as it and the suites before it are done. Suites that start
# first are the longest of the previous run (BUILD/vm/NAME.secs, else tests/vm/suite-secs.txt),
# so the slowest do not end last.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
kernel=${VIGIL_KERNEL:-6.1}
# Each kernel's results apart (BUILD/vm for 6.1, BUILD/vm-6.12 for the others).
out=$BUILD/vm
[ "$kernel" = 6.1 ] || out=$BUILD/vm-$kernel
mkdir -p "$out"
suites=${VM_SUITES:-$(cd "$top/tests/vm" && grep -l '^# vm suite:' *.sh | sed 's/\.sh$//')}
jobs=${VM_JOBS:-1}
case $jobs in *[!0-9]* | '' | 0) echo "run-vm: VM_JOBS must be a number >= 1, not '$jobs'" >&2; exit 2 ;; esac
for s in $suites; do
	case $s in *@*) k=${s#*@} ;; *) k=$kernel ;; esac
	VIGIL_KERNEL=$k "$top/scripts/fetch-kernel.sh" --dir > /dev/null || exit 2
	[ -f "$(VIGIL_KERNEL=$k "$top/scripts/fetch-kernel.sh" --dir)/vmlinuz" ] || {
		echo "run-vm: no $k guest kernel; run 'make kernel'" >&2
		exit 2
	}
done

# kernel of suite $1 (NAME or NAME@KERNEL)
suite_kernel() { case $1 in *@*) echo "${1#*@}" ;; *) echo "$kernel" ;; esac; }

# Runs suite $1 (NAME or NAME@KERNEL) in a guest.
suite_body() {
	local s=$1 name=${1%@*} args=() gen extra pol
	pol=$top/tests/vm/$name.policy.json
	if [ -f "$pol" ]; then
		gen=$out/$s.policy.json
		"$top/tests/vm/render-policy.sh" "$pol" > "$gen" || return 1
		args+=(--policy "$gen")
	fi
	if [ -f "$top/tests/vm/$name.bundle.json" ]; then
		gen=$out/$s.gen
		rm -rf "$gen" && mkdir -p "$gen/keys" "$gen/trust"
		"$top/tests/vm/render-policy.sh" "$top/tests/vm/$name.bundle.json" > "$gen/policy.json" || return 1
		"$BUILD/vigil" policy keygen "$gen/keys/signer" > /dev/null || return 1
		cp "$gen/keys/signer.pem" "$gen/trust/"
		if [ -f "$top/tests/vm/$name.prep.sh" ]; then
			VIGIL=$BUILD/vigil bash "$top/tests/vm/$name.prep.sh" "$gen" || {
				echo "vm suite $s: $name.prep.sh failed"
				return 1
			}
		fi
		[ -f "$gen/bundle.json" ] || "$BUILD/vigil" policy sign --key "$gen/keys/signer.key" \
			-o "$gen/bundle.json" "$gen/policy.json" || return 1
		args+=(--bundle "$gen/bundle.json" --trust-dir "$gen/trust" --copy "$gen:/gen")
	fi
	extra=$(sed -n 's/^# vigil-vm-args: //p' "$top/tests/vm/$name.sh")
	# A guest under TCG on a busy 2-core host can take minutes per vigild start (BPF
	# verification, TPM): a generous bound unless the suite sets its own.
	case " $extra " in *" --timeout "*) ;; *) extra="--timeout 900 $extra" ;; esac
	# Side by side, each guest gets one vCPU (the suite's own --smp, later, wins).
	[ "$jobs" -gt 1 ] && extra="--smp 1 $extra"
	rm -rf "${out:?}/$s"
	local host=$top/tests/vm/$name.host.sh rc
	if [ -f "$host" ]; then
		mkdir -p "$out/$s/host"
		extra="$extra $(BUILD=$BUILD bash "$host" start "$out/$s/host")" || {
			echo "vm suite $s: $name.host.sh start failed"
			return 1
		}
	fi
	# shellcheck disable=SC2086
	VIGIL_KERNEL=$(suite_kernel "$s") VIGIL_BUILD=$BUILD "$top/tools/vigil-vm" run "${args[@]}" $extra \
		--out "$out/$s" --copy "$top/tests/vm:/tests/vm" --copy "$BUILD/guest-tests:/tests/bin" \
		-- sh /tests/vm/$name.sh
	rc=$?
	[ -f "$host" ] && BUILD=$BUILD bash "$host" stop "$out/$s/host"
	return $rc
}

# Runs suite $1; its output goes to $out/$1.log, "RC SECONDS" to $out/$1.done (written last).
run_suite() {
	local s=$1 rc start=$SECONDS
	suite_body "$s" > "$out/$s.log" 2>&1
	rc=$?
	# Host-side checks of what the guest left (tests/vm/NAME.post.sh OUT LOG): their lines and a
	# combined "N passed, N failed" line go into the suite's log.
	if [ -f "$top/tests/vm/${s%@*}.post.sh" ]; then
		BUILD=$BUILD bash "$top/tests/vm/${s%@*}.post.sh" "$out/$s" "$out/$s.log" >> "$out/$s.log" 2>&1 || rc=1
	fi
	echo "$rc $((SECONDS - start))" > "$out/$s.done"
}

# Prints suite $1's output and result line, adds to the totals.
report() {
	local s=$1 rc secs p f
	read -r rc secs < "$out/$s.done"
	echo "== vm suite $s (kernel $(suite_kernel "$s"))"
	cat "$out/$s.log"
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out/$s.log" | tail -n 1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out/$s.log" | tail -n 1)
	if [ -z "$p" ]; then
		echo "vm suite $s: no result line (exit $rc); guest output in $out/$s"
		p=0 f=1
	elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1
	fi
	echo "== vm suite $s: $p passed, $f failed ($secs s)"
	[ "$f" = 0 ] && echo "$secs" > "$out/$s.secs"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	[ "$f" = 0 ] || failed_suites="$failed_suites $s"
}

# shellcheck disable=SC2206 # names are words
order=($suites)
n=${#order[@]}
for s in "${order[@]}"; do rm -f "$out/$s.done"; done
# Start order (longest-processing-time first): the previous passing run here, else the committed
# table tests/vm/suite-secs.txt (a fresh clone), else unknown = longest; ties in listed order.
expected_secs() {
	local t
	t=$(cat "$out/$1.secs" 2>/dev/null) ||
		t=$(awk -v s="$1" '$1 == s { print $2 }' "$top/tests/vm/suite-secs.txt" 2>/dev/null)
	echo "${t:-100000}"
}
read -r -a start_order <<< "$(for i in "${!order[@]}"; do
	s=${order[$i]}
	printf '%s %d %s\n' "$(expected_secs "$s")" "$i" "$s"
done | sort -k1,1nr -k2,2n | awk '{ printf "%s ", $3 }')"
[ "$jobs" = 1 ] && start_order=("${order[@]}")
[ "$jobs" -gt 1 ] && echo "vm: start order (longest expected first): ${start_order[*]}"

pids=()
cleanup() {
	local p
	# Each suite's vigil-vm (a child of its subshell) stops its own QEMU and swtpm on TERM.
	for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	wait
}
trap cleanup EXIT
trap 'echo "run-vm: interrupted" >&2; exit 130' INT TERM

total_pass=0 total_fail=0 failed_suites=
started=0 printed=0 t0=$SECONDS
while [ $printed -lt "$n" ]; do
	running=0
	for ((i = 0; i < started; i++)); do
		[ -f "$out/${start_order[$i]}.done" ] || running=$((running + 1))
	done
	while [ $running -lt "$jobs" ] && [ $started -lt "$n" ]; do
		run_suite "${start_order[$started]}" &
		pids+=($!)
		started=$((started + 1))
		running=$((running + 1))
	done
	while [ $printed -lt "$n" ] && [ -f "$out/${order[$printed]}.done" ]; do
		report "${order[$printed]}"
		printed=$((printed + 1))
	done
	[ $printed -lt "$n" ] && sleep 1
done
wait
pids=()
[ "$jobs" -gt 1 ] && echo "vm: $n suites, $jobs at a time, in $((SECONDS - t0)) s"
echo "vm: $total_pass passed, $total_fail failed"
[ -z "$failed_suites" ] || { echo "failed vm suites:$failed_suites"; exit 1; }
