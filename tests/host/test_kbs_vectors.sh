#!/usr/bin/env bash
# The evidence binding (RFC 8785 JCS + SHA-384) and JWE (A256GCM; ECDH-ES+A256KW, RSA-OAEP-256)
# of vigil and vigil-kbs, checked against a second implementation (tests/host/kbs_vectors.py, on
# Python's cryptography) both ways, on fixed vectors; tampered JWEs are refused.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib.sh"
test_start vigil-kbs-vectors
KBS=$BUILD/vigil-kbs PY="python3 $top/tests/host/kbs_vectors.py"
cd "$tmp"
same() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "vigil:  $2" "python: $3"; fi; }

# JCS: key order by UTF-16 code units (U+1F600 sorts before U+FB33 there, after it by code
# point), escapes, nesting, integers, literals.
printf '%s' '{"kty":"EC","\ufb33":1,"\ud83d\ude00":2,"\u20ac":"euro","z":{"b":[true,false,null,-9007199254740991],"a":"line\nbreak\u0001\"q\"\\"},"crv":"P-256"}' > weird.json
"$V" attest binding --nonce 'n0nce/+=' --jwk weird.json > b.out
same "JCS text (UTF-16 key order, escapes)" "$(sed -n 1p b.out)" "$($PY jcs <(jq -c '{"additional-evidence":"",nonce:"n0nce/+=","tee-pubkey":.}' weird.json))"
same "binding digest (SHA-384 over JCS)" "$(sed -n 2p b.out)" "$($PY binding 'n0nce/+=' weird.json)"
# The TDX/SNP report data: Trustee verifies additional evidence against {"nonce","tee-pubkey"}
# alone (kbs/src/attestation/backend.rs), hashed as its attestation service hashes structured
# runtime data: SHA-384 of the canonical JSON. Trustee's own vector (attestation-service/src/lib.rs
# test: {"b":1,"a":"test","c":{"d":"e"}} -> e71ce8e7...) checks the hashing of canonical JSON.
"$V" attest binding --nonce 'n0nce/+=' --jwk weird.json --tee-runtime > t.out
same "TEE runtime-data JCS text: no additional-evidence member" "$(sed -n 1p t.out)" "$($PY jcs <(jq -c '{nonce:"n0nce/+=","tee-pubkey":.}' weird.json))"
same "TEE runtime-data digest (SHA-384 over JCS)" "$(sed -n 2p t.out)" "$($PY tee-binding 'n0nce/+=' weird.json)"
[ "$(sed -n 2p t.out)" != "$(sed -n 2p b.out)" ] && ok "... and it differs from the quote's binding (which has additional-evidence)" || not_ok "tee binding = quote binding"
same "Trustee's canonical-JSON SHA-384 vector (python's JCS)" "$(printf '%s' "$($PY jcs <(echo '{"b": 1, "a": "test", "c": {"d": "e"}}'))" | sha384sum | cut -c1-96)" \
	e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3
echo '{"x":1.5}' > real.json
"$V" attest binding --nonce n --jwk real.json > /dev/null 2> err && not_ok "a real number is refused" || ok "a real number is refused: $(cat err)"

$PY keys . || exit 1
head -c 45 /dev/urandom > plain.bin
want=$(od -An -tx1 plain.bin | tr -d ' \n')
for k in ec rsa; do
	"$KBS" seal $k.jwk plain.bin > $k.jwe 2> err || not_ok "vigil-kbs seal ($k)" "$(cat err)"
	same "$k: vigil-kbs's JWE decrypts in Python" "$($PY decrypt $k.pem $k.jwe)" "$want"
	same "$k: vigil decrypts vigil-kbs's JWE" "$("$V" attest jwe-decrypt --key $k.pem --jwk $k.jwe)" "$want"
	$PY encrypt $k.jwk "$want" > py-$k.jwe
	same "$k: vigil decrypts Python's JWE (fixed CEK, IV$([ $k = ec ] && echo ', ephemeral key'))" \
		"$("$V" attest jwe-decrypt --key $k.pem --jwk py-$k.jwe)" "$want"
	for f in ciphertext tag iv encrypted_key protected; do
		jq -c --arg f $f '.[$f] |= (if .[0:1] == "A" then "B" else "A" end) + .[1:]' py-$k.jwe > bad.jwe
		if "$V" attest jwe-decrypt --key $k.pem --jwk bad.jwe > /dev/null 2> err; then
			not_ok "$k: a JWE with a changed $f is refused"
		else
			ok "$k: a JWE with a changed $f is refused: $(cat err)"
		fi
	done
done
jq -c '.protected = ("{\"alg\":\"dir\",\"enc\":\"A256GCM\"}" | @base64 | gsub("=";""))' py-ec.jwe > dir.jwe
"$V" attest jwe-decrypt --key ec.pem --jwk dir.jwe > /dev/null 2> err && not_ok "alg dir refused" || ok "alg \"dir\" is refused: $(cat err)"
echo "kbs vectors: $pass passed, $fail failed"
[ "$fail" = 0 ]
