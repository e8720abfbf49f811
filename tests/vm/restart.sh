# Pinned enforcement: vigild re-executes itself mid-run (as after a crash or an upgrade, with the
# pins holding); every attempt during the gap is still denied and still recorded, and the new
# vigild adopts the pins and applies the policy as a new generation.
# vigil-vm-args: --copy build/guest-tests:/t --vigild-args --test-reexec-after=4
. /tests/vm/lib.sh
V=/t/vtest
pid=$(cat /run/vigild.pid)
tries=0 leaks=0 adopted=0
i=0
while [ $i -lt 400 ]; do
	tries=$((tries + 1))
	$V connect 10.2.0.1 80 2> /tmp/.err && leaks=$((leaks + 1))
	cat /etc/passwd > /dev/null 2>&1 && leaks=$((leaks + 1))
	if grep -q "pinned links replaced" /out/vigild.log; then
		adopted=$((adopted + 1))
		[ $adopted -ge 10 ] && break
	fi
	i=$((i + 1))
done
expect_rc "vigild re-executed and adopted the pinned links" 0 grep -q "adopted: .* pinned links replaced" /out/vigild.log
expect_rc "... and the pinned maps" 0 grep -q "adopting the maps pinned" /out/vigild.log
expect_rc "no connect or open got through in $tries tries across the restart" 0 test $leaks = 0
expect_rc "vigild is running (same pid after exec)" 0 kill -0 $pid
expect_event "a denial after adoption is decided by the new generation" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":2' '"verdict":"deny"'
sleep 1
n=$(grep -c '"network.peer.address":"10.2.0.1"' /out/events.jsonl)
expect_rc "every denial during the gap was recorded ($n events for $tries tries)" 0 test "$n" = "$tries"
expect_rc "the old generation's entries were swept" 0 grep -q "removed .* entries of older generations" /out/vigild.log
finish
