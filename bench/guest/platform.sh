# Guest side of bench/platform-bench.sh: prints "result CONFIG WHERE LOOP NS_PER_OP" lines, pairs
# of rounds without and with vigild (unloaded by the platform after each), then one round with
# the kernel timing each program (kernel.bpf_stats_enabled, off in the timed rounds).
. /bench/lib.sh
inside() { sh -c 'echo $$ > /sys/fs/cgroup/bench/cgroup.procs && exec "$@"' _ "$@"; }
mkdir -p /sys/fs/cgroup/bench /tmp/cl-in /tmp/cl-out
/t/createloop /tmp/cl-out "$N" > /dev/null || exit 1 # warm-up
loop() {
	inside /t/createloop /tmp/cl-in "$N" | sed "s/^/result $1 in /"
	/t/createloop /tmp/cl-out "$N" | sed "s/^/result $1 out /"
}
start_vigild() {
	rm -f /run/vigil/bench-ready
	sh -c 'vigild --policy /bench/platform.policy.json --event-log /tmp/bench-events.jsonl \
		--ready-file /run/vigil/bench-ready > /tmp/vigild.log 2>&1 & echo $! > /run/bench-vigild.pid'
	wait_ready 1200
}
stop_vigild() {
	kill -TERM "$(cat /run/bench-vigild.pid)"
	while kill -0 "$(cat /run/bench-vigild.pid)" 2> /dev/null; do usleep 100000; done
	vigild --unload > /tmp/unload.log 2>&1 || { echo "vigild --unload failed"; cat /tmp/unload.log; exit 1; }
	sed -n 's/^vigild: program \([a-z_]*\): \([0-9]*\) runs, \([0-9]*\) ns in all.*/progstat \1 \2 \3/p' /tmp/vigild.log
}
r=0
while [ $r -lt "$ROUNDS" ]; do
	loop baseline
	start_vigild
	loop vigil
	stop_vigild
	r=$((r + 1))
done
echo 1 > /proc/sys/kernel/bpf_stats_enabled
start_vigild
loop stats > /dev/null
stop_vigild
echo 0 > /proc/sys/kernel/bpf_stats_enabled
