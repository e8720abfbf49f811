#!/usr/bin/env bash
# Audit pipeline benchmark (host): synthetic ring-buffer events -> JSON -> chain -> durable file.
# Runs build/bench/audit_pipeline REPS times per configuration and reports the median;
# results land in BUILD/bench/audit.md (copy the table into docs/BENCHMARKS.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
BIN=${AUDIT_BENCH_BIN:-$BUILD/bench/audit_pipeline} # another build of the program (before/after)
EVENTS=${AUDIT_BENCH_EVENTS:-1000000}
REPS=${AUDIT_BENCH_REPS:-5}
cd "$top"
make -s "$BUILD/bench/audit_pipeline"
mkdir -p "$BUILD/bench"
out=${AUDIT_BENCH_OUT:-$BUILD/bench/audit.md}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/vigil-audit-bench.XXXXXX")
: > "$work/spread"
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
		"$BIN" --events "$EVENTS" --dir "$dir/run" ${opts:+--audit "$opts"} \
			> "$work/out" || { echo "audit-bench: run failed:"; cat "$work/out"; exit 1; }
		# "NAME (WHAT) WALL events/s wall CORE events/s per core (T us CPU/event: P this
		# thread, W others; S system)": the producer is the calling thread.
		awk '/^format/ { f = $6 } /^chain/ { c = $8 } # "chain (encode + SHA-256)": 3 words
			/^pipeline/ { p = $6; w = $3; t = substr($10, 2); pr = $13; wr = $16; sy = $18
				if ($12 == "CPU/event)") pr = wr = sy = "-" } # an older build: no split
			/^log:/ { ok = ($0 ~ /verify: ok/ && $0 ~ /queue drops 0, write drops 0/) }
			END { print f, c, p, w, ok, t, pr, wr, sy }' "$work/out" >> "$work/rows"
	done
	local f c p w ok t pr wr sy
	f=$(cut -d' ' -f1 "$work/rows" | median)
	c=$(cut -d' ' -f2 "$work/rows" | median)
	p=$(cut -d' ' -f3 "$work/rows" | median)
	w=$(cut -d' ' -f4 "$work/rows" | median)
	ok=$(awk '{ s += $5 } END { print s }' "$work/rows")
	t=$(cut -d' ' -f6 "$work/rows" | median)
	pr=$(cut -d' ' -f7 "$work/rows" | median)
	wr=$(cut -d' ' -f8 "$work/rows" | median)
	sy=$(cut -d' ' -f9 "$work/rows" | median)
	printf '| %s | %s | %s | %s | %s | %s / %s / %s / %s | %s/%s |\n' "$name" "$f" "$c" "$p" "$w" \
		"$t" "$pr" "$wr" "$sy" "$ok" "$REPS"
	awk -v name="$name" '{ printf "%s%s", (NR > 1 ? ", " : "* " name ": "), $3 } END { print "" }' \
		"$work/rows" >> "$work/spread"
}

{
	echo "Audit pipeline, $EVENTS events per run, median of $REPS runs, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
	echo
	echo "| configuration | format ev/s/core | chain ev/s/core | pipeline ev/s/core | pipeline ev/s wall | pipeline µs CPU/event: all / producer / writer+I/O / of which system | verified, 0 drops |"
	echo "|---|---|---|---|---|---|---|"
	run "disk ($(df --output=fstype "$work" | tail -n 1)), defaults fsync=512/20ms" "$work"
	run "disk, fsync=8192/100ms" "$work" "fsync=8192,fsync-ms=100"
	[ -n "$shm" ] && run "tmpfs (/dev/shm), defaults" "$shm"
	echo
	echo "Pipeline events/s per core of every run:"
	echo
	cat "$work/spread"
} | tee "$out"
