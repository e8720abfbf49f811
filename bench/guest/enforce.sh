# Guest side of bench/enforce-bench.sh: prints "result CONFIG LOOP NS_PER_OP" lines.
# Order: no agent, vigild (then unloaded by the platform, as an operator would), no agent again
# (drift check), kernel audit last (audit cannot be fully switched off once enabled). Many short
# rounds: the host is shared, and the fastest round is the least disturbed one.
N_OPEN=${N_OPEN:-30000}
N_CONN=${N_CONN:-5000}
ROUNDS=${ROUNDS:-9}
B=/t/vtest
outside() { sh -c 'echo $$ > /sys/fs/cgroup/cgroup.procs && exec "$@"' _ "$@"; }

mkdir -p /sys/fs/cgroup/bench /tmp/bench
echo $$ > /sys/fs/cgroup/bench/cgroup.procs
ip link set lo up
$B mkfiles /tmp/bench "$N_RULES" || exit 1
echo x > /tmp/bench/target
$B open-loop /tmp/bench/target "$N_OPEN" > /dev/null # warm-up
$B connect-loop 127.0.0.1 9 "$N_CONN" > /dev/null

loops() {
	i=0
	while [ $i -lt "$ROUNDS" ]; do
		echo "result $1 open $($B open-loop /tmp/bench/target "$N_OPEN")"
		[ "$2" = open-only ] || echo "result $1 connect $($B connect-loop 127.0.0.1 9 "$N_CONN")"
		i=$((i + 1))
	done
}

loops baseline
outside sh -c 'vigild --policy /bench/enforce.policy.json --event-log /tmp/bench-events.jsonl \
	--ready-file /run/vigil/bench-ready > /tmp/vigild.log 2>&1 & echo $! > /run/bench-vigild.pid'
i=0
while [ ! -e /run/vigil/bench-ready ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && { echo "vigild not ready"; cat /tmp/vigild.log; exit 1; }
	usleep 100000
done
grep "enforcing" /tmp/vigild.log
$B open-loop /tmp/bench/f0 1 > /dev/null 2>&1 && { echo "a file rule did not deny"; exit 1; }
$B connect 10.100.0.7 80 2> /dev/null && { echo "a CIDR rule did not deny"; exit 1; }
loops vigil
outside kill -TERM "$(cat /run/bench-vigild.pid)"
while kill -0 "$(cat /run/bench-vigild.pid)" 2> /dev/null; do usleep 100000; done
loops after
$B audit-watch /tmp/bench "$N_RULES" || exit 1
loops audit open-only
$B audit-off
echo "events logged by vigild: $(wc -l < /tmp/bench-events.jsonl)"
