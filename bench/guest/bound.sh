# Guest side of bench/bound-bench.sh: prints "result CONFIG LOOP NS_PER_OP" lines and the kernel's
# timing of each program. This shell is the platform (root cgroup); the loops run inside the
# policy's scope (/bench), put there by the platform. Pairs of rounds without and with vigild,
# then one round with kernel.bpf_stats_enabled (its clock reads would skew the timed rounds).
. /bench/lib.sh
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
P=/t/boundprobe
V=/t/vtest
mkdir -p /sys/fs/cgroup/bench /tmp/a/b/c/d
echo x > /tmp/a/b/c/d/f
echo x > /tmp/c
inside() { sh -c 'echo $$ > /sys/fs/cgroup/bench/cgroup.procs && exec "$@"' _ "$@"; }
loop() {
	echo "result $1 chown $(inside $P chown-loop /tmp/c "$N")"
	echo "result $1 open $(inside $V open-loop /tmp/a/b/c/d/f "$N")"
}
start_vigild() {
	rm -f /run/vigil/bench-ready
	vigild --policy /bench/bound.policy.json --event-log /tmp/bench-events.jsonl \
		--ready-file /run/vigil/bench-ready > /tmp/vigild.log 2>&1 &
	echo $! > /run/bench-vigild.pid
	wait_ready 1200
	inside hostname x 2> /dev/null && { echo "CAP_SYS_ADMIN was not refused in the scope"; exit 1; }
}
stop_vigild() {
	kill -TERM "$(cat /run/bench-vigild.pid)"
	while kill -0 "$(cat /run/bench-vigild.pid)" 2> /dev/null; do usleep 100000; done
	# Stopping vigild leaves its programs enforcing: the platform unloads them for the baseline.
	vigild --unload > /tmp/unload.log 2>&1 || { echo "vigild --unload failed"; cat /tmp/unload.log; exit 1; }
	sed -n 's/^vigild: program \([a-z_]*\): \([0-9]*\) runs, \([0-9]*\) ns in all.*/progstat \1 \2 \3/p' /tmp/vigild.log
}
loop warmup > /dev/null
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
loop stats
stop_vigild
echo 0 > /proc/sys/kernel/bpf_stats_enabled
