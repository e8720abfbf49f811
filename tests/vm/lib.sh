# Guest-side helpers for VM test suites (sourced by tests/vm/*.sh inside the guest).
# Each assertion prints one TAP-style line; `finish` prints "N passed, N failed" and sets the status.
EVENTS=${EVENTS:-/out/events.jsonl}
T_PASS=0
T_FAIL=0
T_OPEN=0

ok() {
	T_PASS=$((T_PASS + 1))
	echo "ok - $1"
}

not_ok() {
	T_FAIL=$((T_FAIL + 1))
	echo "not ok - $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}

# known_open NAME CMD...: a route docs/THREAT-MODEL.md lists as open. CMD asserts the secure
# outcome (exit 0 when the route is closed). While it still fails, the case is reported as
# "open" and counted apart (neither passed nor failed); once it succeeds the case fails, so
# that it is turned back into an assertion and the threat model updated.
known_open() {
	name=$1
	shift
	if "$@" > /tmp/.out 2> /tmp/.err; then
		not_ok "$name" "known_open, but the route is closed now: make it an assertion, update THREAT-MODEL"
	else
		T_OPEN=$((T_OPEN + 1))
		echo "open - $name (a known open route, docs/THREAT-MODEL.md)"
	fi
}

# expect_rc NAME WANT CMD...: CMD's exit status is WANT.
expect_rc() {
	name=$1 want=$2
	shift 2
	"$@" > /tmp/.out 2> /tmp/.err
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else not_ok "$name" "exit $rc, want $want" "$(head -c 300 /tmp/.err)"; fi
}

# expect_eperm NAME CMD...: CMD fails and reports EPERM ("Operation not permitted").
expect_eperm() {
	name=$1
	shift
	"$@" > /tmp/.out 2> /tmp/.err
	rc=$?
	if [ "$rc" != 0 ] && grep -q "Operation not permitted" /tmp/.err; then
		ok "$name"
	else
		not_ok "$name" "exit $rc, want EPERM" "stderr: $(head -c 300 /tmp/.err)"
	fi
}

# expect_event NAME PATTERN...: within 3 s an event line contains every fixed-string PATTERN.
expect_event() {
	name=$1
	shift
	i=0
	while [ $i -lt 30 ]; do
		cp "$EVENTS" /tmp/.ev 2>/dev/null || : > /tmp/.ev
		for p in "$@"; do
			grep -F -- "$p" /tmp/.ev > /tmp/.ev2
			mv /tmp/.ev2 /tmp/.ev
		done
		if [ -s /tmp/.ev ]; then
			ok "$name"
			return 0
		fi
		usleep 100000
		i=$((i + 1))
	done
	not_ok "$name" "no event with: $*"
	return 1
}

# expect_self_deny NAME PATTERN...: expect_event for a self-protection denial (EPERM).
expect_self_deny() {
	n=$1
	shift
	expect_event "$n" '"type":"self"' '"verdict":"deny"' '"reason":"self_protection"' '"errno":1' "$@"
}

# expect_no_event NAME PATTERN...: after 1 s, no event line contains every PATTERN.
expect_no_event() {
	name=$1
	shift
	sleep 1
	cp "$EVENTS" /tmp/.ev 2>/dev/null || : > /tmp/.ev
	for p in "$@"; do
		grep -F -- "$p" /tmp/.ev > /tmp/.ev2
		mv /tmp/.ev2 /tmp/.ev
	done
	if [ -s /tmp/.ev ]; then not_ok "$name" "unexpected: $(head -c 400 /tmp/.ev)"; else ok "$name"; fi
}

# hammer UNTIL_FILE PATTERN PID: runs the suite's own `attempt` until PATTERN is in UNTIL_FILE or
# PID (the vigild being waited for) has exited, then 5 more times. No fixed cap: a vigild's start
# under TCG on a loaded host (BPF verification, the emulated TPM) took over 180 s, and a test
# that went on while it was still starting raced it (the restart@6.12 flake). The suite's
# --timeout bounds a hang.
hammer() {
	while ! grep -q "$2" "$1" 2> /dev/null && kill -0 "$3" 2> /dev/null; do
		attempt
		usleep 10000 # leave the guest's CPUs to the starting vigild and the TPM driver
	done
	for _ in 1 2 3 4 5; do attempt; done
}

# outside CMD...: runs CMD as the platform, outside every scope cgroup (in the root cgroup); prints
# its stdout and stderr when it ends and returns its status. The scope cannot move itself out (bound.sh
# tests that), so the guest's init runs a platform runner for the tests (tools/guest/init).
outside() {
	_id=$(cat /proc/sys/kernel/random/uuid)
	_q=
	for _a in "$@"; do
		_q="$_q '$(printf '%s' "$_a" | sed "s/'/'\\\\''/g")'"
	done
	printf 'cd %s 2>/dev/null\nexec%s\n' "'$(pwd)'" "$_q" > /run/platform/$_id.sh
	echo "$_id" > /run/platform/req
	while [ ! -e /run/platform/$_id.rc ]; do usleep 20000; done
	cat /run/platform/$_id.out
	cat /run/platform/$_id.err >&2
	_rc=$(cat /run/platform/$_id.rc)
	rm -f /run/platform/$_id.*
	return "$_rc"
}

# start_vigild NAME POLICY: the platform starts vigild on POLICY (events, log and pid file where
# the runner keeps them); NAME passes when it is ready within 180 s.
start_vigild() {
	outside rm -f /run/vigil/ready # vigil's runtime files are the platform's, not the scope's
	outside sh -c 'vigild --policy "$1" --event-log /out/events.jsonl \
		--ready-file /run/vigil/ready >> /out/vigild.log 2>&1 & echo $! > /run/vigild.pid' _ "$2"
	i=0
	while [ ! -e /run/vigil/ready ] && [ $i -lt 1800 ]; do usleep 100000; i=$((i + 1)); done
	expect_rc "$1" 0 test -e /run/vigil/ready
}

finish() {
	[ "$T_OPEN" = 0 ] || echo "$T_OPEN known open routes (docs/THREAT-MODEL.md)"
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" = 0 ]
}
