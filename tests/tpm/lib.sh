#!/usr/bin/env bash
# Shared by the tests/tpm scripts: TAP-style checks and an swtpm of their own on free ports.
# The sourcing script sets top (the repository) and calls tpm_test_start; pass and fail count
# the checks.
swtpm_pid=
pass=0 fail=0

# tpm_test_start NAME: BUILD (absolute), V (the CLI), tmp (a scratch directory removed at exit,
# with the swtpm this script started).
tpm_test_start() {
	BUILD=${BUILD:-build}
	case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
	V=$BUILD/vigil
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap 'stop_swtpm; rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
}

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
check() { # check NAME CMD...: CMD succeeds
	local name=$1
	shift
	if "$@" > "$tmp/out" 2> "$tmp/err"; then ok "$name"; else not_ok "$name" "$(head -c 400 "$tmp/err")"; fi
}
expect_rc() { # expect_rc NAME WANT CMD...
	local name=$1 want=$2 rc
	shift 2
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else not_ok "$name" "exit $rc, want $want" "$(head -c 400 "$tmp/err")"; fi
}
# expect_fail NAME WANT-RC PATTERN CMD...: exit WANT-RC, and stderr is exactly one line matching
# PATTERN (grep -E), the reason a verifier must give.
expect_fail() {
	local name=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	lines=$(wc -l < "$tmp/err")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -Eq -- "$pat" "$tmp/err"; then
		ok "$name: exit $rc: $(head -c 200 "$tmp/err")"
	else
		not_ok "$name" "exit $rc (want $want), $lines stderr lines (want 1), want /$pat/" \
			"$(head -c 400 "$tmp/err")"
	fi
}

start_swtpm() {
	local i
	mkdir -p "$tmp/tpm"
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		swtpm socket --tpm2 --tpmstate dir="$tmp/tpm" --server type=tcp,port=$port \
			--ctrl type=tcp,port=$((port + 1)) --flags not-need-init,startup-clear \
			> "$tmp/swtpm.log" 2>&1 &
		swtpm_pid=$!
		for i in $(seq 30); do
			kill -0 "$swtpm_pid" 2>/dev/null || break
			(exec 3<> "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
			sleep 0.1
		done
		kill "$swtpm_pid" 2>/dev/null
		wait "$swtpm_pid" 2>/dev/null
		swtpm_pid=
	done
	echo "cannot start swtpm: $(cat "$tmp/swtpm.log")" >&2
	exit 1
}
stop_swtpm() {
	[ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2>/dev/null && wait "$swtpm_pid" 2>/dev/null
	swtpm_pid=
}
