#!/usr/bin/env bash
# swtpm-backed bundle tests: sign, verify (vigil and openssl), measure, rollback, rejections, replay, quote.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh"
tpm_test_start vigil-tpm

mkdir -p "$tmp/tpm" "$tmp/trust" "$tmp/keys"
start_swtpm
export VIGIL_TCTI="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$VIGIL_TCTI
cd "$tmp"

digest=$(sha256sum /bin/busybox | cut -c1-64)
policy() { # policy SERIAL [EXTRA-TOP-LEVEL-JSON]
	printf '{"version":1,"name":"tpm-test","serial":%s,"mode":"enforce","scope":"guest",%s"exec":{"allow":[{"path":"/bin/busybox","sha256":"%s"}]}}\n' \
		"$1" "${2:-}" "$digest"
}
M() { "$V" attest measure --trust-dir trust --log ml.log --state serials.json "$@"; }
records() { wc -l < ml.log; }
pcr23() { tpm2_pcrread sha256:23 | sed -n 's/.*23: 0x//p' | tr A-F a-f; }

# --- keys, signing, verification ---------------------------------------------------------
check "keygen ed25519" "$V" policy keygen keys/ed
check "keygen p256" "$V" policy keygen --type p256 keys/p256
"$V" policy keygen keys/stranger > /dev/null
cp keys/ed.pem keys/p256.pem trust/
for s in 1 2 3; do policy $s > p$s.json; done
check "sign with two keys" "$V" policy sign --key keys/ed.key --key keys/p256.key -o b1.json p1.json
check "verify lists both signers" sh -c "'$V' policy verify --trust-dir trust b1.json | grep -c '^signer:' | grep -qx 2"
check "check accepts a bundle" "$V" policy check b1.json
check "check keeps accepting plain policies" "$V" policy check p1.json

# The recipe of docs/BUNDLES.md, with nothing from vigil but the bundle.
type=$(jq -r .payloadType b1.json)
jq -r .payload b1.json | base64 -d > payload.bin
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s payload.bin)"; cat payload.bin; } > pae.bin
jq -r '.signatures[0].sig' b1.json | base64 -d > sig0.bin
jq -r '.signatures[1].sig' b1.json | base64 -d > sig1.bin
check "openssl pkeyutl verifies the Ed25519 signature over the PAE bytes" \
	openssl pkeyutl -verify -pubin -inkey keys/ed.pem -rawin -in pae.bin -sigfile sig0.bin
check "openssl pkeyutl verifies the ECDSA P-256 signature over the PAE bytes" \
	openssl pkeyutl -verify -pubin -inkey keys/p256.pem -rawin -digest sha256 -in pae.bin -sigfile sig1.bin
want_keyid=$(openssl pkey -pubin -in keys/ed.pem -outform DER | sha256sum | cut -c1-64)
check "keyid is the SHA-256 of the DER SubjectPublicKeyInfo" test "$(jq -r '.signatures[0].keyid' b1.json)" = "$want_keyid"

# --- measurement and rollback ---------------------------------------------------------------
check "measure serial 1" M b1.json
"$V" policy sign --key keys/ed.key -o b2.json p2.json
check "measure serial 2" M b2.json
cp out m2.out
check "rollback marks live in TPM NV" grep -q "rollback marks: tpm-nv" m2.out
check "two records" test "$(records)" = 2
expect_rc "serial 1 after serial 2 is a rollback" 3 M b1.json
grep -q "rollback refused" err && ok "rollback named in the error" || not_ok "rollback named in the error" "$(cat err)"
jq -c '.mode = "audit"' p2.json > p2other.json
"$V" policy sign --key keys/ed.key -o b2other.json p2other.json
expect_rc "serial 2 with other content is refused" 3 M b2other.json
rm -f serials.json
expect_rc "the NV mark holds without the state file" 3 M b1.json
check "the very same bundle again is accepted (a restart must not fail)" M b2.json
check "three records" test "$(records)" = 3
before=$(pcr23)

# --- every rejection leaves log and PCR untouched ------------------------------------------
"$V" policy sign --key keys/stranger.key -o unknown.json p3.json
jq -c '.payload = "'"$(base64 -w0 p3.json)"'"' b2.json > badsig.json
echo 2 > trust/threshold
"$V" policy sign --key keys/ed.key -o below.json p3.json
expect_rc "below threshold (1 of 2)" 3 M below.json
rm trust/threshold
jq -c '.payloadType = "application/json"' below.json > badtype.json
echo '{"payloadType":' > garbage.json
head -c 100 below.json > truncated.json
{ printf '{"payloadType":"x","payload":"'; head -c $((49 << 20)) /dev/zero | tr '\0' A; printf '"}'; } > big.json
# A policy that fails validation, correctly signed with openssl alone (vigil sign refuses it).
policy 3 '"bogus":1,' > invalid.json
{ printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s invalid.json)"; cat invalid.json; } > inv.pae
openssl pkeyutl -sign -inkey keys/ed.key -rawin -in inv.pae -out inv.sig
jq -n --arg t "$type" --arg p "$(base64 -w0 invalid.json)" --arg k "$want_keyid" \
	--arg s "$(base64 -w0 inv.sig)" '{payloadType:$t,payload:$p,signatures:[{keyid:$k,sig:$s}]}' > invalid.json.b
expect_rc "rejected: a signed policy that fails validation" 3 M invalid.json.b
grep -q bogus err && ok "validation error names the field" || not_ok "validation error names the field" "$(cat err)"
expect_rc "sign refuses an invalid policy" 3 "$V" policy sign --key keys/ed.key invalid.json
for c in unknown badsig badtype garbage truncated big; do
	expect_rc "rejected: $c" 3 M $c.json
