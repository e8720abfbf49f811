#!/usr/bin/env bash
# Audit pipeline benchmark (host): synthetic ring-buffer events -> JSON -> chain -> durable file.
# Runs build/bench/audit_pipeline REPS times per configuration and reports the median;
# results land in BUILD/bench/audit.md (copy the table into docs/BENCHMARKS.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
EVENTS=${AUDIT_BENCH_EVENTS:-1000000}
REPS=${AUDIT_BENCH_REPS:-5}
cd "$top"
make -s "$BUILD/bench/audit_pipeline"
mkdir -p "$BUILD/bench"
out=$BUILD/bench/audit.md
work=$(mktemp -d "${TMPDIR:-/var/tmp}/vigil-audit-bench.XXXXXX")
shm=
[ -d /dev/shm ] && shm=$(mktemp -d /dev/shm/vigil-audit-bench.XXXXXX)
trap 'rm -rf "$work" ${shm:+"$shm"}' EXIT

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# run NAME DIR [AUDIT-OPTS]: prints one table row of medians.
run() {
	local name=$1 dir=$2 opts=${3:-} i
	: > "$work/rows"
	for i in $(seq "$REPS"); do
		rm -rf "$dir/run"
		"$BUILD/bench/audit_pipeline" --events "$EVENTS" --dir "$dir/run" ${opts:+--audit "$opts"} \
			> "$work/out" || { echo "audit-bench: run failed:"; cat "$work/out"; exit 1; }
		awk '/^format/ { f = $(NF-6) } /^chain/ { c = $(NF-6) } /^pipeline/ { p = $(NF-6); w = $(NF-9) }
			/^log:/ { ok = ($0 ~ /verify: ok/ && $0 ~ /queue drops 0, write drops 0/) }
			END { print f, c, p, w, ok }' "$work/out" >> "$work/rows"
	done
	local f c p w ok
	f=$(cut -d' ' -f1 "$work/rows" | median)
	c=$(cut -d' ' -f2 "$work/rows" | median)
	p=$(cut -d' ' -f3 "$work/rows" | median)
	w=$(cut -d' ' -f4 "$work/rows" | median)
	ok=$(awk '{ s += $5 } END { print s }' "$work/rows")
	printf '| %s | %s | %s | %s | %s | %s/%s |\n' "$name" "$f" "$c" "$p" "$w" "$ok" "$REPS"
}

{
	echo "Audit pipeline, $EVENTS events per run, median of $REPS runs, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
	echo
	echo "| configuration | format ev/s/core | chain ev/s/core | pipeline ev/s/core | pipeline ev/s wall | verified, 0 drops |"
	echo "|---|---|---|---|---|---|"
	run "disk ($(df --output=fstype "$work" | tail -n 1)), defaults fsync=512/20ms" "$work"
	run "disk, fsync=8192/100ms" "$work" "fsync=8192,fsync-ms=100"
	[ -n "$shm" ] && run "tmpfs (/dev/shm), defaults" "$shm"
} | tee "$out"
