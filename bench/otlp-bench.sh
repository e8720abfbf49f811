#!/usr/bin/env bash
# OTLP export benchmark (host): the exporter of exporters/ against a loopback receiver
# (tests/otlp/receiver.js: --discard answers at once; the decoding receiver runs the
# OpenTelemetry JavaScript decoder on every request). The records are written by vigild's own
# ring-buffer consumer path (agent_event_format into the audit queue), so the pipeline's CPU
# measured next to the exporter's is vigild's. Five figures:
#  1. backlog: N records already in the log, the exporter drains them: records/s and the exporter
#     thread's CPU per 1,000 records (CLOCK_THREAD_CPUTIME_ID of that thread alone);
#  1b. follow: N records written at the pipeline's full rate while the exporter follows, with
#     the writer's tap (8M) and without; exporter and pipeline CPU per record, same runs;
#  1c. floor: the audit pipeline alone (FLOOR_RECORDS records, process CPU per record) against
#     the exporter's two per-record steps that no transport or follower change removes, timed
#     alone on the same log (bench/otlp_scan): writing the log records, and gzip (ISA-L level 1);
#  2. steady state: RATE records/s written for LIVE s while the exporter follows;
#  3. outage: RATE records/s for 2 x OUTAGE s, the receiver down for the first OUTAGE s; how
#     long after it is back the exporter is caught up (behind by < 0.1 s of records).
# Results land in BUILD/bench/otlp.md (copy into docs/BENCHMARKS.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
cd "$top"
case $BUILD in /*) babs=$BUILD ;; *) babs=$top/$BUILD ;; esac
N=${OTLP_BENCH_RECORDS:-200000}
RATE=${OTLP_BENCH_RATE:-10000}
LIVE=${OTLP_BENCH_LIVE_S:-20}
OUTAGE=${OTLP_BENCH_OUTAGE_S:-60}
make -s "$BUILD/bench/otlp_export" "$BUILD/bench/otlp_scan"
scripts/otlp-npm.sh "$babs/npm"
export OTLP_NODE_MODULES=$babs/npm/node_modules
X=$BUILD/bench/otlp_export
out=$BUILD/bench/otlp.md
work=$(mktemp -d "${TMPDIR:-/var/tmp}/vigil-otlp-bench.XXXXXX")
rx_pid=
trap '[ -n "$rx_pid" ] && kill "$rx_pid" 2>/dev/null; rm -rf "$work"' EXIT

rx_start() { # rx_start [--discard 1]
	rm -f "$work/port"
	node tests/otlp/receiver.js --port-file "$work/port" --out "$work/rx.$RANDOM" "$@" > /dev/null 2>&1 &
	rx_pid=$!
	for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
	port=$(cat "$work/port")
}
rx_stop() { kill "$rx_pid" 2>/dev/null; wait "$rx_pid" 2>/dev/null || true; rx_pid=; }

# backlog NAME SPEC [receiver args]: one table row (records: $n, default $N).
backlog() {
	local name=$1 spec=$2
	shift 2
	rm -rf "$work/b"
	mkdir -p "$work/b"
	# The audit pipeline alone (writer thread, SHA-256 chain, io_uring, group commit): its rate.
	"$X" --records "${n:-$N}" "$work/b/log" "$work/b/state" > "$work/w.out"
	jq -r '"\(.records) \(.records / .write_s | floor) \((.cpu_s * 1e6 / .records * 100 | floor) / 100)"' "$work/w.out" >> "$work/writer"
	rx_start "$@"
	"$X" --otlp "endpoint=http://127.0.0.1:$port,metrics-ms=0,$spec" --records 0 --wait-ms 600000 \
		"$work/b/log" "$work/b/state" > "$work/b.out"
	rx_stop
	jq -r --arg name "$name" \
		'"| \($name) | \(.exported) | \(.catchup_s) | \((.exported / .catchup_s) | floor) | \((.exporter_cpu_s * 1e6 / .exported * 100 | floor) / 100) | \((.bytes / .exported * 10 | floor) / 10) |"' \
		"$work/b.out"
}

FN=${OTLP_BENCH_FOLLOW_RECORDS:-1000000}
PARTS=${OTLP_BENCH_PARTS:-backlog follow floor live outage} # a subset: OTLP_BENCH_PARTS=outage
: > "$out.tmp"
case " $PARTS " in *" backlog "*) {
	echo "OTLP export, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
	echo
	echo "**Backlog** ($N event records in the log, then the exporter drains them; batch=512, catch-up requests of up to 1024)"
	echo
	echo "| configuration | records | seconds | records/s | exporter thread CPU per 1,000 records (ms) | bytes sent per record |"
	echo "|---|---|---|---|---|---|"
	backlog "protobuf + gzip, receiver answers at once" "" --discard 1
	backlog "protobuf, no gzip, receiver answers at once" "gzip=off" --discard 1
	backlog "JSON + gzip, receiver answers at once" "protocol=json" --discard 1
	backlog "protobuf + gzip, receiver decodes (OpenTelemetry JS decoder)" ""
	backlog "protobuf + gzip, requests of 512 (catchup-batch=512)" "catchup-batch=512" --discard 1
	n=$((RATE * OUTAGE)) backlog "protobuf + gzip, $((RATE * OUTAGE)) records (${OUTAGE} s at $RATE/s)" "" --discard 1
	echo
	echo "**Audit pipeline, same runs** (the records above written by the audit writer alone: writer thread, SHA-256 chain, io_uring, group commit; process CPU):"
	echo
	echo "| records | records/s written | CPU per 1,000 records (ms) |"
	echo "|---|---|---|"
	awk '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$work/writer"
} > "$out.tmp" ;; esac

case " $PARTS " in *" follow "*)
# Following at full rate: the pipeline writes as fast as it can (no --rate) while the exporter
# follows in the same process, as in vigild; tap=8M (vigild's default) against tap=0 (every
# record read back from the file), alternated FOLLOW_RUNS times. Pipeline CPU = the process's
# CPU minus the exporter thread's.
rx_start --discard 1
for i in $(seq "${OTLP_BENCH_FOLLOW_RUNS:-4}"); do
	for tap in 8M 0; do
		rm -rf "$work/f"
		mkdir -p "$work/f"
		"$X" --otlp "endpoint=http://127.0.0.1:$port,metrics-ms=0" --audit "tap=$tap" --records "$FN" \
			--wait-ms 600000 "$work/f/log" "$work/f/state" > "$work/f.out"
		jq -r --arg tap "$tap" '"| \($tap) | \(.exported) | \(.write_s) | \(.catchup_s) | \((.exporter_cpu_s * 1e6 / .exported * 100 | floor) / 100) | \(((.cpu_s - .exporter_cpu_s) * 1e6 / .exported * 100 | floor) / 100) | \(((.exporter_cpu_s / (.cpu_s - .exporter_cpu_s)) * 100 | floor) / 100) | \(.from_tap) | \(.from_file) |"' "$work/f.out" >> "$work/follow"
	done
done
rx_stop
{
	echo
	echo "**Following at full rate** ($FN records written as fast as the pipeline goes while the exporter follows, protobuf + gzip; tap 8M = vigild's default, 0 = every record read back from the file and re-hashed):"
	echo
	echo "| tap | records | write s | caught up s after | exporter CPU per 1,000 (ms) | pipeline CPU per 1,000 (ms) | exporter / pipeline | from tap | from file |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$work/follow"
} >> "$out.tmp" ;; esac

case " $PARTS " in *" floor "*)
# The floor: the pipeline alone, then the exporter's record writing and gzip alone on its log,
# FLOOR_RUNS times. Neither step depends on how records reach the exporter or leave it.
for i in $(seq "${OTLP_BENCH_FLOOR_RUNS:-3}"); do
	rm -rf "$work/p"
	mkdir -p "$work/p"
	"$X" --records "$FN" "$work/p/log" "$work/p/state" > "$work/p.out"
	"$BUILD/bench/otlp_scan" --passes 5 --gzip 1 "$work/p/log"/audit.*.jsonl > "$work/s.out"
	pipe=$(jq -r '.cpu_s * 1e6 / .records' "$work/p.out")
	awk -v pipe="$pipe" '/^records/ { w = $4 / 1000 } /^gzip level/ { z = $5 / 1000; b = $10 }
		END { printf "| %.2f | %.2f | %.2f | %.2f | %.1f |\n", pipe, w, z, (w + z) / pipe, b }' \
		"$work/s.out" >> "$work/floor"
done
{
	echo
	echo "**Floor** ($FN records; the pipeline alone, process CPU; then the exporter's own steps timed alone on that log, best of 5 passes: writing each record's OTLP log record from its line, and gzip of 1,024 at a time, ISA-L level 1):"
	echo
	echo "| pipeline CPU per record (µs) | write log records (µs) | gzip (µs) | write + gzip / pipeline | gzip bytes per record |"
	echo "|---|---|---|---|---|"
	cat "$work/floor"
} >> "$out.tmp" ;; esac

case " $PARTS " in *" live "*)
# Steady state: RATE/s for LIVE s, the exporter following.
rm -rf "$work/l"
mkdir -p "$work/l"
rx_start --discard 1
"$X" --otlp "endpoint=http://127.0.0.1:$port,metrics-ms=10000" --records $((RATE * LIVE)) --rate "$RATE" \
	"$work/l/log" "$work/l/state" > "$work/l.out"
rx_stop
{
	echo
	echo "**Steady state**: $RATE records/s for $LIVE s, exporter following:" \
		"$(jq -r '"\(.exported) records exported, exporter thread \(.exporter_cpu_s) s CPU = \((.exporter_cpu_s * 1e6 / .exported * 1000 | floor) / 1000) ms per 1,000 records (\((.exporter_cpu_s / '"$LIVE"' * 1000 | floor) / 10) % of one core), caught up \(.catchup_s) s after the last write"' "$work/l.out")."
} >> "$out.tmp" ;; esac

case " $PARTS " in *" outage "*)
# Outage: the receiver down for OUTAGE s while RATE/s are written, then up for OUTAGE s more.
rm -rf "$work/o"
mkdir -p "$work/o"
rx_start --discard 1
"$X" --otlp "endpoint=http://127.0.0.1:$port,metrics-ms=0" --records $((RATE * OUTAGE * 2)) --rate "$RATE" \
	--progress --wait-ms 600000 "$work/o/log" "$work/o/state" > "$work/o.out" 2> "$work/o.err" &
xp=$!
sleep 0.2
curl -s "http://127.0.0.1:$port/down?ms=$((OUTAGE * 1000))" > /dev/null
down_at=$(awk '/^progress/ { t = $2 } END { print t + 0 }' "$work/o.err")
wait "$xp"
rx_stop
# Back up at down_at + OUTAGE; caught up: the first report after that less than 0.1 s of
# records behind.
awk -v down="$down_at" -v outage="$OUTAGE" -v rate="$RATE" 'BEGIN { up = down + outage }
	/^progress/ { lag = $3 - $4; if (lag > peak) peak = lag
		if ($2 > up && !done && lag < rate / 10) { done = $2 - up }
		if (!backlog_up && $2 > up) backlog_up = lag
		if ($3 > last_head) { last_head = $3; head_t = $2 } }
	END { printf "\n**Outage**: %d records/s, receiver down %s s: peak backlog %d records, %d behind when it came back; caught up %.1f s after the receiver came back (behind by less than 0.1 s of records); the writer wrote its last record %.1f s after the start (%.1f s after the receiver came back).\n", rate, "'"$OUTAGE"'", peak, backlog_up, done, head_t, head_t - up }' \
	"$work/o.err" >> "$out.tmp"
jq -r '"Outage run totals: \(.exported) records exported, \(.retries) retries during the outage, exporter thread \(.exporter_cpu_s) s CPU."' "$work/o.out" >> "$out.tmp"
;; esac
mv "$out.tmp" "$out"
cat "$out"
