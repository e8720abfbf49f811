#!/usr/bin/env bash
# Host side of the otlpfwd suite, around the guest (tests/run-vm.sh): `start DIR` starts the
# OpenTelemetry-decoding receiver (tests/otlp/receiver.js) on 127.0.0.1 and prints the
# vigil-vm argument that forwards the guest's 10.0.2.100:4318 to it; `stop DIR` ends it.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/build}
dir=$2
case $1 in
start)
	"$top/scripts/otlp-npm.sh" "$BUILD/npm" > "$dir/npm.log" 2>&1
	rm -f "$dir/port"
	OTLP_NODE_MODULES=$BUILD/npm/node_modules node "$top/tests/otlp/receiver.js" \
		--port-file "$dir/port" --out "$dir/rx" --forward 1 < /dev/null > "$dir/receiver.log" 2>&1 &
	echo $! > "$dir/pid"
	for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
	[ -s "$dir/port" ] || { cat "$dir/receiver.log" >&2; exit 1; }
	echo "--otlp-forward $(cat "$dir/port")"
	;;
stop)
	[ -s "$dir/pid" ] && kill "$(cat "$dir/pid")" 2> /dev/null
	rm -f "$dir/pid"
	;;
esac
