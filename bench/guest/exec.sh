# Guest side of the exec benchmark: alternates rounds without and with vigild in one boot.
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
mkdir -p /sys/fs/cgroup/workload
run_loop() {
	sh -c 'echo $$ > /sys/fs/cgroup/workload/cgroup.procs && exec /bench/bin/execloop "$1" /opt/true' _ "$N"
}
start_vigild() {
	rm -f /run/vigil/ready
	vigild --policy /bench/exec.policy.json --event-log /var/log/vigil/bench-events.jsonl \
		--ready-file /run/vigil/ready > /tmp/vigild.log 2>&1 &
	VPID=$!
	while [ ! -e /run/vigil/ready ]; do
		kill -0 $VPID 2>/dev/null || { cat /tmp/vigild.log; exit 1; }
		usleep 50000
	done
}
run_loop > /dev/null # warm-up: page cache, first-exec costs
r=1
while [ $r -le $ROUNDS ]; do
	echo "baseline $(run_loop)"
	start_vigild
	echo "vigild $(run_loop)"
	kill -TERM $VPID
	wait $VPID
	r=$((r + 1))
done
echo "events $(grep -c '"rule":"true-copy"' /var/log/vigil/bench-events.jsonl)"
