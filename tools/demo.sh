#!/usr/bin/env bash
# make demo: signs tools/demo/bundle.json with a key made now, boots a guest whose vigild verifies,
# measures and enforces it, and narrates the result: one denial of each kind (exec, file, network,
# key), attestation to vigil-kbs (on the guest's loopback) releasing a key to the named binary only,
# the audit log verified on the host, and the OTLP records the guest's sink received, decoded here.
# Its mechanisms are the VM suites' (tests/run-vm.sh bundles, tests/vm/kbs.sh, tests/vm/otlp.sh).
# The busybox pin of policies/examples/demo.json is checked first (the same binary the bundle names).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
policy=policies/examples/demo.json
want=$(jq -r '.exec.allow[0].sha256' "$policy")
have=$(sha256sum /bin/busybox | cut -c1-64)
if [ "$want" != "$have" ]; then
	echo "demo: $policy pins /bin/busybox at $want, but this machine's busybox-static is $have." >&2
	echo "demo: refresh the pin with: $BUILD/vigil policy pin -o $policy $policy" >&2
	exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$SECONDS
echo "== vigil demo: a signed policy bundle, enforced, measured, audited, exported and attested"
echo
echo "-- signing the bundle (here, on the host)"
gen=$out/gen
mkdir -p "$gen/keys" "$gen/trust"
tests/vm/render-policy.sh tools/demo/bundle.json > "$gen/policy.json"
"$BUILD/vigil" policy keygen "$gen/keys/signer" > /dev/null
cp "$gen/keys/signer.pem" "$gen/trust/"
"$BUILD/vigil" policy sign --key "$gen/keys/signer.key" -o "$gen/bundle.json" "$gen/policy.json" > /dev/null
signer=$(jq -r '.signatures[0].keyid' "$gen/bundle.json")
echo "   vigil policy keygen: a new signing key, keyid $signer (its public half goes to the guest's /etc/vigil/trust.d)"
echo "   vigil policy sign: tools/demo/bundle.json -> bundle 'demo' serial 1: exec, files, network and key rules, a key release"
# The key broker's secret and release policy (as tests/vm/kbs.prep.sh): the guest fills in its AK and vigild's digest.
head -c 24 /dev/urandom | base64 | tr -d '\n' > "$gen/secret.bin"
jq -n --arg signer "$signer" '{
	nonce_ttl_s: 60, token_ttl_s: 300, decision_log: "/out/kbs-decisions.jsonl",
	trusted_aks: ["/tmp/akq/ak.pem"],
	resources: {"vigil/key/disk": {file: "/gen/secret.bin", release: {vigild_sha256: ["@VIGILD@"],
		policies: [{name: "demo", min_serial: 1, signers: [$signer]}],
		require_checkpoint_key: true}}}}' > "$gen/kbs.json.in"
echo "   vigil-kbs (the key broker) will release vigil/key/disk only to an attested vigild enforcing 'demo' signed by $signer"
echo
echo "-- booting a QEMU guest (Debian kernel, BPF LSM, swtpm vTPM; about a minute)"
rc=0
VIGIL_BUILD=$BUILD tools/vigil-vm run --bundle "$gen/bundle.json" --trust-dir "$gen/trust" --copy "$gen:/gen" \
	--copy tools/demo/guest.sh:/demo.sh --copy tests/vm/lib.sh:/tests/vm/lib.sh \
	--copy "$BUILD/guest-tests:/tests/bin" --copy "$BUILD/guest-tests/vtest:/tests/bin/keyreader" \
	--vigild-args "--otlp=endpoint=http://127.0.0.1:4318,gzip=off,batch-ms=50,backoff-ms=200,backoff-max-ms=1000,metrics-ms=2000 --kbs-url=http://127.0.0.1:8380" \
	--out "$out" -- sh /demo.sh || rc=$?
