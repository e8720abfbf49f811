# vm suite: every refused bundle leaves the old policy enforcing, unmeasured, with an event
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
for c in rollback below unknown badsig badtype truncated garbage invalid signed-truncated digest big; do
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
cp /gen/bad/badsig.json /vigil-vm/bundle.json
outside kill -HUP "$(cat /run/vigild.pid)"
expect_event "SIGHUP with a bad bundle: refused" '"type":"policy_rejected"' '"source":"sighup"' \
	'"reason":"bad_signature"'
expect_rc "serial 2 still enforcing after SIGHUP" 0 in_force 2
# The bundle in force, re-read (as after a restart): the same payload is not a rollback.
cp /gen/good2.json /vigil-vm/bundle.json
outside kill -HUP "$(cat /run/vigild.pid)"
expect_event "SIGHUP with the bundle in force: re-loaded, not a rollback" '"type":"policy_loaded"' \
	'"source":"sighup"' '"policy_serial":2'
expect_rc "serial 2 enforcing after the re-load" 0 in_force 2
expect_rc "the control socket is root-only (mode 0600)" 0 sh -c \
	'[ "$(stat -c %a /run/vigil/control.sock)" = 600 ]'
outside vigil attest replay > /tmp/replay.txt 2>&1
expect_rc "replay still matches PCR 23" 0 grep -q "pcr 23 sha256: match" /tmp/replay.txt
finish
