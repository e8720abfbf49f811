#!/usr/bin/env bash
# Host test: `vigil doctor`'s exporter line. No `otlp` configured: ok, nothing asked. A receiver
# (tests/otlp/receiver.js, the OpenTelemetry project's decoder) that answers: ok, and the
# receiver saw one empty /v1/logs request. One that answers 400 or 401: FAIL with the fix for
# that answer. Nothing listening: FAIL, unreachable, with its fix. The other checks' lines are
# not asserted here (the host has no pins); doctor exits 1 for them, and for the exporter too.
set -uo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
cd "$top" || exit 1
make -s "$BUILD/vigil" > /dev/null || exit 1
case $BUILD in /*) babs=$BUILD ;; *) babs=$top/$BUILD ;; esac
scripts/otlp-npm.sh "$babs/npm" || { echo "not ok - npm install of the decoder"; exit 1; }
export OTLP_NODE_MODULES=$babs/npm/node_modules
V=$babs/vigil
tmp=$(mktemp -d)
rx_pid=
cleanup() {
	[ -n "$rx_pid" ] && kill "$rx_pid" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0
check() { # check NAME STATUS
	if [ "$2" = 0 ]; then echo "ok - $1"; pass=$((pass + 1)); else
		echo "not ok - $1: $(grep exporter "$tmp/out")"; fail=$((fail + 1)); fi
}
rx_start() { # rx_start NAME [FAULTS]: sets $port
	rm -f "$tmp/port"
	node tests/otlp/receiver.js --port-file "$tmp/port" --out "$tmp/$1" ${2:+--faults "$2"} \
		> "$tmp/$1.log" 2>&1 &
	rx_pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	port=$(cat "$tmp/port")
}
rx_stop() { kill "$rx_pid" 2> /dev/null; wait "$rx_pid" 2> /dev/null; rx_pid=; }
doctor() { # doctor [OTLP_SPEC]: doctor's output in $tmp/out, its exit status in $rc
	: > "$tmp/vigild.conf"
	[ -n "${1:-}" ] && echo "otlp = $1" > "$tmp/vigild.conf"
	"$V" doctor --config "$tmp/vigild.conf" > "$tmp/out" 2> "$tmp/err"
	rc=$?
}
line() { grep -E "^$1 +exporter " "$tmp/out"; }

doctor
line 'ok  ' | grep -q 'no OTLP export configured'
check "no otlp configured: the exporter line is ok and says so" $?

rx_start up
doctor "endpoint=http://127.0.0.1:$port"
line 'ok  ' | grep -q "http://127.0.0.1:$port answers (HTTP 200)"
check "a receiver that answers: ok, HTTP 200" $?
n=$(wc -l < "$tmp/up/requests.jsonl")
jq -e 'select(.path == "/v1/logs" and .records == 0 and .gzip == true)' "$tmp/up/requests.jsonl" > /dev/null
check "... it received exactly one empty, gzipped /v1/logs request ($n)" $(($? + n - 1))
doctor "endpoint=http://127.0.0.1:$port,protocol=json,gzip=off"
line 'ok  ' | grep -q "answers (HTTP 200)"
check "... and as OTLP/JSON without gzip" $?
rx_stop

rx_start refuse 400,401
doctor "endpoint=http://127.0.0.1:$port"
line FAIL | grep -q "refused an empty log request: answered HTTP 400 .*-- fix: check the endpoint's path"
check "a receiver answering 400: FAIL with the fix for a wrong endpoint" $?
[ "$rc" = 1 ]
check "... doctor exits 1 ($rc)" $?
doctor "endpoint=http://127.0.0.1:$port"
line FAIL | grep -q "answered HTTP 401 .*-- fix: set the receiver's credentials"
check "a receiver answering 401: FAIL with the fix for credentials" $?
rx_stop

# The port the receiver just left: nothing listens there now.
doctor "endpoint=http://127.0.0.1:$port"
line FAIL | grep -q "http://127.0.0.1:$port unreachable: .*-- fix: start the receiver or correct 'otlp endpoint='"
check "nothing listening: FAIL, unreachable, with its fix" $?

doctor "endpoint=http://127.0.0.1:$port,gzip=maybe"
line FAIL | grep -q "otlp: .*gzip.*-- fix: correct 'otlp' in the config"
check "a bad otlp value: FAIL naming it, with its fix" $?

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
