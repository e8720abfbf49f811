# Guest side of bench/enforce-bench.sh: prints "result CONFIG LOOP NS_PER_OP" lines.
# Order: pairs of rounds without and with vigild (started, then unloaded by the platform as an
# operator would), then one round with the kernel timing each program (kernel.bpf_stats_enabled,
# which adds its own clock reads to every run, so it is off in the timed rounds), then the
# kernel audit rounds last (audit cannot be fully switched off once enabled). Under
# VIGIL_VM_ICOUNT the guest clock counts instructions: "ns" are instructions, and rounds repeat.
. /bench/lib.sh
N_OPEN=${N_OPEN:-20000}
N_CONN=${N_CONN:-3000}
ROUNDS=${ROUNDS:-3}
N_AB=${N_AB:-5000}
N_AB_CONN=${N_AB_CONN:-1000}
B=/t/vtest
# This shell is the platform (root cgroup): the scope cannot leave itself (bpf/bound.bpf.h), so
# the platform places each loop in the scope.
inside() { sh -c 'echo $$ > /sys/fs/cgroup/bench/cgroup.procs && exec "$@"' _ "$@"; }

mkdir -p /sys/fs/cgroup/bench /tmp/bench
ip link set lo up
$B mkfiles /tmp/bench "$N_RULES" || exit 1
echo x > /tmp/bench/target
inside $B open-loop /tmp/bench/target "$N_OPEN" > /dev/null # warm-up
inside $B connect-loop 127.0.0.1 9 "$N_CONN" > /dev/null

loop() {
	echo "result $1 open $(inside $B open-loop /tmp/bench/target "$N_OPEN")"
	[ "$2" = open-only ] || echo "result $1 connect $(inside $B connect-loop 127.0.0.1 9 "$N_CONN")"
}
# ab KIND N: the marginal cost of the rules, the same loop in the scope and outside it, in the
# order in-out, out-in, ... so drift cancels: "in NS out NS" per round.
ab() {
	case $1 in
	open) set -- "open-loop /tmp/bench/target" "$2" ;;
	connect) set -- "connect-loop 127.0.0.1 9" "$2" ;;
	esac
	k=0
	while [ $k -lt 4 ]; do
		if [ $((k % 2)) = 0 ]; then
			t_in=$(inside $B $1 "$2")
			t_out=$($B $1 "$2")
		else
			t_out=$($B $1 "$2")
			t_in=$(inside $B $1 "$2")
		fi
		echo "in $t_in out $t_out"
		k=$((k + 1))
	done
}
start_vigild() {
	rm -f /run/vigil/bench-ready
	t0=$(date +%s)
	sh -c 'vigild --policy /bench/enforce.policy.json --event-log /tmp/bench-events.jsonl \
		--ready-file /run/vigil/bench-ready > /tmp/vigild.log 2>&1 & echo $! > /run/bench-vigild.pid'
	wait_ready 1200
	echo "vigild ready in $(($(date +%s) - t0)) s: $(grep -E "enforcing|BPF object loaded" /tmp/vigild.log | tr "\n" " ")"
	inside $B open-loop /tmp/bench/f0 1 > /dev/null 2>&1 && { echo "a file rule did not deny"; exit 1; }
	inside $B connect 10.100.0.7 80 2> /dev/null && { echo "a CIDR rule did not deny"; exit 1; }
}
stop_vigild() {
	kill -TERM "$(cat /run/bench-vigild.pid)"
	while kill -0 "$(cat /run/bench-vigild.pid)" 2> /dev/null; do usleep 100000; done
	# Stopping vigild leaves its programs enforcing: the platform unloads them for the baseline.
	vigild --unload > /tmp/unload.log 2>&1 || { echo "vigild --unload failed"; cat /tmp/unload.log; exit 1; }
	# The kernel's own timing of each program (kernel.bpf_stats_enabled), logged at stop.
	sed -n 's/^vigild: program \([a-z_]*\): \([0-9]*\) runs, \([0-9]*\) ns in all.*/progstat \1 \2 \3/p' /tmp/vigild.log
}

# Pairs: a round without, then a round with vigild, close in time, so each pair sees the same
# host load; vigild is started and stopped (unloaded) by the platform around each.
r=0
while [ $r -lt "$ROUNDS" ]; do
	loop baseline
	start_vigild
	loop vigil
	# The marginal cost of the rules: the same loop inside and outside the scope, interleaved.
	ab open "$N_AB" | sed 's/^/result-ab open /'
	ab connect "$N_AB_CONN" | sed 's/^/result-ab connect /'
	stop_vigild
	r=$((r + 1))
done
# The kernel's own timing of each program: one more run, not compared with anything.
echo 1 > /proc/sys/kernel/bpf_stats_enabled
start_vigild
loop stats > /dev/null
# socket_sendmsg with a destination (UDP sendto, allowed by the loopback rule): one per process.
i=0
while [ $i -lt 100 ]; do
	inside $B sendto 127.0.0.1 9 || echo "sendto to loopback failed"
	i=$((i + 1))
done
stop_vigild
echo 0 > /proc/sys/kernel/bpf_stats_enabled
$B audit-watch /tmp/bench "$N_RULES" || exit 1
r=0
while [ $r -lt "$ROUNDS" ]; do
	loop audit open-only
	r=$((r + 1))
done
$B audit-off
echo "events logged by vigild in its last run: $(wc -l < /tmp/bench-events.jsonl)"