echo
echo "== what vigild recorded (its decision log, one JSON line each)"
jq -r 'select(.type == "policy_loaded") | "   POLICY\t\(.policy) serial \(.policy_serial) loaded from \(.source), measured as \(.measurement_type): bundle sha256 \(.measurement.bundle_sha256 | .[0:16])..., signers \(.measurement.signers | map(.[0:16] + "...") | join(", "))"' "$out/events.jsonl"
jq -rs 'map(select((.type == "exec" or .type == "file" or .type == "network" or .type == "key") and .verdict == "allow")) |
	group_by(.path) | .[] | "   ALLOW\t\(.[0].type)\t\(.[0].path)\trule \(.[0].rule // "-")\tx\(length)"' "$out/events.jsonl"
jq -r 'select((.type == "exec" or .type == "file" or .type == "network" or .type == "key") and .verdict != "allow") |
	"   \(.verdict | ascii_upcase)\t\(.type)\t\(if .type == "network" then "\(.["network.peer.address"]):\(.["network.peer.port"])" elif .type == "key" then .key else .path end)\t\(.access // .op // .perm // "exec")\tcomm \(.comm)\treason \(.reason)\trule \(.rule // "-")"' \
	"$out/events.jsonl"
jq -rs 'map(select(.type == "key_release_failed")) | select(length > 0) | "   KEY\tvigil:disk not released \(length) times while the broker was not up yet (\(.[0].error | .[0:70]))"' "$out/events.jsonl"
jq -r 'select(.type == "key_released") | "   KEY\t\(.key) released to vigild: key \(.serial)"' "$out/events.jsonl"
echo
echo "== the raw record of each denial"
for t in exec file network key; do
	jq -c --arg t "$t" 'select(.type == $t and .verdict == "deny")' "$out/events.jsonl" | head -n 1
done
echo
echo "== vigild's log"
sed 's/^/   /' "$out/vigild.log"
echo
echo "== the guest's hash-chained audit log, verified here on the host (chain + signed checkpoints,"
echo "   under the checkpoint key of the attested measurement log)"
if [ -s "$out/audit-key.attested.vkey" ]; then
	"$BUILD/vigil" log verify --pubkey "$out/audit-key.attested.vkey" "$out" > "$out/log-verify" 2>&1 || rc=1
else
	# No attested key (the attestation failed): the check runs, exits 6, and says so.
	"$BUILD/vigil" log verify "$out" > "$out/log-verify" 2>&1
	rc=1
fi
sed 's/^/   /' "$out/log-verify"
echo
echo "== the OTLP records the guest's sink received, decoded here with the OpenTelemetry decoder"
npm=$(cd "$BUILD" && pwd)/npm
export OTLP_NODE_MODULES=$npm/node_modules
if scripts/otlp-npm.sh "$npm" && node tests/otlp/decode-dir.js "$out" "$out/otlp"; then
	echo "   $(wc -l < "$out/otlp/logs.jsonl") log records, $(wc -l < "$out/otlp/metrics.jsonl") metrics requests"
	jq -r 'select(.attributes["vigil.verdict"] == "deny") | "   \(.severity_text)\t\(.event_name)\tseq \(.attributes["vigil.audit.seq"])\t\(.attributes["process.executable.path"] // .attributes["file.path"] // .attributes["network.peer.address"] // .attributes["vigil.key"] // "")"' "$out/otlp/logs.jsonl"
	to=$(jq -s 'map(.attributes["vigil.audit.seq"] | tonumber) | max // 0' "$out/otlp/logs.jsonl")
	if node tests/otlp/check.js "$out" "$out/otlp" --to "$to" > "$out/otlp-check" 2>&1; then
		echo "   records 1..$to: each received as the guest's audit chain has it"
	else
		echo "   records 1..$to: MISMATCH with the audit chain:"; sed 's/^/   /' "$out/otlp-check"; rc=1
	fi
else
	echo "   could not decode (make deps installs the decoder)"; rc=1
fi
echo
echo "== done in $((SECONDS - start)) s (exit status $rc)"
exit "$rc"
