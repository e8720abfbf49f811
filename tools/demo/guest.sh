# The demo's workload (runs in cgroup /workload, under the signed bundle tools/demo/bundle.json).
# `outside` (tests/vm/lib.sh) runs a command as the platform, outside the policy's scope.
. /tests/vm/lib.sh
say() { echo "[guest] $*"; }
# try WHAT CMD...: runs CMD and says whether it ran or what the kernel answered.
try() {
	what=$1
	shift
	if "$@" > /tmp/.out 2> /tmp/.err; then
		say "   -> $what: allowed$( [ -s /tmp/.out ] && echo " ($(head -c 80 /tmp/.out))")"
	else
		say "   -> $what: REFUSED by the kernel: $(sed 's/^.*: //' /tmp/.err | head -n 1)"
	fi
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	_n=$(($1 * 5))
	shift
	while [ "$_n" -gt 0 ]; do "$@" > /dev/null 2>&1 && return 0; usleep 200000; _n=$((_n - 1)); done
	return 1
}
outside ip link set lo up
outside sh -c '/tests/bin/otlp_sink 4318 /out > /out/otlp-sink.log 2>&1 &'

echo "-- the policy in force"
grep -q '"type":"policy_loaded".*"measurement_type":"vigil/policy-bundle"' "$EVENTS" && say "vigild verified the signed bundle 'demo' serial 1 against /etc/vigil/trust.d and enforces it"
outside vigil attest replay > /tmp/replay 2>&1 && say "the measurement log replays against the vTPM's PCR 23: the bundle is measured" \
	|| say "measurement replay FAILED: $(cat /tmp/replay)"

echo "-- exec: only the binaries the bundle lists (path + SHA-256)"
say "1. /bin/busybox is listed"
try "busybox echo hello" /bin/busybox echo hello
say "2. a byte-identical copy at /tmp/evil is another file, not listed"
cp /bin/busybox /tmp/evil
try "/tmp/evil echo hi" /tmp/evil echo hi

echo "-- files: the rule broker-secrets denies reading /gen/secret.bin"
try "cat /gen/secret.bin" cat /gen/secret.bin

echo "-- network: default deny, loopback allowed"
try "connect 203.0.113.7:443" /tests/bin/vtest connect 203.0.113.7 443

echo "-- attestation: vigild proves itself to the key broker (vigil-kbs, on the guest's loopback)"
outside vigil attest quote --tcti device:/dev/tpmrm0 --nonce 00 --out /tmp/akq > /dev/null 2>&1
vd=$(outside sha256sum "/proc/$(cat /run/vigild.pid)/exe" | cut -c1-64)
sed "s/@VIGILD@/$vd/" /gen/kbs.json.in > /tmp/kbs.json
outside sh -c 'vigil-kbs --config /tmp/kbs.json --port 8380 > /tmp/kbs.out 2> /tmp/kbs.err & echo $! > /tmp/kbs.pid'
say "broker up; it releases vigil/key/disk only to vigild $(echo "$vd" | cut -c1-16)... enforcing 'demo' signed by the demo key"
released() { grep -q '"type":"key_released".*"key":"vigil:disk"' "$EVENTS"; }
# vigild retries with backoff since its start (the broker was down): a reload retries now.
wait_for 4 released || { outside kill -HUP "$(cat /run/vigild.pid)"; wait_for 120 released; }
if released; then
	id=$(grep '"type":"key_released"' "$EVENTS" | tail -n 1 | sed 's/.*"serial":\([0-9]*\).*/\1/')
	say "vigild attested (TPM quote) and the broker released vigil:disk into the kernel keyring (key $id)"
	grep '"allowed":true' /out/kbs-decisions.jsonl | head -n 1 | cut -c1-200 | sed 's/^/[guest]    broker decision: /'
	secret=$(outside cat /gen/secret.bin)
	say "the workload binary the key rule names, /tests/bin/keyreader:"
	/tests/bin/keyreader key-read "$id" > /tmp/.out 2> /tmp/.err
	[ "$(cat /tmp/.out)" = "$secret" ] && say "   -> read the key: allowed, and it is the broker's secret" \
		|| say "   -> read the key: FAILED: $(cat /tmp/.err)"
	say "another binary in the same cgroup, /tests/bin/vtest:"
	try "read the key" /tests/bin/vtest key-read "$id"
	nonce=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	outside vigil attest evidence --tcti device:/dev/tpmrm0 --nonce "$nonce" --out /tmp/ev.json > /dev/null 2>&1
	if outside vigil attest verify --evidence /tmp/ev.json --ak /tmp/akq/ak.pem --nonce "$nonce" \
		--audit-dir /var/log/vigil --vigild-sha256 "$vd" > /tmp/verify 2>&1; then
		say "vigil attest verify (quote -> PCR 23 -> measurement log -> vigild, policy -> audit log): OK"
		# The checkpoint key the quote vouches for: the host's `vigil log verify` pins it.
		outside sh -c 'grep "\"content_type\":\"vigil/audit-key\"" /run/vigil/measurements.log | tail -n 1' |
			sed 's/.*"content":"\([^"]*\)".*/\1/' > /out/audit-key.attested.vkey
	else
		say "vigil attest verify: FAILED"
	fi
	sed 's/^/[guest]    /' /tmp/verify
else
	say "the key was NOT released: $(grep key_release_failed "$EVENTS" | tail -n 1)"
fi
outside kill "$(cat /tmp/kbs.pid)"

echo "-- OTLP: vigild exports each audit record to an OTLP/HTTP endpoint (a sink on the guest's loopback)"
wait_for 60 grep -qsF /tmp/evil /out/otlp-*-logs.bin
wait_for 10 ls /out/otlp-*-metrics.bin
say "the sink captured $(ls /out/otlp-*-logs.bin 2>/dev/null | wc -l) /v1/logs and $(ls /out/otlp-*-metrics.bin 2>/dev/null | wc -l) /v1/metrics requests (decoded on the host below)"
sleep 1 # let vigild write the events
