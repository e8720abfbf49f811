#!/usr/bin/env bash
# Shared by the tests/tpm scripts: tests/lib.sh, checks of a command's exit and stderr, and an
# swtpm of their own on free ports. The sourcing script sets top (the repository) and calls
# tpm_test_start.
. "$top/tests/lib.sh"
swtpm_pid=

# tpm_test_start NAME: test_start's BUILD, V and tmp; the swtpm this script started stops at exit.
tpm_test_start() {
	test_start "$1"
	trap 'stop_swtpm; rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
}

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

# record N TYPE CONTENT: one measurement-log line (sha256 bank, PCR 23), as vigild writes it.
record() {
	local d
	d=$(printf '%s' "$3" | sha256sum | cut -c1-64)
	jq -cn --argjson n "$1" --arg t "$2" --arg c "$3" --arg d "$d" \
		'{recnum:$n,pcr:23,digests:[{hashAlg:"sha256",digest:$d}],content_type:$t,content:$c}'
}
# extend_log FILE: PCR 23 reset, then every record's digest extended, as vigild would have.
extend_log() {
	tpm2_pcrreset 23 > /dev/null
	jq -r '.digests[] | select(.hashAlg == "sha256") | .digest' "$1" |
		while read -r d; do tpm2_pcrextend "23:sha256=$d" > /dev/null; done
}
