# vm suite: pinned enforcement survives vigild: a SIGUSR2 re-exec and a SIGKILL crash with restart
# leave no gap (every attempt denied and recorded); a SIGTERM from the platform ends enforcement.
# vigil-vm-args: --copy build/guest-tests:/t
. /tests/vm/lib.sh
V=/t/vtest
pid=$(cat /run/vigild.pid)
tries=0 leaks=0

# attempt: one denied connect and one denied open; counts what got through.
attempt() {
	tries=$((tries + 1))
	$V connect 10.2.0.1 80 2> /dev/null && leaks=$((leaks + 1))
	cat /etc/passwd > /dev/null 2>&1 && leaks=$((leaks + 1))
}
# hammer UNTIL_FILE PATTERN: attempts until PATTERN is in UNTIL_FILE (at most 180 s: a restart
# measures into the emulated TPM, slow on a busy host), then 5 more.
hammer() {
	t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt 180 ] && ! grep -q "$2" "$1" 2> /dev/null; do
		attempt
	done
	for _ in 1 2 3 4 5; do attempt; done
}

expect_eperm "denied before any restart" $V connect 10.2.0.1 80
tries=1
outside kill -USR2 $pid
hammer /out/vigild.log "pinned links replaced"
expect_rc "SIGUSR2: vigild re-executed and swapped the pinned links" 0 grep -q "adopted: .* pinned links replaced" /out/vigild.log
expect_rc "... adopting the pinned maps" 0 grep -q "adopting the maps pinned" /out/vigild.log
expect_rc "... in the same process" 0 kill -0 $pid
expect_event "a denial after the re-exec is decided by generation 2" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":2' '"verdict":"deny"'

outside kill -KILL $pid
while kill -0 $pid 2> /dev/null; do usleep 50000; done
for _ in 1 2 3 4 5 6 7 8 9 10; do attempt; done
expect_rc "vigild killed: the pinned programs still deny ($tries tries so far, $leaks leaks)" 0 test $leaks = 0
outside sh -c 'vigild --policy /vigil-vm/policy.json --event-log /out/events.jsonl \
	--ready-file /run/vigil/ready2 > /out/vigild2.log 2>&1 & echo $! > /run/vigild2.pid'
hammer /run/vigil/ready2 .
pid2=$(cat /run/vigild2.pid)
expect_rc "a new vigild started by the platform adopted the pins" 0 grep -q "adopted: .* pinned links replaced" /out/vigild2.log
expect_rc "... and swept the older generations" 0 grep -q "removed .* entries of older generations" /out/vigild2.log
expect_rc "no connect or open got through in $tries tries across both restarts" 0 test $leaks = 0
expect_event "a denial after the restart is decided by generation 3" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":3'
sleep 1
n=$(grep -c '"network.peer.address":"10.2.0.1"' /out/events.jsonl)
expect_rc "every denial was recorded, the crash gap included ($n events for $tries tries)" 0 test "$n" = "$tries"

expect_eperm "the workload cannot stop the new vigild" kill -TERM $pid2
outside kill -TERM $pid2
while kill -0 $pid2 2> /dev/null; do usleep 50000; done
expect_rc "a SIGTERM from the platform unloads: enforcement ends" 0 grep -q "unloaded: .* pinned links" /out/vigild2.log
expect_rc "... the connect is no longer denied (it reaches routing: no route)" 0 \
	sh -c "$V connect 10.2.0.1 80 2>&1 | grep -q 'Network is unreachable'"
finish
