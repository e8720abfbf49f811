# The demo's workload: one allowed and one denied exec, narrated.
echo "[workload] 1. /bin/busybox is in the policy (path + SHA-256). Running: busybox echo ..."
/bin/busybox echo "[workload]    -> it ran: hello from an allowed binary"
echo "[workload] 2. A byte-identical copy at /tmp/evil is a different file, not in the policy."
cp /bin/busybox /tmp/evil
if /tmp/evil echo "should not print" 2> /tmp/err; then
	echo "[workload]    -> it ran (unexpected!)"
else
	echo "[workload]    -> refused by the kernel: $(sed 's/^.*: //' /tmp/err)"
fi
sleep 1 # let vigild write the events
