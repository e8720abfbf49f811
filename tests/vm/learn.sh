# vm suite: vigil policy learn from a live vigild's log, pushed and enforced: same output; what the run never did is refused.
# The workload (and this script: it runs in the scope too) runs under a learning policy (audit
# mode: everything allowed and logged); `vigil policy learn` (run by the platform) turns vigild's
# event log into a policy, which is checked, signed and pushed; the same workload then gives
# the same output, and a file, a destination and a program the learning run never used are
# refused.
# vigil-vm-args: --copy build/guest-tests:/t
. /tests/vm/lib.sh
D=/tests/vm/learn-data

work() {
	cat $D/in/a.txt $D/in/b.txt $D/in/c.txt | wc -c
	cat $D/conf
	echo run > $D/scratch/out.$1 && cat $D/scratch/out.$1 && rm $D/scratch/out.$1
	/t/vtest connect 127.0.0.1 7700 && echo reached
}

# The platform brings lo up; the platform runner's request files come and go (so the learned
# policy has a rule on their directory, not on one request's files).
outside ip link set lo up
outside true
outside true

expect_rc "the workload runs under the learning policy" 0 work 1
cp /tmp/.out /tmp/out1
expect_event "learning: a read is logged (audit)" '"type":"file"' '"verdict":"audit"' "\"path\":\"$D/in/a.txt\""
expect_event "learning: the connect is logged (audit)" '"type":"network"' '"verdict":"audit"' '"network.peer.port":7700'
sleep 1
expect_rc "vigil policy learn from vigild's event log" 0 outside vigil policy learn --scope /workload \
	--name learned-work --serial 2 -o /tmp/learned.json /out/events.jsonl
cat /tmp/.err
expect_rc "the learned policy checks, digests included" 0 outside vigil policy check /tmp/learned.json
cat /tmp/.out
grep -q '"path": "/t/vtest"' /tmp/learned.json && ok "exec rule for the program the run executed" ||
	not_ok "exec rule for /t/vtest" "$(head -c 600 /tmp/learned.json)"
grep -q "\"path\": \"$D/in\"" /tmp/learned.json && ok "the three inputs folded into their directory" ||
	not_ok "directory rule for $D/in"
grep -q '"ports": 7700' /tmp/learned.json && ok "network rule for the connect" || not_ok "network rule"
expect_rc "sign" 0 outside vigil policy sign --key /gen/keys/signer.key -o /tmp/learned.bundle.json /tmp/learned.json
expect_rc "push" 0 outside vigil policy push /tmp/learned.bundle.json
cat /tmp/.out /tmp/.err
expect_event "the learned policy is in force" '"type":"policy_loaded"' '"policy":"learned-work"'

expect_rc "enforced: the workload runs" 0 work 2
cmp /tmp/.out /tmp/out1 > /dev/null && ok "enforced: same output" || not_ok "enforced: same output" "$(cat /tmp/.out)"
expect_no_event "enforced: no refusal of the workload" '"verdict":"deny"' '"policy":"learned-work"' "\"path\":\"$D/"
expect_eperm "a file the run never read is refused" cat $D/other/never.txt
expect_event "event: default deny, path" '"type":"file"' '"verdict":"deny"' '"reason":"default"' "\"path\":\"$D/other/never.txt\""
expect_eperm "a destination the run never used is refused" /t/vtest connect 127.0.0.1 7701
expect_event "event: connect refused" '"type":"network"' '"verdict":"deny"' '"network.peer.port":7701'
expect_eperm "a program the run never executed is refused" /t/netprobe socket inet raw 255
# The shell reads the file before it executes it: the files section (the run never read it)
# refuses that read; the exec section would refuse the exec (not_listed).
expect_event "event: refused, the run never used it" '"verdict":"deny"' '"path":"/t/netprobe"'

finish
