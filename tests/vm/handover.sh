# vm suite: early-boot hand-over: the initramfs's vigild (vigild --hand-over with a bundle) enforces, then gives the pins to the real root's vigild, another file with the same SHA-256; no gap
# vigil-vm-args: --copy build/guest-tests:/t --timeout 900
# The bench's vigild (/usr/sbin/vigild, in the initramfs) plays the initramfs's vigild; /newroot, a
# tmpfs, plays the real root: its usr/sbin/vigild is a copy (another device and inode, same
# digest), as the real root's binary is for the initramfs-tools hook (packaging/initramfs-tools).
. /tests/vm/lib.sh
V=/t/vtest
pid=$(cat /run/vigild.pid)
old=$(command -v vigild)
new=/newroot/usr/sbin/vigild
tries=0 leaks=0

# saw NAME PATTERN: the last expect_rc's command wrote PATTERN on stderr.
saw() {
	cp /tmp/.err /tmp/saw.err
	expect_rc "$1" 0 grep -q "$2" /tmp/saw.err
}

# attempt: one denied connect, one denied open and one unlisted exec; counts what got through.
attempt() {
	tries=$((tries + 1))
	$V connect 10.2.0.1 80 2> /dev/null && leaks=$((leaks + 1))
	cat /etc/passwd > /dev/null 2>&1 && leaks=$((leaks + 1))
	/newroot/bin/unlisted true 2> /dev/null && leaks=$((leaks + 1))
}

outside sh -c "mkdir -p /newroot && mount -t tmpfs newroot /newroot &&
	mkdir -p /newroot/usr/sbin /newroot/bin && cp $old $new && cp $old $new-other &&
	printf x >> $new-other && cp /bin/busybox /newroot/bin/unlisted"
expect_rc "the real root's vigild is another file (device and inode)" 1 \
	test "$(stat -c %d:%i "$old")" = "$(stat -c %d:%i "$new")"
expect_rc "... with the same content" 0 cmp -s "$old" "$new"
expect_rc "an unlisted binary on the real root is refused before the hand-over" 126 /newroot/bin/unlisted true
attempt

# Before the hand-over the pins know only the initramfs's binary: the copy is not vigild.
expect_rc "the real root's vigild cannot reach the pins before the hand-over (exit 5)" 5 \
	outside $new --hand-over $new
saw "... the kernel refused it bpffs" "maps/vigil_bp_bss .*Operation not permitted"
expect_rc "no hand-over while the registered vigild runs (exit 5)" 5 outside $old --hand-over $new
saw "... it names the running vigild" "vigild (pid $pid) still runs"

outside sh -c "kill -TERM $pid"
while kill -0 "$pid" 2> /dev/null; do attempt; usleep 50000; done
expect_rc "a binary with another digest is refused as successor (exit 5)" 5 outside $old --hand-over $new-other
saw "... naming both digests" "is not this vigild (sha256"
# As at init-bottom: the initramfs's vigild starts with the bundle and --hand-over, enforces (it
# adopts the pins here; at boot it makes them), hands over and exits.
outside sh -c "($old --policy /vigil-vm/policy.json --event-log /out/events.jsonl --hand-over $new \
	> /out/early.log 2>&1; echo \$? > /run/early.rc) > /dev/null 2>&1 & echo \$! > /run/early.pid"
hammer /run/early.rc . "$(cat /run/early.pid)"
expect_rc "--hand-over with a policy: vigild enforced, handed over and exited 0" 0 grep -qx 0 /run/early.rc
expect_rc "... it enforced its policy (it adopted the pins: generation 2)" 0 \
	grep -q "adopted: .* pinned links replaced" /out/early.log
expect_rc "... and handed over to $new" 0 grep -q "handed over: the pins' vigild is now $new" /out/early.log
expect_rc "the initramfs's binary is no longer vigild (exit 5)" 5 outside $old --hand-over $new
saw "... the kernel refused it bpffs" "maps/vigil_bp_bss .*Operation not permitted"
for _ in 1 2 3 4 5; do attempt; done
expect_rc "no vigild runs: the pinned programs still refuse ($tries tries, $leaks leaks)" 0 test $leaks = 0

outside sh -c "$new --policy /vigil-vm/policy.json --event-log /out/events.jsonl \
	--ready-file /run/vigil/ready2 > /out/vigild2.log 2>&1 & echo \$! > /run/vigild2.pid"
pid2=$(cat /run/vigild2.pid)
hammer /out/vigild2.log "pinned links replaced" "$pid2"
expect_rc "the real root's vigild adopted the pinned maps" 0 grep -q "adopting the maps pinned" /out/vigild2.log
expect_rc "... and replaced the pinned links" 0 grep -q "adopted: .* pinned links replaced" /out/vigild2.log
expect_rc "no connect, open or unlisted exec got through in $tries tries across the hand-over" 0 test $leaks = 0
# The ring buffer is one FIFO: once a marker denial made now is written, every earlier one is.
$V connect 10.2.0.9 80 2> /dev/null
t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 180 ] && ! grep -q '"network.peer.address":"10.2.0.9"' /out/events.jsonl; do
	sleep 1
done
expect_event "a denial after the hand-over is decided by generation 3" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":3' '"verdict":"deny"'
n=$(grep -c '"network.peer.address":"10.2.0.1"' /out/events.jsonl)
expect_rc "every denial was recorded, the gap between the two vigilds included ($n events, $tries tries)" 0 test "$n" = "$tries"
expect_rc "the unlisted binary stays refused under the new vigild" 126 /newroot/bin/unlisted true
expect_event "... with its event" '"type":"exec"' '"path":"/newroot/bin/unlisted"' '"verdict":"deny"' '"generation":3'
expect_eperm "the workload cannot stop the real root's vigild" kill -TERM "$pid2"
expect_rc "... it runs" 0 kill -0 "$pid2"
finish
