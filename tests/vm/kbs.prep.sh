#!/usr/bin/env bash
# Host side of the kbs suite: the bundle (signer), a second trusted signer whose serial-2 bundle
# vigild accepts but the broker's release policy does not, the secret, the broker's config
# template (the guest fills in its AK and vigild's digest). report_data_len 64: the layout Trustee's
# current `tpm` verifier checks, which vigild must use to get the key.
set -euo pipefail
gen=$1
"$VIGIL" policy sign --key "$gen/keys/signer.key" -o "$gen/bundle.json" "$gen/policy.json"
"$VIGIL" policy keygen "$gen/keys/other" > /dev/null
cp "$gen/keys/other.pem" "$gen/trust/"
jq -c '.serial = 2' "$gen/policy.json" > "$gen/p2.json"
"$VIGIL" policy sign --key "$gen/keys/other.key" -o "$gen/b2.json" "$gen/p2.json"
signer=$(jq -r '.signatures[0].keyid' "$gen/bundle.json")
# Printable: the guest reads it back with `vtest key-read`, which prints a string.
head -c 24 /dev/urandom | base64 | tr -d '\n' > "$gen/secret.bin"
jq -n --arg signer "$signer" '{
	nonce_ttl_s: 60, token_ttl_s: 300, report_data_len: 64, decision_log: "/tmp/kbs-decisions.jsonl",
	trusted_eks: ["/tmp/akq/ek.der"],
	resources: {"vigil/key/disk": {file: "/gen/secret.bin", release: {vigild_sha256: ["@VIGILD@"],
		policies: [{name: "kbs-test", min_serial: 1, signers: [$signer]}],
		require_checkpoint_key: true}}}}' > "$gen/kbs.json.in"
