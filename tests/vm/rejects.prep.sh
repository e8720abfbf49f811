#!/usr/bin/env bash
# Host side of the rejects suite: a 2-of-2 trust directory, one good bundle (serial 2) and one bad
# bundle per refusal vigild must make. Invalid-but-signed payloads are signed with openssl alone.
set -euo pipefail
gen=$1
cd "$gen"
"$VIGIL" policy keygen keys/second > /dev/null
"$VIGIL" policy keygen keys/stranger > /dev/null
cp keys/second.pem trust/
echo 2 > trust/threshold
mkdir -p bad
both() { "$VIGIL" policy sign --key keys/signer.key --key keys/second.key -o "$2" "$1"; }
serial() { jq -c ".serial = $1" policy.json > "p$1.json"; }
serial 2; serial 3; serial 4; serial 5; serial 6; serial 7; serial 9
both policy.json bundle.json
both p2.json good2.json
# The same digests again: files unchanged since are not re-read, written ones are.
for s in 4 5 6 7 9; do both p$s.json good$s.json; done
both policy.json bad/rollback.json
"$VIGIL" policy sign --key keys/signer.key -o bad/below.json p3.json
"$VIGIL" policy sign --key keys/stranger.key -o bad/unknown.json p3.json
both p3.json bad/badtype.json.tmp
jq -c '.payloadType = "application/vnd.in-toto+json"' bad/badtype.json.tmp > bad/badtype.json
jq -c --arg p "$(base64 -w0 p4.json)" '.payload = $p' bad/badtype.json.tmp > bad/badsig.json
head -c 200 bad/badtype.json.tmp > bad/truncated.json
head -c 3000 /dev/urandom | base64 -w0 > bad/garbage.json
rm bad/badtype.json.tmp

# Signed with openssl over the PAE: the signature is fine, the policy is not.
signed_raw() { # signed_raw PAYLOAD-FILE OUT
	local type=application/vnd.vigil.policy.v1+json sigs=()
	{ printf 'DSSEv1 %d %s %d ' ${#type} "$type" "$(stat -c %s "$1")"; cat "$1"; } > pae.bin
	for k in signer second; do
		openssl pkeyutl -sign -inkey keys/$k.key -rawin -in pae.bin -out sig.bin
		sigs+=("$(jq -n --arg k "$(openssl pkey -pubin -in keys/$k.pem -outform DER | sha256sum | cut -c1-64)" \
			--arg s "$(base64 -w0 sig.bin)" '{keyid: $k, sig: $s}')")
	done
	printf '%s\n' "${sigs[@]}" | jq -sc --arg t "$type" --arg p "$(base64 -w0 "$1")" \
		'{payloadType: $t, payload: $p, signatures: .}' > "$2"
	rm pae.bin sig.bin
}
jq -c '.serial = 3 | .bogus = true' policy.json > inv.json
signed_raw inv.json bad/invalid.json
echo '{"version":1,"name":"rejects","serial":3,' > cut.json
signed_raw cut.json bad/signed-truncated.json
# Well-formed, but its digest does not match the file: that rule alone is denied.
jq -c '.serial = 8 | .exec.allow[1].sha256 = "'"$(printf '%064d' 0)"'"' policy.json > dig.json
both dig.json digest8.json
rm -f inv.json cut.json dig.json p*.json
