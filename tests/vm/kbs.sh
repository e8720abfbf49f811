# vm suite: attestation-gated key release (KBS protocol) end to end, broker inside the guest.
# vigild (--kbs-url) attests with the guest's vTPM to vigil-kbs on the guest's loopback (no NIC),
# fetches the resource its policy's keys.release names into the kernel key vigil:disk, measured
# and audited; the binary the key rules name reads it, another binary in the same cgroup gets
# EPERM. `vigil attest verify` checks quote -> log -> policies -> audit log offline. Three denied
# execs revoke the key (revoke_after_denials); a reload releases it again. A pushed bundle the
# broker's release policy refuses: the next fetch is refused and the key revoked. The broker
# checks the 64-byte report data (Trustee's current layout). The audit log is on a small tmpfs: the
# platform fills it, a lost audit record revokes the key, and it is released again once the log
# writes again.
# vigil-vm-args: --audit-tmpfs 2m --copy build/guest-tests:/t --copy build/guest-tests/vtest:/t/keyreader --copy tests/vm/kbs.vigild.conf:/etc/vigil/kbs.conf --vigild-args --config=/etc/vigil/kbs.conf
. /tests/vm/lib.sh
V=/t/vtest
T=device:/dev/tpmrm0
# wait_event SECONDS PATTERN...: an event line holding every fixed string, within SECONDS.
wait_event() {
	_n=$(($1 * 5))
	shift
	while [ "$_n" -gt 0 ]; do
		cp "$EVENTS" /tmp/.wev 2>/dev/null || : > /tmp/.wev
		for p in "$@"; do grep -F -- "$p" /tmp/.wev > /tmp/.wev2; mv /tmp/.wev2 /tmp/.wev; done
		[ -s /tmp/.wev ] && return 0
		usleep 200000
		_n=$((_n - 1))
	done
	return 1
}
outside ip link set lo up
outside vigil attest quote --tcti $T --nonce 00 --out /tmp/akq > /dev/null 2>&1
expect_rc "the guest's AK exists and is exported (persistent, RSA-2048)" 0 test -s /tmp/akq/ak.pem
expect_rc "... and the EK the broker trusts (it knows no AK: vigild --kbs-enroll binds it)" 0 test -s /tmp/akq/ek.der
vd=$(outside sha256sum "/proc/$(cat /run/vigild.pid)/exe" | cut -c1-64)
sed "s/@VIGILD@/$vd/" /gen/kbs.json.in > /tmp/kbs.json
outside sh -c 'vigil-kbs --config /tmp/kbs.json --port 8380 > /tmp/kbs.out 2> /tmp/kbs.err & echo $! > /tmp/kbs.pid'
# vigild's first tries met a closed port: it retries with backoff (at most 60 s apart).
if wait_event 150 '"type":"key_released"' '"key":"vigil:disk"'; then
	ok "vigild attested and released vigil:disk into the keyring"
else
	not_ok "vigild released vigil:disk" "$(grep key_ "$EVENTS" | tail -n 3)" "$(tail -n 5 /out/vigild.log)" "$(cat /tmp/kbs.err)"
fi
expect_rc "an earlier refusal (broker down) was logged with its reason" 0 grep -q '"type":"key_release_failed".*"error":"kbs: ' "$EVENTS"
id=$(grep '"type":"key_released"' "$EVENTS" | tail -n 1 | sed 's/.*"serial":\([0-9]*\).*/\1/')
secret=$(outside cat /gen/secret.bin)
[ -n "$secret" ] || not_ok "the platform reads the broker's secret" "$(cat /tmp/.err)"
expect_rc "the named binary reads the released key" 0 /t/keyreader key-read "$id"
got=$(cat /tmp/.out)
[ "$got" = "$secret" ] && ok "... and it is the broker's secret" || not_ok "... and it is the broker's secret" "got '$got', want '$secret'"
expect_eperm "another binary in the same cgroup gets EPERM" $V key-read "$id"
expect_event "event: the read is denied by the key rules" '"type":"key"' '"key":"vigil:disk"' '"verdict":"deny"' '"comm":"vtest"'
expect_rc "the release is measured (URI and key digest)" 0 grep -q 'vigil/key-release.*kbs/v0/resource/vigil/key/disk' /run/vigil/measurements.log
expect_rc "the key itself is not in the measurement log" 1 grep -qF "$secret" /run/vigil/measurements.log
expect_rc "the release is audited" 0 sh -c 'grep -rq "key_released" /var/log/vigil/'
expect_rc "the measurement log still replays against PCR 23" 0 outside vigil attest replay
expect_rc "broker decision log: vigild's AK bound to the EK (ActivateCredential in the guest's vTPM)" 0 \
	grep -q '"op":"ak-activate".*"allowed":true' /tmp/kbs-decisions.jsonl
