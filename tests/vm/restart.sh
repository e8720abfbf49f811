# vm suite: pinned enforcement survives vigild: a SIGUSR2 re-exec, a SIGKILL crash with restart
# (after the workload wrote a listed binary) and a SIGTERM stop leave no gap; only an explicit
# platform `vigild --unload` ends enforcement. Signals and pushes count only from the platform.
# vigil-vm-args: --copy build/guest-tests:/t --copy /bin/busybox:/opt/true --timeout 900
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
# drained ADDR: a denied connect to ADDR now, then wait until its event is written. The ring
# buffer is one FIFO, so every denial made before it is written too: a vigild that just
# (re)started drains a backlog of hundreds of events, which under TCG takes longer than any
# fixed wait (the 6.12 flake: the counts were read while the backlog was still being written).
drained() {
	$V connect "$1" 80 2> /dev/null
	t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt 180 ] && ! grep -q "\"network.peer.address\":\"$1\"" /out/events.jsonl; do
		usleep 200000
	done
}

expect_eperm "denied before any restart" $V connect 10.2.0.1 80
tries=1
outside kill -USR2 $pid
hammer /out/vigild.log "pinned links replaced" "$pid"
expect_rc "SIGUSR2: vigild re-executed and swapped the pinned links" 0 grep -q "adopted: .* pinned links replaced" /out/vigild.log
expect_rc "... adopting the pinned maps" 0 grep -q "adopting the maps pinned" /out/vigild.log
expect_rc "... in the same process" 0 kill -0 $pid
drained 10.2.0.7
expect_event "a denial after the re-exec is decided by generation 2" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":2' '"verdict":"deny"'

# The workload writes a listed binary, then vigild crashes: the restarted vigild must not reject its
# own policy over it (nothing the workload writes decides whether vigild runs).
expect_rc "/opt/true runs before it is written" 0 /opt/true
printf x >> /opt/true
expect_rc "/opt/true written by the workload: denied" 126 /opt/true
outside kill -KILL $pid
while kill -0 $pid 2> /dev/null; do usleep 50000; done
for _ in 1 2 3 4 5 6 7 8 9 10; do attempt; done
expect_rc "vigild killed: the pinned programs still deny ($tries tries so far, $leaks leaks)" 0 test $leaks = 0
outside sh -c 'vigild --policy /vigil-vm/policy.json --event-log /out/events.jsonl \
	--ready-file /run/vigil/ready2 > /out/vigild2.log 2>&1 & echo $! > /run/vigild2.pid'
pid2=$(cat /run/vigild2.pid)
hammer /run/vigil/ready2 . "$pid2"
expect_rc "a new vigild started by the platform adopted the pins" 0 grep -q "adopted: .* pinned links replaced" /out/vigild2.log
expect_rc "... and swept the older generations" 0 grep -q "removed .* entries of older generations" /out/vigild2.log
expect_rc "no connect or open got through in $tries tries across both restarts" 0 test $leaks = 0
drained 10.2.0.8
expect_event "a denial after the restart is decided by generation 3" '"type":"network"' \
	'"network.peer.address":"10.2.0.1"' '"generation":3'
n=$(grep -c '"network.peer.address":"10.2.0.1"' /out/events.jsonl)
expect_rc "every denial was recorded, the crash gap included ($n events for $tries tries)" 0 test "$n" = "$tries"
expect_event "the written /opt/true did not stop the restart: its rule alone is revoked" \
	'"type":"exec_invalidated"' '"path":"/opt/true"' '"check":"digest_at_load"' '"policy_serial":1'
expect_rc "... /opt/true stays denied under generation 3" 126 /opt/true
expect_event "... reason modified" '"type":"exec"' '"path":"/opt/true"' '"reason":"modified"' \
	'"generation":3'
expect_rc "... while busybox runs" 0 /bin/busybox true

# --policy without --dev-unsigned: the control socket takes no unsigned policy, even from the platform.
expect_rc "unsigned push refused (vigild runs without --dev-unsigned)" 1 \
	outside vigil policy push /vigil-vm/policy.json
expect_event "... policy_rejected, reason unsigned" '"type":"policy_rejected"' '"reason":"unsigned"'

# Signals: acted on only from the platform, each recorded with its sender.
outside kill -USR1 $pid2
expect_event "SIGUSR1 from the platform: recorded with its sender and ignored" '"type":"signal"' \
	'"name":"USR1"' '"action":"ignored"' '"sender_uid":0'
expect_rc "... vigild still runs" 0 kill -0 $pid2
expect_eperm "the workload cannot stop the new vigild" kill -TERM $pid2
expect_rc "... vigild still runs" 0 kill -0 $pid2
# The sender stays sh until vigild is gone: vigild reads its comm when it handles the signal, and
# a `sleep` as the script's last command would have replaced sh by then (seen on 6.12 under TCG).
outside sh -c "kill -TERM $pid2; while kill -0 $pid2 2> /dev/null; do usleep 50000; done"
while kill -0 $pid2 2> /dev/null; do usleep 50000; done
expect_event "SIGTERM from the platform: recorded with its sender" '"type":"signal"' '"name":"TERM"' \
	'"sender":"platform"' '"sender_comm":"sh"' '"action":"stop"'
expect_rc "... the stop record names the sender and says enforcement continues" 0 sh -c \
	"grep '\"k\":\"stop\"' /var/log/vigil/audit.*.jsonl | tail -1 |
	grep '\"sender_pid\":[1-9]' | grep -q '\"enforcement\":\"continues\"'"
expect_rc "... vigild stopped without unloading" 1 grep -q "unloaded:" /out/vigild2.log
expect_eperm "... the pinned programs still deny the connect" $V connect 10.2.0.1 80
expect_eperm "... and the open" cat /etc/passwd

# Only the platform unloads.
sh -c 'vigild --unload' > /tmp/unload.out 2>&1
expect_rc "vigild --unload from the scope refused ($(head -c 200 /tmp/unload.out))" 0 \
	grep -qE "Operation not permitted|Permission denied|refused" /tmp/unload.out
expect_eperm "... enforcement continues" $V connect 10.2.0.1 80
expect_rc "vigild --unload from the platform" 0 outside vigild --unload
# The unpinned links detach when their last reference drops, which 6.12 does from deferred work:
# wait (at most 30 s) for the denial to end before looking at what the connect meets instead.
t0=$(date +%s)
while [ $(($(date +%s) - t0)) -lt 30 ] && $V connect 10.2.0.1 80 2>&1 | grep -q "Operation not permitted"; do
	usleep 200000
done
expect_rc "... the connect is no longer denied (it reaches routing: no route)" 0 \
	sh -c "$V connect 10.2.0.1 80 2>&1 | grep -q 'Network is unreachable'"
finish
