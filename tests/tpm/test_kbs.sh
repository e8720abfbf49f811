#!/usr/bin/env bash
# swtpm + vigil-kbs on loopback: attestation-gated key release (KBS protocol 0.4.0), and every
# refusal the broker (or the client) must make, each with its reason on both sides: replayed and
# expired nonces, a quote bound to another nonce, wrong/duplicated/reordered PCR selections, an
# unknown AK, a tampered measurement log, a tampered JWE, a token of another session, a release
# policy that refuses the policy in force. tpm2_checkquote verifies a vigil quote independently.
set -uo pipefail
# A session keyring of our own: the keys this test releases are possessed here and die with it.
if [ -z "${VIGIL_KBS_SESSION:-}" ] && command -v keyctl > /dev/null; then
	export VIGIL_KBS_SESSION=1
	exec keyctl session - bash "$0" "$@"
fi
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh"
tpm_test_start vigil-tpm-kbs
KBS=$BUILD/vigil-kbs
start_swtpm
export VIGIL_TCTI="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$VIGIL_TCTI
cd "$tmp"
kbs_pid=
stop_kbs() { [ -n "$kbs_pid" ] && kill "$kbs_pid" 2>/dev/null && wait "$kbs_pid" 2>/dev/null; kbs_pid=; }
trap 'stop_kbs; [ -n "${tsm_pid:-}" ] && kill "$tsm_pid" 2> /dev/null; stop_swtpm; rm -rf "$tmp"' EXIT

VD=1111111111111111111111111111111111111111111111111111111111111111
SIGNER=abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd
bundle_rec() { # bundle_rec N NAME SERIAL SIGNER
	record "$1" vigil/policy-bundle \
		"{\"policy\":\"$2\",\"serial\":$3,\"bundle_sha256\":\"22\",\"payload_sha256\":\"33\",\"signers\":[\"$4\"]}"
}
{
	record 0 vigil/agent-start "{\"agent\":\"vigild\",\"vigild_sha256\":\"$VD\"}"
	bundle_rec 1 prod 5 "$SIGNER"
	record 2 vigil/audit-key 'vigil/x+abcd+AAAA'
} > ml.log
extend_log ml.log

# The AK the broker trusts: vigil creates it once (persistent) and exports it.
"$V" attest quote --nonce 00 --out akq > /dev/null 2>&1 || { not_ok "vigil attest quote" "$(cat "$tmp/err" 2>/dev/null)"; }
head -c 32 /dev/urandom > secret.bin
start_kbs() { # start_kbs CONFIG
	stop_kbs
	rm -f port
	"$KBS" --config "$1" --port 0 --port-file port > kbs.out 2> kbs.err &
	kbs_pid=$!
	for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
	URL="http://127.0.0.1:$(cat port)"
}
config() { # config NONCE_TTL ALLOWED_SIGNER MIN_SERIAL [AK-PEM]
	jq -n --argjson ttl "$1" --arg signer "$2" --argjson min "$3" --arg ak "${4:-$tmp/akq/ak.pem}" \
		--arg vd "$VD" --arg secret "$tmp/secret.bin" --arg dlog "$tmp/decisions.jsonl" '{
		nonce_ttl_s: $ttl, token_ttl_s: 60, decision_log: $dlog, trusted_aks: [$ak],
		resources: {"vigil/key/disk": {file: $secret, release: {vigild_sha256: [$vd],
			policies: [{name: "prod", min_serial: $min, signers: [$signer]}]}}}}'
}
config 30 "$SIGNER" 5 > kbs.json
start_kbs kbs.json
keyring=$(keyctl newring vigil-test @s 2>/dev/null) || keyring=
F() { "$V" key fetch --url "$URL" --resource vigil/key/disk --description vigil:disk \
	--keyring "${keyring:-@s}" --log ml.log --retries 1 "$@"; }