done
check "log untouched by rejections" test "$(records)" = 3
check "PCR untouched by rejections" test "$(pcr23)" = "$before"

# --- a crash between a record's durable log line and its extend is rolled forward -------------
# The crash state, made exactly: PCR 23 holds every record but the last.
n=$(records)
tpm2_pcrreset 23 > /dev/null
head -n $((n - 1)) ml.log | jq -r '.digests | map("\(.hashAlg)=\(.digest)") | join(",")' |
	while read -r d; do tpm2_pcrextend "23:$d" > /dev/null; done
expect_rc "crash state: the log is one record ahead of PCR 23" 1 "$V" attest replay --no-start-record --log ml.log
# A live writer's record in flight (logged, extended a moment later) is not a mismatch: replay
# reads again until the register catches up.
( sleep 1; tail -n 1 ml.log | jq -r '.digests | map("\(.hashAlg)=\(.digest)") | join(",")' |
	while read -r d; do tpm2_pcrextend "23:$d" > /dev/null; done ) &
extender=$!
"$V" attest replay --no-start-record --log ml.log > replay.out 2> replay.err
rc=$?
wait $extender
[ $rc = 0 ] && grep -q "read [0-9]* times" replay.out && grep -q "pcr 23 sha256: match" replay.out &&
	ok "a record extended while replay reads: match, after reading again" ||
	not_ok "a record in flight" "rc $rc: $(cat replay.out replay.err | head -c 400)"
tpm2_pcrreset 23 > /dev/null
head -n $((n - 1)) ml.log | jq -r '.digests | map("\(.hashAlg)=\(.digest)") | join(",")' |
	while read -r d; do tpm2_pcrextend "23:$d" > /dev/null; done
check "the restarted measurement continues the log" M b2.json
grep -q "was logged but not extended (a crash): extended now" "$tmp/err" &&
	ok "the crashed record's extend was completed, and said so" ||
	not_ok "the crashed record's extend was completed" "$(head -c 400 "$tmp/err")"
check "one more record" test "$(records)" = $((n + 1))
# Any other mismatch (here: a PCR reset under the log) is still refused.
cp ml.log ml.keep
tpm2_pcrreset 23 > /dev/null
expect_rc "a log that does not replay otherwise is refused" 1 M b2.json
tpm2_pcrreset 23 > /dev/null
jq -r '.digests | map("\(.hashAlg)=\(.digest)") | join(",")' ml.keep |
	while read -r d; do tpm2_pcrextend "23:$d" > /dev/null; done

# --- replay, independently, and against a quote ------------------------------------------------
check "vigil attest replay matches PCR 23" "$V" attest replay --no-start-record --log ml.log
pcr=$(printf '%064d' 0)
while IFS= read -r line; do
	d=$(printf '%s' "$line" | jq -j .content | sha256sum | cut -c1-64)
	test "$d" = "$(printf '%s' "$line" | jq -r '.digests[] | select(.hashAlg == "sha256") | .digest')" ||
		not_ok "record digest is sha256 of its content"
	pcr=$(printf '%s%s' "$pcr" "$d" | xxd -r -p | sha256sum | cut -c1-64)
done < ml.log
check "sha256sum replay of the log equals PCR 23" test "$pcr" = "$(pcr23)"

tpm2_createek -c ek.ctx -G rsa -u ek.pub > /dev/null 2>&1 &&
	tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub -f pem > /dev/null 2>&1
tpm2_flushcontext -t > /dev/null 2>&1
nonce=$(openssl rand -hex 16)
if tpm2_quote -c ak.ctx -l sha256:23 -q "$nonce" -m quote.msg -s quote.sig -o quote.pcrs -g sha256 > quote.yaml 2> err; then
	check "tpm2_checkquote verifies the quote over PCR 23" \
		tpm2_checkquote -u ak.pub -m quote.msg -s quote.sig -f quote.pcrs -g sha256 -q "$nonce"
	quoted=$(sed -n 's/.*23 *: *0x//p' quote.yaml | tr A-F a-f)
	check "the quoted PCR 23 is the replay's prediction" test "$quoted" = "$pcr"
else
	not_ok "tpm2_quote" "$(cat err)"
fi
tpm2_flushcontext -t > /dev/null 2>&1

# --- a fresh log is a fresh chain: the PCR is reset first ------------------------------------
policy 4 > p4.json && "$V" policy sign --key keys/ed.key -o b4.json p4.json
check "measure into a new log" "$V" attest measure --trust-dir trust --log ml2.log b4.json
check "a new log resets PCR 23: its replay matches" "$V" attest replay --no-start-record --log ml2.log
policy 5 > p5.json && "$V" policy sign --key keys/ed.key -o b5.json p5.json
expect_rc "the old log no longer replays: continuing it is refused" 1 M b5.json
grep -q "does not replay" err && ok "refusal says why" || not_ok "refusal says why" "$(cat err)"

# --- the fake TDX tree: RTMR3 receives the record's sha384 digest ------------------------------
mkdir -p fake/measurements && : > fake/measurements/rtmr3:sha384
policy 9 > p9.json && "$V" policy sign --key keys/ed.key -o tdx.json p9.json
check "measure with --platform tdx" "$V" attest measure --trust-dir trust --log tdx.log --no-tpm --state t.json \
	--platform tdx --rtmr fake/measurements/rtmr3:sha384 tdx.json
want=$(jq -r '.digests[] | select(.hashAlg == "sha384") | .digest' tdx.log)
check "fake RTMR3 got the sha384 digest" test "$(xxd -p fake/measurements/rtmr3:sha384 | tr -d '\n')" = "$want"
check "record names rtmr 3" test "$(jq -r .rtmr tdx.log)" = 3

stop_swtpm
echo "test_bundles: $pass passed, $fail failed"
[ "$fail" = 0 ]
