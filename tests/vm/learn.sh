# vm suite: vigil policy learn from a live vigild's log, pushed and enforced: same output; what the run never did is refused.
# The workload (and this script: it runs in the scope too) runs under a learning policy (mode
# learn: everything allowed, each distinct access logged once by the kernel); `vigil policy learn` (run by the platform) turns vigild's
# event log into a policy, which is checked, signed and pushed; the same workload then gives
# the same output, and a file, a destination and a program the learning run never used are
# refused.
# vigil-vm-args: --copy build/guest-tests:/t --copy build/guest-tests/vtest:/t/keyreader
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

# A managed key in root's user keyring (the platform's: `key-add` would put it in the platform's
# session keyring, which the scope cannot reach; the learning policy names it, granted to no one
# here): the run's read of it by /t/keyreader is logged, and learned as a grant of exactly that.
kid=$(outside /t/vtest key-add-user vigil:learn s3cr3t)
expect_rc "learning: /t/keyreader reads the managed key" 0 /t/keyreader key-read $kid
expect_event "learning: the key read is logged (audit)" '"type":"key"' '"verdict":"audit"' '"key":"vigil:learn"' '"perm":"read"'

# Kernel-side dedup (learn_seen): 1000 opens of one file by one program are one event; the same
# loop under a plain audit policy (pushed at the end) is the "before" figure.
sleep 1
n0=$(grep -c "\"path\":\"$D/in/a.txt\"" /out/events.jsonl)
expect_rc "learning: 1000 opens of one file by a new program" 0 /t/vtest open-loop $D/in/a.txt 1000
sleep 1
n1=$(grep -c "\"path\":\"$D/in/a.txt\"" /out/events.jsonl)
[ $((n1 - n0)) = 1 ] && ok "learning: the 1000 opens are one event (a new subject: cat read it first)" ||
	not_ok "learning: one event for 1000 opens" "before $n0, after $n1"
outside vigil status > /tmp/status.txt 2>&1
grep -Eq 'learning repeats ([0-9]{4,}|99[0-9])' /tmp/status.txt && ok "status counts the repeats not logged" ||
	not_ok "status: learning repeats" "$(cat /tmp/status.txt)"
grep -Eq 'distinct [1-9][0-9]* \(map size 16384' /tmp/status.txt && ok "status counts the distinct accesses logged" ||
	not_ok "status: distinct accesses" "$(cat /tmp/status.txt)"
echo "# learn dedup: $((n1 - n0)) event(s) for 1000 opens; $(grep -o 'learning repeats [0-9]*' /tmp/status.txt)"
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
tr -d ' \n' < /tmp/learned.json > /tmp/learned.min
# keyctl read asks for read, then search (the kernel's lookup): exactly those two.
grep -q '"key":"vigil:learn","perms":\["read","search"\],"exe":{"path":"/t/keyreader"' /tmp/learned.min &&
	ok "key rule: exactly read and search, by /t/keyreader" || not_ok "key rule" "$(grep -o '"keys".*' /tmp/learned.min)"
[ "$(grep -o '"key":"vigil:learn"' /tmp/learned.min | wc -l)" = 1 ] && ok "key rule: one grant only" ||
	not_ok "key rule: one grant only" "$(grep -o '"keys".*' /tmp/learned.min)"

# Live learning: `--collect` follows vigild's event log from its end; what the workload does
# meanwhile is learned, nothing from before. The operator runs it (the platform): vigild's
# counters, which the scope cannot read, give the kernel's count of distinct accesses.
mkdir -p /tmp/collect
outside vigil policy learn --scope /workload --name collected --collect --duration 4s \
	-o /tmp/collected.json /out/events.jsonl 2> /tmp/collect.err &
cpid=$!
usleep 1500000
echo probe > /tmp/collect/probe.txt && cat /tmp/collect/probe.txt > /dev/null
wait $cpid && ok "collect: exit 0 after its duration" || not_ok "collect: exit 0" "$(cat /tmp/collect.err)"
cat /tmp/collect.err
grep -q 'collecting from /out/events.jsonl for 4s' /tmp/collect.err && grep -q 'collected [1-9][0-9]* events' /tmp/collect.err &&
	ok "collect: progress on stderr" || not_ok "collect: progress" "$(cat /tmp/collect.err)"
# The probe file's write and read by a program new to it are at least two new keys of learn_seen.
grep -Eq '^vigil: ([2-9]|[1-9][0-9]+) distinct accesses, map size 16384: above 16384, duplicates may repeat \(never lost\)$' /tmp/collect.err &&
	ok "collect: the kernel's count of distinct accesses, and the map size" ||
	not_ok "collect: distinct accesses" "$(cat /tmp/collect.err)"
grep -q '"path": "/tmp/collect/probe.txt"' /tmp/collected.json &&
	ok "collect: the access made while collecting is learned" || not_ok "collect: probe learned" "$(cat /tmp/collected.json)"
grep -q "\"path\": \"$D/in" /tmp/collected.json && not_ok "collect: nothing from before it started" ||
	ok "collect: nothing from before it started"
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
expect_rc "enforced: the learned key grant, /t/keyreader reads the key" 0 /t/keyreader key-read $kid
grep -q s3cr3t /tmp/.out && ok "enforced: the key's content" || not_ok "enforced: the key's content" "$(cat /tmp/.out)"
# keyctl read turns the refused read into the refused search's EACCES.
/t/vtest key-read $kid > /tmp/kr.out 2> /tmp/kr.err && not_ok "enforced: another program may not read the key" "$(cat /tmp/kr.out)" ||
	{ grep -q 'Permission denied' /tmp/kr.err && ! grep -q s3cr3t /tmp/kr.out && ok "enforced: another program may not read the key" ||
		not_ok "enforced: another program may not read the key" "$(cat /tmp/kr.err)"; }
expect_event "event: key access refused, not named" '"type":"key"' '"verdict":"deny"' '"key":"vigil:learn"' '"reason":"not_named"'
grep '"key":"vigil:learn"' /out/events.jsonl | tail -3
expect_eperm "a program the run never executed is refused" /t/netprobe socket inet raw 255
# The shell reads the file before it executes it: the files section (the run never read it)
# refuses that read; the exec section would refuse the exec (not_listed).
expect_event "event: refused, the run never used it" '"verdict":"deny"' '"path":"/t/netprobe"'

# The "before" figure: the same loop under mode audit (no dedup) logs every open.
outside sh -c "sed -e 's/\"mode\": \"learn\"/\"mode\": \"audit\"/' -e 's/\"serial\": 1/\"serial\": 3/' /tests/vm/learn.bundle.json > /tmp/audit.json"
expect_rc "sign the audit-mode policy" 0 outside vigil policy sign --key /gen/keys/signer.key -o /tmp/audit.bundle.json /tmp/audit.json
expect_rc "push the audit-mode policy" 0 outside vigil policy push /tmp/audit.bundle.json
sleep 1
n0=$(grep -c "\"path\":\"$D/in/a.txt\"" /out/events.jsonl)
expect_rc "audit mode: the same 1000 opens" 0 /t/vtest open-loop $D/in/a.txt 1000
sleep 2
n1=$(grep -c "\"path\":\"$D/in/a.txt\"" /out/events.jsonl)
[ $((n1 - n0)) -ge 900 ] && ok "audit mode (no dedup): the opens are logged one by one" ||
	not_ok "audit mode logs each open" "before $n0, after $n1"
echo "# audit mode: $((n1 - n0)) events for 1000 opens"

finish