# --- the release ---
expect_rc "key fetch: attested, released, measured, in the keyring" 0 F
grep -q "^released .*sha256:$(sha256sum < secret.bin | cut -c1-64)" out &&
	ok "the released key is the broker's resource (digest in the output)" ||
	not_ok "released digest" "$(cat out)"
if [ -n "$keyring" ]; then
	got=$(keyctl pipe "$(keyctl search "$keyring" user vigil:disk)" | sha256sum | cut -c1-64)
	[ "$got" = "$(sha256sum < secret.bin | cut -c1-64)" ] && ok "keyctl reads the released key" ||
		not_ok "keyctl reads the released key" "$got"
fi
tail -n1 ml.log | jq -e --arg d "$(sha256sum < secret.bin | cut -c1-64)" \
	'.content_type == "vigil/key-release" and (.content | fromjson | .key_sha256 == $d and (.uri | endswith("/kbs/v0/resource/vigil/key/disk")))' > /dev/null &&
	ok "the release is measured: URI and key digest in the log" || not_ok "release record" "$(tail -n1 ml.log)"
grep -q "$(od -An -tx1 secret.bin | tr -d ' \n')" ml.log && not_ok "the key itself is not in the log" || ok "the key itself is not in the log"
expect_rc "the log (with the release record) still replays against PCR 23" 0 "$V" attest replay --log ml.log
tail -n1 decisions.jsonl | jq -e '.op == "resource" and .allowed == true and .evidence.vigild_sha256 != null and .evidence.report_data_len == 64' > /dev/null &&
	ok "decision log: the release, with the evidence it rested on" || not_ok "decision log" "$(tail -n2 decisions.jsonl)"
expect_rc "key fetch with an RSA ephemeral key (RSA-OAEP-256)" 0 F --key-alg rsa --description vigil:disk-rsa
expect_rc "key list shows the released keys" 0 "$V" key list --keyring "${keyring:-@s}"
grep -q "vigil:disk-rsa" out && ok "key list names vigil:disk-rsa" || not_ok "key list" "$(cat out)"

# --- refusals: exit 1, one line naming the reason; the broker logs it too ---
refused() { # refused NAME BROKER-REASON-PATTERN FETCH-ARGS...
	local name=$1 pat=$2
	shift 2
	expect_fail "$name" 1 "$pat" F "$@"
	if tail -n3 decisions.jsonl | jq -r 'select(.allowed == false) | .reason' | grep -Eq -- "$pat"; then
		ok "$name: in the broker's decision log"
	else
		not_ok "$name: in the broker's decision log" "$(tail -n3 decisions.jsonl)"
	fi
}
refused "replayed nonce" "nonce already used" --fault replay
refused "quote bound to another nonce" "qualifying data is not the nonce binding" --fault wrong-nonce
refused "quote over the wrong PCRs (0-22)" "not registers 0-23 exactly" --pcrs sha256:0-22
refused "duplicated PCR selection (sha256 bank twice)" "names bank 0xb twice" --pcrs sha256:0-23+sha256:0-23
refused "reordered PCR selection (16-23 then 0-15)" "names bank 0xb twice" --pcrs sha256:16-23+sha256:0-15
refused "tampered measurement log (recomputed record digest)" "replay does not reproduce the quoted PCR 23" --fault tamper-log
refused "token of another session" "token of another session" --fault other-session
expect_fail "no measurement log: no evidence, nothing fetched" 1 "cannot read the measurement log $tmp/none.log" F --log "$tmp/none.log"
expect_fail "tampered JWE: the client refuses it" 1 "authentication failed" F --fault tamper-jwe
[ -z "$keyring" ] || ! keyctl search "$keyring" user vigil:disk-x > /dev/null 2>&1 && ok "nothing placed on a refusal"

