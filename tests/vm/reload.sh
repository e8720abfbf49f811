# vm suite: 100 reloads under an exec/open loop: old-or-new verdicts only, measurement replay
# vigil-vm-args: --timeout 1500 --copy /bin/busybox:/opt/true
# 100 reloads (push, every 10th by SIGHUP) under a running exec/open loop: only old-or-new
# verdicts, never a gap; then the measurement log replays to the guest's PCR 23.
. /tests/vm/lib.sh

# The worker: odd serials allow /opt/true, even serials do not; busybox is always allowed.
worker() {
	while [ ! -e /tmp/stop ]; do
		/opt/true 2> /dev/null
		echo $? >> /tmp/true.rc
		/bin/busybox true || echo "busybox $?" >> /tmp/worker.fail
		cat /etc/passwd > /dev/null || echo "cat $?" >> /tmp/worker.fail
	done
}
worker &
wpid=$!

loaded() { grep -c '"type":"policy_loaded"' "$EVENTS"; }
i=2
while [ $i -le 101 ]; do
	if [ $((i % 10)) = 0 ]; then
		want=$(($(loaded) + 1))
		outside cp /gen/b/$i.json /vigil-vm/bundle.json # the bundle path is the platform's
		outside kill -HUP "$(cat /run/vigild.pid)"
		n=0
		while [ "$(loaded)" -lt $want ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
	else
		outside vigil policy push /gen/b/$i.json > /tmp/push.out 2>&1 || cat /tmp/push.out
	fi
	i=$((i + 1))
done
touch /tmp/stop
wait $wpid

expect_rc "101 policies loaded (start + 90 pushes + 10 SIGHUPs)" 0 test "$(loaded)" = 101
expect_rc "SIGHUP reloads recorded" 0 test "$(grep -c '"source":"sighup"' "$EVENTS")" = 10
expect_rc "last policy enforcing is serial 101" 0 \
	grep -q '"type":"policy_loaded".*"policy_serial":101' "$EVENTS"
runs=$(wc -l < /tmp/true.rc)
cp /tmp/true.rc /out/true.rc
# 0: ran; 126: the shell's status for a refused exec (EPERM). Anything else is a surprise.
bad_rc=$(awk '$1 != 0 && $1 != 126' /tmp/true.rc | sort | uniq -c | tr '\n' ' ')
expect_rc "worker ran /opt/true many times ($runs)" 0 test "$runs" -gt 100
expect_rc "every /opt/true run was allowed or denied, nothing else ${bad_rc:+(got: $bad_rc)}" 0 \
	test -z "$bad_rc"
expect_rc "busybox and cat never failed" 1 test -s /tmp/worker.fail
expect_rc "no decision without a policy" 1 grep -q '"reason":"no_policy"' "$EVENTS"
# Old-or-new: every /opt/true decision matches the parity of the serial it was decided under.
grep '"type":"exec"' "$EVENTS" | grep '"path":"/opt/true"' |
	sed 's/.*"verdict":"\([a-z]*\)".*"policy_serial":\([0-9]*\).*/\1 \2/' > /tmp/verdicts
mixed=$(awk '($1 == "allow") != ($2 % 2 == 1) { n++ } END { print n + 0 }' /tmp/verdicts)
serials=$(cut -d' ' -f2 /tmp/verdicts | sort -u | wc -l)
expect_rc "no /opt/true verdict disagrees with its policy serial ($(wc -l < /tmp/verdicts) checked)" 0 \
	test "$mixed" = 0
expect_rc "decisions spread over many generations ($serials serials)" 0 test "$serials" -ge 20
expect_rc "both verdicts seen" 0 sh -c 'grep -q "^allow" /tmp/verdicts && grep -q "^deny" /tmp/verdicts'

# Measurement: start record, 101 bundle records, and a replay that matches /dev/tpmrm0.
outside vigil attest log > /tmp/log.txt
expect_rc "record 0 is vigild's own measurement" 0 sh -c 'head -1 /tmp/log.txt | grep -q "^#0 pcr 23 vigil/agent-start"'
expect_rc "102 records besides the audit anchors" 0 test "$(grep '^#' /tmp/log.txt | grep -vc ' vigil/audit-')" = 102
outside vigil attest replay > /tmp/replay.txt 2>&1
expect_rc "vigil attest replay matches the guest's PCR 23" 0 grep -q "pcr 23 sha256: match" /tmp/replay.txt
expect_rc "no bank mismatches" 1 grep -q MISMATCH /tmp/replay.txt
cp /tmp/replay.txt /out/replay.txt
finish
