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

# Reloads do not re-read a file the enforcing generation vouches for (same inode, digest, not
# revoked), so a file written in between must be read again: its active entry is revoked.
rejected() { grep -c '"type":"policy_rejected"' "$EVENTS"; }
hashed() { # hashed SERIAL: exec_hashed of that serial's policy_loaded event
	grep '"type":"policy_loaded"' "$EVENTS" | grep "\"policy_serial\":$1," | tail -1 |
		sed -n 's/.*"exec_hashed":\([0-9]*\).*/\1/p'
}
printf x >> /opt/true
expect_rc "/opt/true written: denied under serial 2 (its entry is revoked)" 126 /opt/true
expect_event "the denial says modified" '"path":"/opt/true"' '"reason":"modified"' \
	'"policy_serial":2'
before=$(rejected)
expect_rc "same digest, file written since serial 2: push refused" 1 \
	outside vigil policy push /gen/good5.json
expect_rc "refused for /opt/true's content, read again (not vouched for by serial 2)" 0 sh -c \
	"[ $(rejected) = $((before + 1)) ] && grep '\"type\":\"policy_rejected\"' $EVENTS | tail -1 |
	grep -F '\"reason\":\"not_applicable\"' | grep -F 'exec.allow[1].sha256' |
	grep -qF 'has sha256'"
cat /bin/busybox > /opt/true
expect_rc "content restored: serial 5 accepted" 0 outside vigil policy push /gen/good5.json
expect_rc "serial 5 in force" 0 in_force 5
expect_rc "serial 5 read /opt/true only (busybox unchanged since serial 2)" 0 \
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

outside vigil attest replay > /tmp/replay.txt 2>&1
expect_rc "replay still matches PCR 23" 0 grep -q "pcr 23 sha256: match" /tmp/replay.txt
finish
