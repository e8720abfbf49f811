# vm suite: audit mode (decide, log, allow), whole-guest scope, and fileless exec allowed by policy.
. /tests/vm/lib.sh
mkdir -p /tmp/a
cp /bin/busybox /tmp/a/true

expect_rc "unlisted binary runs in audit mode" 0 /tmp/a/true
ino=$(stat -c %i /tmp/a/true)
expect_event "would-deny logged as audit" '"type":"exec"' '"verdict":"audit"' '"reason":"not_listed"' \
	'"errno":0' '"path":"/tmp/a/true"' "\"ino\":$ino" '"policy":"vm-exec-audit"' '"policy_serial":3'

# Whole-guest scope: the root cgroup is in scope too.
expect_rc "unlisted binary runs outside any cgroup scope" 0 outside /tmp/a/true
expect_event "root-cgroup exec decided under the guest scope" '"path":"/tmp/a/true"' '"cgroup_id":1,' \
	'"verdict":"audit"'

# allow_fileless: memfd exec is allowed and logged with its reason.
/tests/bin/exec-probe memfd /bin/busybox > /tmp/.o 2>&1
rc=$?
[ $rc = 0 ] && ok "memfd exec allowed by allow_fileless" || not_ok "memfd exec allowed by allow_fileless" "exit $rc: $(cat /tmp/.o)"
expect_event "fileless allow event" '"reason":"fileless"' '"verdict":"allow"' '"path":"/memfd:probe (deleted)"'

expect_event "listed binary still allowed by rule" '"verdict":"allow"' '"rule":"busybox"'
finish