"$V" attest quote --ak ecc --nonce 00 --out akqe > /dev/null 2>&1
config 30 "$SIGNER" 5 "$tmp/akqe/ak.pem" > kbs-ecc.json
start_kbs kbs-ecc.json
expect_rc "key fetch with an ECC P-256 AK (ECDSA quote) the broker trusts" 0 F --ak ecc --description vigil:disk-ecc
refused "the RSA AK is unknown to a broker that trusts only the ECC one" "unknown AK"
config 1 "$SIGNER" 5 > kbs-ttl.json
start_kbs kbs-ttl.json
refused "expired nonce (TTL 1 s, attest after 3 s)" "nonce expired" --fault stale:3

# An AK the broker does not know.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2> /dev/null | openssl pkey -pubout > other-ak.pem
config 30 "$SIGNER" 5 other-ak.pem > kbs-ak.json
start_kbs kbs-ak.json
refused "unknown AK" "unknown AK"

# The release policy: a policy bundle it does not accept (another signer; a lower serial).
config 30 "$SIGNER" 6 > kbs-serial.json
start_kbs kbs-serial.json
refused "policy serial below the release policy's minimum" 'policy "prod" serial 5 is not allowed \(serial below min_serial\)'
config 30 "ffff" 5 > kbs-signer.json
start_kbs kbs-signer.json
refused "policy signed by a signer the release policy does not list" "no allowed signer"

# Trustee's older `tpm` verifier: the first 32 bytes of the binding digest (the default, as
# Trustee's current one, is all 48 zero-padded to 64: the release above).
jq '.report_data_len = 32' kbs.json > kbs-32.json
start_kbs kbs-32.json
expect_rc "report data of 32 bytes (the binding's first half) when the broker expects it" 0 F --report-data 32 --description vigil:disk32
grep '"op":"attest"' decisions.jsonl | tail -n 1 | grep -q '"report_data_len":32' &&
	ok "... the broker's decision names the 32-byte layout" || not_ok "decision names 32" "$(tail -n 2 decisions.jsonl)"
refused "default (64-byte) report data to a broker that expects 32" "qualifying data is not the nonce binding"
refused "explicit 64-byte report data to a broker that expects 32" "qualifying data is not the nonce binding" --report-data 64

# After a refusal the operator (or vigild's trigger) revokes what was released.
if [ -n "$keyring" ]; then
	id=$(keyctl search "$keyring" user vigil:disk)
	expect_rc "key revoke" 0 "$V" key revoke --description vigil:disk --keyring "$keyring" --log ml.log
	keyctl pipe "$id" > /dev/null 2>&1 && not_ok "a revoked key cannot be read" || ok "a revoked key cannot be read"
	tail -n1 ml.log | jq -e '.content_type == "vigil/key-revoke"' > /dev/null && ok "the revocation is measured" ||
		not_ok "revocation measured" "$(tail -n1 ml.log)"
fi
# --- the firmware event log (binary_bios_measurements) travels as "eventlog"; swtpm on the host
# has no firmware behind it, so the test plays the firmware: a TCG log written by
# tests/tpm/fwlog.py, its SHA-256 digests extended into PCRs 0-7 with tpm2_pcrextend ---
python3 "$top/tests/tpm/fwlog.py" fw.bin fw.extend
ext_ok=1
while read -r e; do tpm2_pcrextend "$e" > /dev/null 2>&1 || ext_ok=0; done < fw.extend
[ "$ext_ok" = 1 ] && ok "firmware events extended into PCRs 0-7 (tpm2_pcrextend)" || not_ok "tpm2_pcrextend"
start_kbs kbs.json
expect_rc "key fetch sends the firmware event log (--firmware-log FILE)" 0 F --firmware-log "$tmp/fw.bin" --description vigil:disk-fw
tail -n1 decisions.jsonl | jq -e --arg d "$(sha256sum < fw.bin | cut -c1-64)" '.allowed == true and .evidence.firmware_log_sha256 == $d' > /dev/null &&
	ok "the broker replayed the firmware log against PCRs 0-7 and names it by digest" || not_ok "firmware log digest" "$(tail -n1 decisions.jsonl)"
