# vm suite: every refused bundle leaves the old policy enforcing, unmeasured, with an event; a file the
# workload wrote costs only its rule; the control socket serves the platform only, slow clients are dropped
# vigil-vm-args: --copy /bin/busybox:/opt/true
# Every refused bundle leaves the old policy enforcing, adds no measurement, and produces an event.
. /tests/vm/lib.sh

in_force() { # in_force SERIAL: /opt/true runs and its decision names SERIAL
	before=$(grep -c '"path":"/opt/true"' "$EVENTS")
	/opt/true || return 1
	i=0
	while [ $i -lt 30 ]; do
		n=$(grep '"path":"/opt/true"' "$EVENTS" | tail -n +$((before + 1)) | grep -c "\"policy_serial\":$1,")
		[ "$n" -ge 1 ] && return 0
		usleep 100000
		i=$((i + 1))
	done
	return 1
}
# Policy and start records; the audit log's anchors (vigil/audit-*) come and go with its checkpoints.
records() { outside vigil attest log | grep '^#' | grep -vc ' vigil/audit-'; }

expect_rc "push serial 2 (2 of 2 signers)" 0 outside vigil policy push /gen/good2.json
expect_rc "serial 2 in force" 0 in_force 2
base=$(records)
expect_rc "three records: start, serial 1, serial 2" 0 test "$base" = 3

head -c 50331649 /dev/zero > /tmp/big.json
cp /tmp/big.json /gen/bad/big.json
for c in rollback below unknown badsig badtype truncated garbage invalid signed-truncated big; do
	case $c in
	rollback) reason=rollback ;; below) reason=below_threshold ;; unknown) reason=unknown_signer ;;
	badsig) reason=bad_signature ;; badtype) reason=payload_type ;; big) reason=too_large ;;
	truncated | garbage) reason=malformed ;; invalid | signed-truncated) reason=invalid_policy ;;
	digest) reason=not_applicable ;;
	esac
	expect_rc "$c: push refused" 1 outside vigil policy push /gen/bad/$c.json
	expect_event "$c: policy_rejected event, reason $reason, serial 2 stays" \
		'"type":"policy_rejected"' '"source":"push"' "\"reason\":\"$reason\"" '"policy_serial":2'
	expect_rc "$c: serial 2 still enforcing" 0 in_force 2
done
rm -f /gen/bad/big.json /tmp/big.json
expect_rc "no measurement for any refused bundle" 0 test "$(records)" = "$base"

# SIGHUP re-reads the configured path; a bad file there is refused the same way.
outside cp /gen/bad/badsig.json /vigil-vm/bundle.json # vigil's bundle path is the platform's
outside kill -HUP "$(cat /run/vigild.pid)"
expect_event "SIGHUP with a bad bundle: refused" '"type":"policy_rejected"' '"source":"sighup"' \
	'"reason":"bad_signature"'
expect_rc "serial 2 still enforcing after SIGHUP" 0 in_force 2
# The bundle in force, re-read (as after a restart): the same payload is not a rollback.
outside cp /gen/good2.json /vigil-vm/bundle.json
outside kill -HUP "$(cat /run/vigild.pid)"
expect_event "SIGHUP with the bundle in force: re-loaded, not a rollback" '"type":"policy_loaded"' \
	'"source":"sighup"' '"policy_serial":2'
expect_rc "serial 2 enforcing after the re-load" 0 in_force 2
expect_rc "the control socket is root-only (mode 0600)" 0 sh -c \
	'[ "$(stat -c %a /run/vigil/control.sock)" = 600 ]'

# Reloads do not re-read a file the enforcing generation vouches for (same inode, digest, not
# revoked), so a file written in between must be read again: its active entry is revoked. The
# workload writing a listed file costs that rule only: the update still applies.
hashed() { # hashed SERIAL: exec_hashed of that serial's policy_loaded event
	grep '"type":"policy_loaded"' "$EVENTS" | grep "\"policy_serial\":$1," | tail -1 |
		sed -n 's/.*"exec_hashed":\([0-9]*\).*/\1/p'
}
printf x >> /opt/true
expect_rc "/opt/true written: denied under serial 2 (its entry is revoked)" 126 /opt/true
expect_event "the denial says modified" '"path":"/opt/true"' '"reason":"modified"' \
	'"policy_serial":2'
expect_rc "same digest, file written since serial 2: push of serial 4 accepted" 0 \
	outside vigil policy push /gen/good4.json