expect_rc "broker decision log: the release, with vigild and the policy" 0 grep -q "\"allowed\":true.*\"vigild_sha256\":\"$vd\".*kbs-test" /tmp/kbs-decisions.jsonl
expect_rc "the broker checked vigild's quote against the 64-byte report data (Trustee's layout)" 0 \
	grep -q '"op":"resource".*"allowed":true.*"report_data_len":64' /tmp/kbs-decisions.jsonl
# The firmware event log travels when the guest has one; this bench boots the kernel directly
# (SeaBIOS, -kernel), so whether securityfs shows one depends on the firmware's ACPI log area.
FW=/sys/kernel/security/tpm0/binary_bios_measurements
last=$(grep '"op":"resource".*"allowed":true' /tmp/kbs-decisions.jsonl | tail -n 1)
if outside test -r $FW; then
	fwd=$(outside cat $FW | sha256sum | cut -c1-64)
	echo "# firmware event log: present ($(outside cat $FW | wc -c) bytes)"
	case $last in *"\"firmware_log_sha256\":\"$fwd\""*) ok "vigild sent the firmware event log (digest in the broker's decision)" ;;
	*) not_ok "firmware event log sent" "$last" ;; esac
else
	echo "# firmware event log: none in this guest (direct kernel boot, no TCG log in securityfs)"
	case $last in *firmware_log_sha256*) not_ok "no firmware log: none sent" "$last" ;;
	*) ok "no firmware event log here, and none claimed in the evidence" ;; esac
fi

# The offline verifier over what this guest wrote.
nonce=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
outside vigil attest evidence --tcti $T --nonce "$nonce" --out /tmp/ev.json > /dev/null 2>&1
expect_rc "vigil attest verify: quote -> PCR 23 -> log -> vigild, kbs-test -> audit log" 0 \
	outside vigil attest verify --evidence /tmp/ev.json --ak /tmp/akq/ak.pem --nonce "$nonce" --audit-dir /var/log/vigil --vigild-sha256 "$vd"
grep -q "^policy: kbs-test serial 1" /tmp/.out && ok "it names the policy in force" || not_ok "verify names kbs-test" "$(cat /tmp/.out)"
# With the guest's own firmware log (when securityfs has one), verify replays it against the
# quoted PCRs 0-7: the firmware's real log, not a test's.
if outside test -r $FW; then
	grep -q "^firmware: [0-9]* events replay to the quoted PCRs 0-7" /tmp/.out &&
		ok "verify replays the guest's firmware event log against the quoted PCRs 0-7: $(grep '^firmware' /tmp/.out)" ||
		not_ok "firmware log replayed by verify" "$(cat /tmp/.out)"
else
	grep -q "^firmware: no event log in the evidence" /tmp/.out && ok "verify says PCRs 0-7 were not checked (no firmware log here)" ||
		not_ok "verify without a firmware log" "$(cat /tmp/.out)"
fi

# A revocation trigger: 3 denied execs in the scope (revoke_after_denials), then a reload
# fetches it again.
cp /bin/busybox /tmp/evil
for i in 1 2 3; do /tmp/evil true 2> /dev/null; done
if wait_event 30 '"type":"key_revoked"' '"key":"vigil:disk"' '"reason":"denials"'; then
	ok "3 denied execs revoke vigil:disk (revoke_after_denials)"
else
	not_ok "revoked after 3 denied execs" "$(grep -c '"type":"exec".*"verdict":"deny"' "$EVENTS") exec denials" "$(grep key_ "$EVENTS" | tail -n 2)"