cp fw.bin fw-bad.bin
hdr=$(python3 -c 'import struct; b=open("fw.bin","rb").read(); print(32 + struct.unpack("<I", b[28:32])[0])')
printf '\x05' | dd of=fw-bad.bin bs=1 seek="$hdr" conv=notrunc 2> /dev/null
refused "a firmware log whose first event is moved to PCR 5" "firmware event log: its 15 events replay PCR 0 to" --firmware-log "$tmp/fw-bad.bin"
head -c 3000 /dev/urandom > fw-junk.bin
refused "a firmware log that is not a TCG log" "firmware event log: " --firmware-log "$tmp/fw-junk.bin"
jq '.require_firmware_log = true' kbs.json > kbs-fw.json
start_kbs kbs-fw.json
refused "no firmware event log to a broker that requires one" "no firmware event log" --firmware-log none
expect_rc "... and with it, released" 0 F --firmware-log "$tmp/fw.bin" --description vigil:disk-fw2

# --- TDX / SNP evidence on a FAKE configfs-tsm tree (no TDX/SNP hardware exists here). outblob is
# a FIFO whose writer answers each read with a RECORDED report (tests/data/tee, from Trustee's
# test data) whose report data is replaced by the report data just written to inblob (TDX quote
# v4: at 568; SNP: at 0x50). The recorded report data matches no nonce of ours, hence the patch;
# the patched copy's signature is no longer valid, and the broker checks the binding only. ---
tsm_pid=
tsm_fake() { # tsm_fake PROVIDER SAMPLE OFFSET
	[ -n "$tsm_pid" ] && kill "$tsm_pid" 2> /dev/null && wait "$tsm_pid" 2> /dev/null
	rm -rf tsm && mkdir -p tsm/vigil
	printf '%s\n' "$1" > tsm/vigil/provider
	echo 1 > tsm/vigil/generation
	mkfifo tsm/vigil/outblob
	(while :; do { head -c "$3" "$2"; head -c 64 tsm/vigil/inblob; tail -c +$(($3 + 65)) "$2"; } > tsm/vigil/outblob; done) &
	tsm_pid=$!
}
start_kbs kbs.json
tsm_fake tdx_guest "$top/tests/data/tee/tdx_quote_4.dat" 568
expect_rc "TDX (fake tree): the quote travels as additional_evidence, released" 0 F --tsm-root "$tmp/tsm" --description vigil:disk-tdx
tail -n1 decisions.jsonl | jq -e '.allowed == true and .evidence.tee_report.platform == "tdx" and .evidence.tee_report.report_data_bound == true and .evidence.tee_report.signature_verified == false' > /dev/null &&
	ok "the broker bound the TDX report to the nonce and says its signature is not verified" || not_ok "tdx claim" "$(tail -n1 decisions.jsonl)"
tail -n1 decisions.jsonl | jq -e --arg m "$(xxd -p -s 184 -l 48 -c 48 "$top/tests/data/tee/tdx_quote_4.dat")" '.evidence.tee_report.version == 4 and .evidence.tee_report.measurement == $m and .evidence.tee_report.tcb == "03000500000000000000000000000000"' > /dev/null &&
	ok "... its claim carries the recorded quote's MRTD and TEE_TCB_SVN" || not_ok "tdx measurement claim" "$(tail -n1 decisions.jsonl)"
refused "TDX report bound to another nonce (checked by the broker)" "tdx report: its report data is not the nonce binding" --tsm-root "$tmp/tsm" --fault wrong-nonce
jq '.require_tee_report = "snp"' kbs.json > kbs-snp.json
start_kbs kbs-snp.json
refused "a TDX report where the broker requires SNP" "a tdx report where require_tee_report is snp" --tsm-root "$tmp/tsm"
refused "no TEE report where the broker requires one" "no snp report in additional_evidence" --tsm-root none
tsm_fake sev_guest "$top/tests/data/tee/snp-report-v2.bin" 80
expect_rc "SNP (fake tree): the report travels as additional_evidence, released" 0 F --tsm-root "$tmp/tsm" --description vigil:disk-snp
tail -n1 decisions.jsonl | jq -e '.allowed == true and .evidence.tee_report.platform == "snp" and .evidence.tee_report.report_data_bound == true' > /dev/null &&
	ok "the broker bound the SNP report to the nonce" || not_ok "snp claim" "$(tail -n1 decisions.jsonl)"