expect_event "serial 4 loaded" '"type":"policy_loaded"' '"policy_serial":4,'
expect_event "exec_invalidated names the rule and the file, checked at load" \
	'"type":"exec_invalidated"' '"reason":"modified"' '"rule":' '"path":"/opt/true"' \
	'"policy_serial":4' '"check":"digest_at_load"' 'has sha256'
expect_rc "the modified /opt/true stays denied under serial 4" 126 /opt/true
expect_event "... reason modified, serial 4" '"type":"exec"' '"path":"/opt/true"' \
	'"reason":"modified"' '"policy_serial":4'
expect_rc "the other rule still works under serial 4 (busybox runs)" 0 /bin/busybox true
expect_rc "no policy_rejected for serial 4" 1 grep -q '"type":"policy_rejected".*"policy_serial":4' "$EVENTS"
cat /bin/busybox > /opt/true
expect_rc "content restored: serial 5 accepted" 0 outside vigil policy push /gen/good5.json
expect_rc "serial 5 in force" 0 in_force 5
expect_rc "serial 5 read /opt/true only (busybox unchanged since serial 4)" 0 \
	test "$(hashed 5)" = 1
: >> /opt/true
expect_rc "/opt/true opened for write: denied under serial 5" 126 /opt/true
expect_rc "same content, opened for write since: serial 6 accepted" 0 \
	outside vigil policy push /gen/good6.json
expect_rc "serial 6 read /opt/true again" 0 test "$(hashed 6)" = 1
expect_rc "serial 6 in force, /opt/true runs (its new entry is not revoked)" 0 in_force 6
expect_rc "nothing written since serial 6: serial 7 reads no file" 0 \
	outside vigil policy push /gen/good7.json
expect_rc "serial 7 hashed 0 files" 0 test "$(hashed 7)" = 0
expect_rc "serial 7 in force" 0 in_force 7

# A bundle whose digest does not match the file on disk: that rule is installed revoked, the
# policy applies (before: refused whole, not_applicable).
expect_rc "digest mismatch in the bundle: serial 8 accepted" 0 outside vigil policy push /gen/digest8.json
expect_event "... exec_invalidated for /opt/true under serial 8" '"type":"exec_invalidated"' \
	'"path":"/opt/true"' '"policy_serial":8' '"check":"digest_at_load"'
expect_rc "... /opt/true denied under serial 8" 126 /opt/true
expect_event "... reason modified" '"type":"exec"' '"path":"/opt/true"' '"reason":"modified"' \
	'"policy_serial":8'
expect_rc "... busybox still runs under serial 8" 0 /bin/busybox true

# The control socket serves the platform only: root in the scope is refused (by the kernel's
# unix_stream_connect hook when present, else by vigild's peer check), and nothing changes.
/tests/bin/ctlclient /run/vigil/control.sock 10 > /tmp/inscope.out 2>&1
expect_rc "a client inside the scope (root) is refused at once ($(cat /tmp/inscope.out))" 0 \
	grep -qE "serves the platform only|Operation not permitted" /tmp/inscope.out
expect_rc "... a refusal recorded (control_refused, or the kernel's control_socket denial)" 0 \
	sh -c "grep -q '\"type\":\"control_refused\".*\"reason\":\"in_scope\"' $EVENTS ||
	grep -q '\"protects\":\"control_socket\"' $EVENTS"

# A platform client that sends a byte every 2 s never stalls decisions, and is dropped.
outside /tests/bin/ctlclient /run/vigil/control.sock 20 > /tmp/slow.out 2>&1 &
slow=$!
usleep 300000
expect_rc "while a slow client is connected, /bin/busybox runs" 0 /bin/busybox true
n0=$(grep -c '"path":"/opt/true"' "$EVENTS")
/opt/true 2> /dev/null
logged_soon() { # the /opt/true decision reaches the log within 2 s
	i=0
	while [ $i -lt 20 ]; do
		[ "$(grep -c '"path":"/opt/true"' "$EVENTS")" -gt "$n0" ] && return 0
		usleep 100000
		i=$((i + 1))
	done
	return 1
}
expect_rc "... and a decision made meanwhile is logged within 2 s" 0 logged_soon
expect_rc "... and a push from another platform client is served (serial 9)" 0 \
	outside vigil policy push /gen/good9.json
wait $slow
expect_rc "the slow client was dropped by vigild ($(cat /tmp/slow.out))" 0 \
	grep -q "not complete within the deadline" /tmp/slow.out
expect_event "... and the drop is recorded" '"type":"control_dropped"' '"reason":"deadline"'

outside vigil attest replay > /tmp/replay.txt 2>&1
expect_rc "replay still matches PCR 23" 0 grep -q "pcr 23 sha256: match" /tmp/replay.txt
finish