fi
/t/keyreader key-read "$id" > /tmp/.out 2> /tmp/.err && not_ok "revoked by the trigger: unreadable" || ok "revoked by the trigger: unreadable, even by the named binary"
outside kill -HUP "$(cat /run/vigild.pid)"
n=0
while [ "$(grep -c '"type":"key_released"' "$EVENTS")" -lt 2 ] && [ $n -lt 300 ]; do usleep 200000; n=$((n + 1)); done
expect_rc "a reload re-attests and releases it again" 0 test "$(grep -c '"type":"key_released"' "$EVENTS")" -ge 2
id=$(grep '"type":"key_released"' "$EVENTS" | tail -n 1 | sed 's/.*"serial":\([0-9]*\).*/\1/')
expect_rc "the named binary reads the new key" 0 /t/keyreader key-read "$id"

# The audit log cannot write (its file system is full): every released key is revoked, measured,
# and fetched again only once the log writes again.
outside dd if=/dev/zero of=/var/log/vigil/fill bs=4k > /dev/null 2>&1
/tmp/evil true 2> /dev/null # one denial (below the trigger's 3): a record the log cannot take
if wait_event 30 '"type":"key_revoked"' '"key":"vigil:disk"' '"reason":"audit_write_failed"'; then
	ok "a lost audit record (full disk) revokes vigil:disk"
else
	not_ok "revoked on an audit write failure" "$(grep key_ "$EVENTS" | tail -n 2)" "$(grep audit /out/vigild.log | tail -n 3)"
fi
/t/keyreader key-read "$id" > /tmp/.out 2> /tmp/.err && not_ok "revoked on the audit failure: unreadable" || ok "revoked on the audit failure: unreadable, even by the named binary"
expect_rc "the audit-failure revocation is measured" 0 grep -q 'vigil/key-revoke.*audit_write_failed' /run/vigil/measurements.log
expect_rc "vigild logged why" 0 grep -q "audit log lost .* revoking every released key" /out/vigild.log
outside rm -f /var/log/vigil/fill
usleep 600000
/tmp/evil true 2> /dev/null # a record the log takes again
n=0 last=
while [ $n -lt 150 ]; do
	last=$(grep -E '"type":"key_(released|revoked)"' "$EVENTS" | tail -n 1)
	case $last in *'"type":"key_released"'*) break ;; esac
	usleep 200000
	n=$((n + 1))
done
id2=$(echo "$last" | sed -n 's/.*"type":"key_released".*"serial":\([0-9]*\).*/\1/p')
if [ -n "$id2" ] && [ "$id2" != "$id" ] && /t/keyreader key-read "$id2" > /dev/null 2>&1; then
	ok "once the audit log writes again, vigil:disk is released again"
	id=$id2
else
	not_ok "released again after the audit log healed" "$last" "$(grep audit /out/vigild.log | tail -n 3)"
fi

# A bundle the release policy refuses (trusted by vigild, signer not listed at the broker).
outside vigil policy push /gen/b2.json > /tmp/push.out 2>&1
expect_rc "vigild accepts the serial-2 bundle (its signer is trusted)" 0 grep -q '"type":"policy_loaded".*"policy_serial":2' "$EVENTS"
if wait_event 60 '"type":"key_revoked"' '"key":"vigil:disk"' '"reason":"fetch_refused"'; then
	ok "the next fetch is refused and vigil:disk is revoked"
else
	not_ok "key revoked after the refused fetch" "$(grep key_ "$EVENTS" | tail -n 3)"
fi
expect_rc "the refusal's reason reached vigild (403 PolicyDeny)" 0 grep -q '"type":"key_release_failed".*PolicyDeny.*no allowed signer' "$EVENTS"
/t/keyreader key-read "$id" > /tmp/.out 2> /tmp/.err && not_ok "the revoked key cannot be read" || ok "the revoked key cannot be read (even by the named binary)"
expect_rc "the revocation is measured" 0 grep -q 'vigil/key-revoke.*fetch_refused' /run/vigil/measurements.log
expect_rc "broker decision log: the refusal and why" 0 grep -q '"allowed":false.*no allowed signer' /tmp/kbs-decisions.jsonl
outside kill "$(cat /tmp/kbs.pid)"
finish