# The client sends the SNP report in Trustee's JSON layout (SnpEvidence.attestation_report); the
# broker rebuilds the raw report from it: the recorded report's measurement and TCB come through.
tail -n1 decisions.jsonl | jq -e --arg m "$(xxd -p -s 0x90 -l 48 -c 48 "$top/tests/data/tee/snp-report-v2.bin")" '.evidence.tee_report.version == 2 and .evidence.tee_report.measurement == $m and .evidence.tee_report.tcb == "0300000000000873"' > /dev/null &&
	ok "... from Trustee's JSON layout: the recorded report's measurement and REPORTED_TCB" || not_ok "snp layout claim" "$(tail -n1 decisions.jsonl)"
refused "SNP report bound to another nonce (checked by the broker)" "snp report: its report data is not the nonce binding" --tsm-root "$tmp/tsm" --fault wrong-nonce
kill "$tsm_pid" 2> /dev/null
wait "$tsm_pid" 2> /dev/null
tsm_pid=

# --- TLS: the broker serves HTTPS with a certificate from a CA made here; the client trusts
# exactly the CA its --cafile names (vigild's --kbs-cafile is the same option) ---
mkcert() { # mkcert NAME: NAME-ca.pem, and NAME.pem/NAME.key for 127.0.0.1 signed by it
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$1 test CA" \
		-keyout "$1-ca.key" -out "$1-ca.pem" 2> /dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
			-keyout "$1.key" -out "$1.csr" 2> /dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$1.ext" &&
		openssl x509 -req -in "$1.csr" -CA "$1-ca.pem" -CAkey "$1-ca.key" -CAcreateserial -days 2 \
			-extfile "$1.ext" -out "$1.pem" 2> /dev/null
}
check "a test CA and a broker certificate for 127.0.0.1 (openssl)" mkcert tls
mkcert rogue > /dev/null 2>&1
jq --arg c "$tmp/tls.pem" --arg k "$tmp/tls.key" '.tls_cert = $c | .tls_key = $k' kbs.json > kbs-tls.json
start_kbs kbs-tls.json
grep -q "listening on https://" kbs.out && ok "vigil-kbs serves HTTPS when its config names tls_cert and tls_key" ||
	not_ok "vigil-kbs on https" "$(cat kbs.out kbs.err)"
URL=${URL/http:/https:}
expect_rc "key fetch over HTTPS with --cafile naming the broker's CA" 0 F --cafile "$tmp/tls-ca.pem" --description vigil:disk-tls
[ -z "$keyring" ] || {
	got=$(keyctl pipe "$(keyctl search "$keyring" user vigil:disk-tls)" | sha256sum | cut -c1-64)
	[ "$got" = "$(sha256sum < secret.bin | cut -c1-64)" ] && ok "... the key released over TLS is the broker's" ||
		not_ok "key over TLS" "$got"
}
expect_fail "HTTPS with another CA in --cafile: refused, nothing released" 1 "kbs: .*(certificate|SSL|TLS)" F --cafile "$tmp/rogue-ca.pem" --description vigil:disk-rogue
[ -z "$keyring" ] || ! keyctl search "$keyring" user vigil:disk-rogue > /dev/null 2>&1 && ok "nothing placed when the broker's certificate is not trusted"
# A certificate that fails verification is not retried: with --retries 5 a retry loop would
# wait 0.1+0.2+0.4+0.8+1.6 s and say "after 6 tries"; the client fails at once, saying why.
t0=$(date +%s%N)
expect_fail "untrusted broker certificate with --retries 5: not retried, one line" 1 "TLS: .*certificate verification failed; not retried" F --cafile "$tmp/rogue-ca.pem" --retries 5 --description vigil:disk-rogue
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 1500 ] && ! grep -q "tries)" "$tmp/err"; then
	ok "... it failed at once ($ms ms, no retry)"
