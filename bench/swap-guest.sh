#!/bin/sh
# Guest half of bench/swap-host.sh: push each bundle, read vigild's own timings and its RSS.
# Output: "swap RULES RUN PUSH_WALL_S VERIFY_MS APPLY_MS RSS_KB HWM_KB HASHED" per push (HASHED:
# files vigild read, "-" from a vigild that does not report it), then "phases RULES RUN ..." (the
# apply phases vigild logs), "check RULES S", and "calib RULES DV PARSE RESOLVE" (ms): the same
# user-space code as the host's native run (/swap_native, nohash), to measure the TCG factor.
pid=$(cat /run/vigild.pid)
kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/$pid/status; }
outside() { sh -c 'echo $$ > /sys/fs/cgroup/cgroup.procs && exec "$@"' _ "$@"; }
echo "baseline rss_kb=$(kb VmRSS) (vigild enforcing the 1-rule initial bundle)"
for n in $1; do
	for run in 1 2; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		outside vigil policy push /gen/b/$n-$run.json > /tmp/push.out 2>&1 || cat /tmp/push.out
		t1=$(cut -d' ' -f1 /proc/uptime)
		last=$(grep '"type":"policy_loaded"' /out/events.jsonl | tail -1)
		verify=$(echo "$last" | sed 's/.*"verify_ms":\([0-9.]*\).*/\1/')
		apply=$(echo "$last" | sed 's/.*"apply_ms":\([0-9.]*\).*/\1/')
		hashed=$(echo "$last" | sed -n 's/.*"exec_hashed":\([0-9]*\).*/\1/p')
		echo "swap $n $run $(awk "BEGIN { print $t1 - $t0 }") ${verify%.*} ${apply%.*} $(kb VmRSS) $(kb VmHWM) ${hashed:--}"
		echo "phases $n $run $(grep 'apply phases' /out/vigild.log | tail -1 | sed 's/.*apply phases (ms): //')"
	done
done
# The user-space share of apply: resolve and hash every rule's file, no BPF maps (vigil policy check).
for n in $1; do
	t0=$(cut -d' ' -f1 /proc/uptime)
	outside vigil policy check /gen/b/$n-1.json > /dev/null 2>&1
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "check $n $(awk "BEGIN { print $t1 - $t0 }")"
done
# Calibration: decode + verify, parse and resolve in this guest, three times each (the host
# script takes the median), with vigild idle.
if [ -x /swap_native ]; then
	for n in $1; do
		for i in 1 2 3; do
			outside /swap_native /gen/trust "" /gen/b/$n-1.json /gen/b/$n-2.json nohash |
				sed "s/^native [0-9]* /calib $n /"
		done
	done
fi
