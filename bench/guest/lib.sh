# Shared by the guest halves of the benchmarks (copied to /bench/lib.sh; busybox sh).

# wait_ready TENTHS: waits up to TENTHS tenths of a second for vigild's ready file; gives up
# with vigild's log and exit 1.
wait_ready() {
	i=0
	while [ ! -e /run/vigil/bench-ready ]; do
		i=$((i + 1))
		[ $i -gt "$1" ] && { echo "vigild not ready"; cat /tmp/vigild.log; exit 1; }
		usleep 100000
	done
}
