# Guest side of bench/exec-bench.sh: prints "result CONFIG NS_PER_EXEC" lines. Under
# VIGIL_VM_ICOUNT the guest clock counts instructions, so "ns" are guest instructions per
# fork+exec+wait, and with one vCPU everything vigild does meanwhile (its consumer, the audit
# writer) is counted in the loop it runs beside.
# Each round: no agent; vigild enforcing; vigild enforcing but stopped (SIGSTOP from the
# platform: the BPF programs and the ring buffer alone, no consumer), then vigild resumes,
# drains, and is stopped. Then one round with the kernel timing each program.
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
stop_vigild() {
	kill -TERM $VPID
	wait $VPID
	# Stopping vigild leaves its programs enforcing: the platform unloads them for the baseline.
	vigild --unload > /tmp/unload.log 2>&1 || { echo "vigild --unload failed"; cat /tmp/unload.log; exit 1; }
	sed -n 's/^vigild: program \([a-z_]*\): \([0-9]*\) runs, \([0-9]*\) ns in all.*/progstat \1 \2 \3/p' /tmp/vigild.log
}
logged() {
	n=$(grep -c '"rule":"true-copy"' /var/log/vigil/bench-events.jsonl 2> /dev/null)
	echo "${n:-0}"
}
run_loop > /dev/null # warm-up: page cache, first-exec costs
r=1
while [ $r -le $ROUNDS ]; do
	echo "result baseline $(run_loop)"
	start_vigild
	echo "result vigild $(run_loop)"
	kill -STOP $VPID
	echo "result bpf-only $(run_loop)"
	kill -CONT $VPID
	# Every allowed exec is logged: wait (bounded) until the stopped round's events are in.
	i=0
	while [ "$(logged)" -lt $((r * 2 * N)) ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
	stop_vigild > /dev/null
	r=$((r + 1))
done
echo 1 > /proc/sys/kernel/bpf_stats_enabled
start_vigild
run_loop > /dev/null
i=0
while [ "$(logged)" -lt $(((ROUNDS * 2 + 1) * N)) ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
stop_vigild
echo 0 > /proc/sys/kernel/bpf_stats_enabled
echo "events $(logged) expected $(((ROUNDS * 2 + 1) * N))"
echo "deny $(grep -c '"verdict":"deny"' /var/log/vigil/bench-events.jsonl)"
