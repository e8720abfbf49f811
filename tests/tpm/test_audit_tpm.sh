#!/usr/bin/env bash
# swtpm: audit checkpoints signed by a TPM-resident ECDSA P-256 key; vigil log verify and openssl
# verify them; the key cannot leave the TPM; checkpoints signed by any other key are refused.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh"
tpm_test_start vigil-tpm-audit

# The helper links the library as vigild does (Makefile's flags and packages).
make -s -C "$top" BUILD="$BUILD" "$BUILD/libvigil.a" > /dev/null || exit 1
PKGS="libbpf libelf zlib openssl jansson liburing tss2-esys tss2-tctildr tss2-mu libcurl libprotobuf-c"
# shellcheck disable=SC2046
${CC:-gcc} -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top" -I"$BUILD/bpf" \
	$(pkg-config --cflags $PKGS) "$top/tests/tpm/audit_tpm_writer.c" "$BUILD/libvigil.a" \
	$(pkg-config --libs $PKGS) -lpthread -o "$tmp/writer" || exit 1
W=$tmp/writer

start_swtpm
T="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$T
cd "$tmp"
mkdir -p state
# A file key from before the TPM: the TPM key retires it.
printf 'stale' > state/audit-key.pem && chmod 600 state/audit-key.pem

check "a log written with the TPM key" "$W" write "$T" state log 35
check "the key blob is mode 0600" test "$(stat -c %a state/audit-key.tpm)" = 600
check "the old file key is gone" test ! -e state/audit-key.pem
expect_rc "vigil log verify with the pinned TPM vkey" 0 "$V" log verify --pubkey log/audit.vkey log
grep -q "records 1-36 are covered by a signed checkpoint" out && ok "every record is covered" ||
	not_ok "every record is covered" "$(cat out)"

# The vkey: name+id+base64(0x02 || SPKI); id = SHA-256(SPKI)[:4] (C2SP signed-note, type 0x02).
vkey=$(cat log/audit.vkey)
name=${vkey%%+*} rest=${vkey#*+}
keyid=${rest%%+*}
base64 -d <<< "${rest#*+}" > raw.bin
check "signature type byte is 0x02 (ECDSA)" test "$(head -c 1 raw.bin | od -An -tx1 | tr -d ' ')" = 02
tail -c +2 raw.bin > spki.der
check "the key is P-256" sh -c 'openssl pkey -pubin -inform DER -in spki.der -text -noout | grep -q "NIST CURVE: P-256"'
check "key id is SHA-256(SPKI)[:4]" test "$(sha256sum < spki.der | cut -c1-8)" = "$keyid"
check "the start record names the same key" \
	test "$(jq -r 'select(.k == "start") | .pubkey' log/audit.000001.jsonl)" = "$(base64 -w0 < spki.der)"

# openssl alone verifies a checkpoint: ECDSA-SHA256 over the note text, DER signature.
head -n 1 log/checkpoints.jsonl | jq -j .note > note
head -n 3 note > body
sed -n 5p note | cut -d' ' -f3 | base64 -d > sigblob
check "the signature line carries the key id" test "$(head -c 4 sigblob | od -An -tx1 | tr -d ' \n')" = "$keyid"
tail -c +5 sigblob > sig.der
check "openssl verifies the TPM's checkpoint signature" \
	openssl dgst -sha256 -verify spki.der -keyform DER -signature sig.der body

# A restart loads the same key from its blob: one key for the whole log.
check "a second run continues the log" "$W" write "$T" state log 12
check "same vkey after the restart" test "$(cat log/audit.vkey)" = "$vkey"
cp log/audit.vkey pinned.vkey
expect_rc "both runs verify under the pinned vkey" 0 "$V" log verify --pubkey pinned.vkey log

# The private key never leaves the TPM: fixedTPM, fixedParent, born inside it; Duplicate refused.
check "the loaded key: fixedTPM, fixedParent, sensitiveDataOrigin, sign; TPM2_Duplicate refused" "$W" dup "$T" state/audit-key.tpm
grep -q "fixedTPM=1 fixedParent=1 sensitiveDataOrigin=1 sign=1" out &&
	grep -q "duplicate rc 0x[1-9a-f]" out && ok "attributes and refusal: $(tr '\n' ' ' < out)" ||
	not_ok "attributes and refusal" "$(cat out)"
size=$((0x$(head -c 2 state/audit-key.tpm | od -An -tx1 | tr -d ' \n')))
head -c $((size + 2)) state/audit-key.tpm > pub.bin
tpm2_print -t TPM2B_PUBLIC pub.bin > pub.txt 2>&1
grep -q "fixedtpm" pub.txt && grep -q "fixedparent" pub.txt && grep -q "sensitivedataorigin" pub.txt &&
	ok "tpm2_print: the public area says fixedtpm|fixedparent|sensitivedataorigin" ||
	not_ok "tpm2_print shows the attributes" "$(head -c 400 pub.txt)"

# A forged checkpoint: the TPM key's name and id, the chain's true root, another P-256 key.
openssl ecparam -name prime256v1 -genkey -noout -out other.key 2> /dev/null
n=$(tail -n 1 log/audit.*.jsonl | tail -n 1 | jq -r .n)
root=$(tail -n 1 log/audit.*.jsonl | tail -n 1 | jq -r .h | xxd -r -p | base64 -w0)
printf '%s\n%s\n%s\n' "$name" "$n" "$root" > fbody
openssl dgst -sha256 -sign other.key -out fsig.der fbody
fsig=$( { printf '%s' "$keyid" | xxd -r -p; cat fsig.der; } | base64 -w0)
cp -a log forged
jq -nc --argjson n "$n" --arg note "$(cat fbody; printf '\n\xe2\x80\x94 %s %s\n' "$name" "$fsig")" \
	'{n:$n,note:($note + "\n")}' >> forged/checkpoints.jsonl
expect_fail "a checkpoint signed by another key is refused" 1 \
	"bad checkpoint.*signature does not verify" "$V" log verify --pubkey pinned.vkey forged
expect_fail "unpinned too (the log's own start records name the TPM key)" 1 \
	"bad checkpoint.*signature does not verify" "$V" log verify forged

# No fallback: when the TPM cannot be reached, no key and no log (never a quiet file key).
mkdir -p flog fstate
"$W" write none fstate flog 5 2> /dev/null
check "without the TPM nothing is written and no file key appears" \
	test ! -e flog/audit.000001.jsonl -a ! -e fstate/audit-key.pem
stop_swtpm
echo "test_audit_tpm: $pass passed, $fail failed"
[ "$fail" = 0 ]