else
	not_ok "TLS failure retried" "$ms ms: $(cat "$tmp/err")"
fi
URL=${URL/https:/http:}
expect_fail "plain HTTP to the TLS broker: refused" 1 "kbs: " F --description vigil:disk-plain
jq --arg c "$tmp/tls.pem" --arg k "$tmp/rogue.key" '.tls_cert = $c | .tls_key = $k' kbs.json > kbs-badtls.json
expect_fail "a tls_key that is not tls_cert's: the broker refuses to start, one line" 3 "tls_key is not tls_cert's key" "$KBS" --config kbs-badtls.json --port 0
# --- AK-to-EK binding: a broker that trusts this TPM's EK (not the AK) learns the AK through
# MakeCredential (in the broker, OpenSSL) / ActivateCredential (in the TPM) ---
openssl pkey -pubin -inform DER -in akq/ek.der -out ek-trusted.pem 2> /dev/null ||
	not_ok "the EK exported by vigil attest quote" "$(ls akq)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2> /dev/null | openssl pkey -pubout > ek-other.pem
jq --arg ek "$tmp/ek-trusted.pem" 'del(.trusted_aks) | .trusted_eks = [$ek]' kbs.json > kbs-ek.json
start_kbs kbs-ek.json
expect_fail "AK not yet enrolled: unknown to a broker that trusts only the EK" 1 "unknown AK" F --description vigil:disk-ek
expect_rc "key fetch --enroll: MakeCredential/ActivateCredential binds the AK to the EK, then released" 0 F --enroll --description vigil:disk-ek
grep '"op":"ak-activate"' decisions.jsonl | tail -n 1 | jq -e \
	--arg ak "$(openssl pkey -pubin -in akq/ak.pem -outform DER | sha256sum | cut -c1-64)" \
	--arg ek "$(sha256sum < akq/ek.der | cut -c1-64)" \
	'.allowed == true and .evidence.ek_sha256 == $ek and .evidence.ak_sha256 == $ak' > /dev/null &&
	ok "decision log: the activation, naming the EK and the AK" || not_ok "ak-activate decision" "$(grep ak- decisions.jsonl | tail -n 2)"
expect_rc "the enrolled AK is trusted from then on (no --enroll)" 0 F --description vigil:disk-ek2
start_kbs kbs-ek.json # a fresh broker: enrollments live in its memory only
expect_fail "an EK the broker does not trust: enrollment refused" 1 "EK not trusted" F --enroll --fault other-ek:"$tmp/ek-other.pem" --description vigil:disk-x
jq --arg ek "$tmp/ek-other.pem" '.trusted_eks = [$ek]' kbs-ek.json > kbs-ek-other.json
start_kbs kbs-ek-other.json
expect_fail "a trusted EK of another TPM: this TPM cannot activate the credential" 1 "ActivateCredential" F --enroll --fault other-ek:"$tmp/ek-other.pem" --description vigil:disk-x
start_kbs kbs-ek.json
expect_fail "a wrong activation secret: refused, the AK stays untrusted" 1 "credential not activated" F --enroll --fault bad-secret --description vigil:disk-x
expect_fail "... and the attestation that follows is refused (unknown AK)" 1 "unknown AK" F --description vigil:disk-x
[ -z "$keyring" ] || ! keyctl search "$keyring" user vigil:disk-x > /dev/null 2>&1 && ok "nothing placed without a bound AK"
stop_kbs

# --- tpm2_checkquote verifies a vigil quote, with the broker's binding recomputed here ---
echo '{"kty":"EC","crv":"P-256","alg":"ECDH-ES+A256KW","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}' > jwk.json
nonce=$(head -c 32 /dev/urandom | base64)
"$V" attest binding --nonce "$nonce" --jwk jwk.json > bind.out
want=$(python3 -c 'import hashlib,json,sys
jwk=json.load(open("jwk.json"))
s=json.dumps({"additional-evidence":"","nonce":sys.argv[1],"tee-pubkey":jwk},sort_keys=True,separators=(",",":"),ensure_ascii=False)
print(hashlib.sha384(s.encode()).hexdigest())' "$nonce")
[ "$(sed -n 2p bind.out)" = "$want" ] && ok "binding digest equals an independent JCS+SHA-384" ||
	not_ok "binding digest" "$(cat bind.out)" "$want"
# The report data vigild and the broker use by default: the 48-byte binding zero-padded to 64.
qd="$(sed -n 2p bind.out)$(printf '0%.0s' $(seq 32))"
[ ${#qd} = 128 ] || not_ok "64-byte report data" "$qd"
check "vigil attest quote with the binding as qualifying data" "$V" attest quote --nonce "$qd" --out q
check "tpm2_checkquote verifies it (signature, nonce)" tpm2_checkquote -u q/ak.pem -m q/message -s q/signature -q "$qd" -g sha256
[ "$(tail -c 32 q/message | od -An -tx1 | tr -d ' \n')" = "$(tr -d '\n' < q/pcrs | xxd -r -p | sha256sum | cut -c1-64)" ] &&
	ok "the quoted PCR digest is SHA-256 of the 24 reported PCR values" || not_ok "pcr digest"
check "an ECC AK quotes too" "$V" attest quote --nonce "$qd" --out qe --ak ecc
check "tpm2_checkquote verifies the ECC quote" tpm2_checkquote -u qe/ak.pem -m qe/message -s qe/signature -q "$qd" -g sha256
expect_rc "tpm2_checkquote refuses another nonce" 1 tpm2_checkquote -u q/ak.pem -m q/message -s q/signature -q "00$qd" -g sha256

# The EK: vigil's re-derived RSA EK public key is the one tpm2-tools derives (TCG template L-1).
check "tpm2_createek (RSA)" tpm2_createek -c ek.ctx -G rsa -u ek.pem -f pem
tpm2_flushcontext -t > /dev/null 2>&1
[ "$(openssl pkey -pubin -in ek.pem -outform DER | sha256sum)" = "$(sha256sum < q/ek.der)" ] &&
	ok "vigil's EK public key equals tpm2_createek's" || not_ok "EK public key" "$(openssl pkey -pubin -inform DER -in q/ek.der -text -noout 2>&1 | head -3)"
[ ! -e q/ek-cert.der ] && ok "no EK certificate exported where swtpm has none" || not_ok "ek-cert.der without a certificate"
# A certificate in the TCG EK certificate index (a self-signed stand-in, 1.4 KB: read in chunks).
openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj /CN=ek -days 1 -outform DER -out cert.der 2> /dev/null
tpm2_nvdefine 0x1c00002 -C o -s "$(stat -c %s cert.der)" -a "ownerwrite|ownerread|authread|authwrite|no_da" > /dev/null &&
	tpm2_nvwrite 0x1c00002 -C o -i cert.der > /dev/null
check "vigil attest quote exports the EK certificate" "$V" attest quote --nonce "$qd" --out qc
cmp -s cert.der qc/ek-cert.der && ok "... byte for byte" || not_ok "EK certificate" "$(ls -l qc)"

# A command the TPM refuses (the EK under an endorsement password vigil does not know): one
# stderr line, naming the command and the failure's kind, never tss2's or the library's own.
tpm2_changeauth -c e vigil-test > /dev/null
expect_fail "a TPM refusal in vigil attest quote: one line naming the command" 1 \
	'^vigil: attest quote: tpm: command refused by the TPM \(CreatePrimary\(EK\): response code 0x[0-9a-f]+\)$' \
	"$V" attest quote --nonce "$qd" --out qr
tpm2_changeauth -c e -p vigil-test > /dev/null

echo "kbs: $pass passed, $fail failed"
[ "$fail" = 0 ]
