#!/usr/bin/env bash
# swtpm: `vigil attest verify`, offline and in one command: quote -> PCRs -> measurement log ->
# vigild, policies, audit key and checkpoint -> the audit log up to that checkpoint. Each link
# broken on its own is refused with one line saying which.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh"
tpm_test_start vigil-tpm-kbs-verify
make -s -C "$top" BUILD="$BUILD" "$BUILD/libvigil.a" > /dev/null || exit 1
PKGS="libbpf libelf zlib openssl jansson liburing tss2-esys tss2-tctildr tss2-mu libcurl libprotobuf-c"
# shellcheck disable=SC2046
${CC:-gcc} -O1 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$top" -I"$BUILD/bpf" \
	$(pkg-config --cflags $PKGS) "$top/tests/tpm/kbs_writer.c" "$BUILD/libvigil.a" \
	$(pkg-config --libs $PKGS) -lpthread -o "$tmp/writer" || exit 1
start_swtpm
export VIGIL_TCTI="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$VIGIL_TCTI
cd "$tmp"
mkdir -p state audit
check "vigild's artefacts written (measurement log, TPM-signed audit log)" "$tmp/writer" write "$VIGIL_TCTI" state audit ml.log 35
check "the AK is exported once" "$V" attest quote --nonce 00 --out akq
nonce=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "vigil attest evidence" "$V" attest evidence --nonce "$nonce" --out ev.json --log ml.log
VF() { "$V" attest verify --evidence "$1" --ak "${AK:-akq/ak.pem}" --nonce "${N:-$nonce}" --audit-dir "${D:-audit}" "${@:2}"; }
expect_rc "vigil attest verify: the whole chain" 0 VF ev.json
grep -q "^vigild: sha256 1111" out && grep -q "^policy: prod serial 7" out && grep -q "^audit: .*covered" out &&
	ok "it names vigild, the policy and the audit coverage" || not_ok "summary" "$(cat out)"
expect_rc "with the expected vigild digest" 0 VF ev.json --vigild-sha256 1111111111111111111111111111111111111111111111111111111111111111
expect_fail "another vigild digest expected" 1 "not the expected --vigild-sha256" VF ev.json --vigild-sha256 2222222222222222222222222222222222222222222222222222222222222222
N=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n') expect_fail "another nonce" 1 "qualifying data" VF ev.json
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2> /dev/null | openssl pkey -pubout > other.pem
AK=other.pem expect_fail "another trusted AK" 1 "not the trusted AK" VF ev.json
jq '.tpm_quote.pcrs[0] |= (if .[0:2]=="00" then "11"+.[2:] else "00"+.[2:] end)' ev.json > bad-pcr.json
expect_fail "a reported PCR changed" 1 "do not hash to the quoted PCR digest" VF bad-pcr.json
python3 - ev.json bad-log.json <<'PY'
import base64, json, sys
ev = json.load(open(sys.argv[1]))
lines = base64.b64decode(ev["vigil_measurement_log"]).decode().splitlines()
ev["vigil_measurement_log"] = base64.b64encode(("\n".join(lines[:-1]) + "\n").encode()).decode()
json.dump(ev, open(sys.argv[2], "w"))
PY
expect_fail "the measurement log truncated" 1 "replay does not reproduce the quoted PCR 23" VF bad-log.json
# --- the firmware event log: a crypto-agile TCG log (SHA-1 and SHA-256 digests) written here by a
# second implementation (Python), its SHA-256 digests extended into swtpm's PCRs 0-7 by
# tpm2_pcrextend, as firmware would; `attest verify` replays it against the quoted PCRs 0-7 ---
python3 "$top/tests/tpm/fwlog.py" fw.log fw.extend
ext_ok=1
while read -r e; do tpm2_pcrextend "$e" > /dev/null 2>&1 || ext_ok=0; done < fw.extend
[ "$ext_ok" = 1 ] && ok "firmware events extended into PCRs 0-7 (tpm2_pcrextend, $(wc -l < fw.extend) events)" || not_ok "tpm2_pcrextend"
n2=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "vigil attest evidence --firmware-log" "$V" attest evidence --nonce "$n2" --out ev-fw.json --log ml.log --firmware-log fw.log --tsm-root none
N=$n2 expect_rc "verify: the firmware log replays to the quoted PCRs 0-7" 0 VF ev-fw.json
grep -q "^firmware: 15 events replay to the quoted PCRs 0-7" out && ok "... it says so (15 events, EV_NO_ACTION counted, not extended)" || not_ok "firmware summary" "$(cat out)"
N=$nonce expect_rc "verify: evidence without a firmware log still verifies" 0 VF ev.json
grep -q "^firmware: no event log in the evidence" out && ok "... and says PCRs 0-7 were not checked" || not_ok "no-fwlog summary" "$(cat out)"
tamper_fw() { # OUT PYTHON-EXPR-ON-LOG (bytearray b): ev-fw.json with its eventlog changed
	python3 - ev-fw.json "$1" "$2" << 'PY'
import base64, json, sys
ev = json.load(open(sys.argv[1]))
b = bytearray(base64.b64decode(ev["eventlog"]))
exec(sys.argv[3])
ev["eventlog"] = base64.b64encode(bytes(b)).decode()
json.dump(ev, open(sys.argv[2], "w"))
PY
}
# The first event after the header: its SHA-256 digest starts 12 + 2 + 20 + 2 bytes in.
hdr=$(python3 -c 'import struct,sys; b=open("fw.log","rb").read(); print(32 + struct.unpack("<I", b[28:32])[0])')
tamper_fw fw-digest.json "b[$hdr + 36] ^= 1"
N=$n2 expect_fail "a firmware event's SHA-256 digest changed: one line naming the PCR" 1 "firmware event log: its 15 events replay PCR 0 to .*, the quote has" VF fw-digest.json
tamper_fw fw-pcr.json "b[$hdr] = 5"
N=$n2 expect_fail "a firmware event moved to another PCR (0 -> 5)" 1 "firmware event log: .*replay PCR 0 to" VF fw-pcr.json
tamper_fw fw-drop.json "import struct; h=$hdr; n=12+22+34; sz=struct.unpack('<I', b[h+n:h+n+4])[0]; del b[h:h+n+4+sz]"
N=$n2 expect_fail "the first firmware event removed" 1 "firmware event log: its 14 events replay PCR 0" VF fw-drop.json
tamper_fw fw-cut.json "del b[$hdr + 40:]"
N=$n2 expect_fail "the firmware log cut inside an event" 1 "firmware event log: event 0 at offset $hdr is cut short" VF fw-cut.json
tamper_fw fw-sha1.json "b[32:48] = b'Spec ID Event02\\0'"
N=$n2 expect_fail "a log that is not crypto-agile" 1 "only the crypto-agile format is read" VF fw-sha1.json

# --- the TEE report on a FAKE configfs-tsm tree: a recorded report (tests/data/tee) whose report
# data is patched to the nonce (no TDX/SNP hardware here; the patched copy's signature is void) ---
tee_tree() { # PROVIDER SAMPLE OFFSET NONCE
	rm -rf tsm && mkdir -p tsm/vigil && printf '%s\n' "$1" > tsm/vigil/provider && echo 1 > tsm/vigil/generation
	cp "$2" tsm/vigil/outblob
	printf '%s%064x' "$4" 0 | xxd -r -p | dd of=tsm/vigil/outblob bs=1 seek="$3" conv=notrunc 2> /dev/null
}
n3=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
tee_tree tdx_guest "$top/tests/data/tee/tdx_quote_4.dat" 568 "$n3"
check "vigil attest evidence on a TDX guest (fake tree)" "$V" attest evidence --nonce "$n3" --out ev-tdx.json --log ml.log --firmware-log fw.log --tsm-root tsm
N=$n3 expect_rc "verify: quote, firmware log and the TDX report in one command" 0 VF ev-tdx.json
grep -q "^tee: tdx report v4, report data = the nonce, MRTD 705ee9381b8633a9" out && ok "... it names the TDX report, its MRTD, and says the signature chain is not verified" || not_ok "tee summary" "$(cat out)"
jq --arg q "$(base64 -w0 "$top/tests/data/tee/tdx_quote_4.dat")" '.vigil_tee_evidence.tdx.quote = $q' ev-tdx.json > ev-tdx-other.json
N=$n3 expect_fail "a TDX report bound to another report data (the recorded one, unpatched)" 1 "the TDX report's report data is not the nonce" VF ev-tdx-other.json
tee_tree sev_guest "$top/tests/data/tee/snp-report-v2.bin" 80 "$n3"
check "vigil attest evidence on an SNP guest (fake tree)" "$V" attest evidence --nonce "$n3" --out ev-snp.json --log ml.log --firmware-log none --tsm-root tsm
N=$n3 expect_rc "verify: the SNP report (Trustee's JSON layout) bound to the nonce" 0 VF ev-snp.json
grep -q "^tee: snp report v2, report data = the nonce, measurement a1f3930413247bb3.*reported TCB 0300000000000873" out && ok "... its measurement and TCB are the recorded report's" || not_ok "snp summary" "$(cat out)"
jq '.vigil_tee_evidence.snp.attestation_report.report_data[5] |= (. + 1) % 256' ev-snp.json > ev-snp-bad.json
N=$n3 expect_fail "an SNP report with one report-data byte changed" 1 "the SNP report's report data is not the nonce" VF ev-snp-bad.json

cp -r audit audit2
f=$(ls audit2/*.jsonl | grep -v checkpoints | head -1)
sed -i '5s/"i":3/"i":4/' "$f"
D=audit2 expect_fail "an audit record changed" 1 "." VF ev.json
# An audit log other than the one the measured key signed: a fresh log under a new key.
mkdir -p state3 audit3
"$tmp/writer" write "$VIGIL_TCTI" state3 audit3 ml3.log 35 > /dev/null 2>&1
D=audit3 expect_fail "another machine's (or run's) audit log" 1 "." VF ev.json

echo "kbs verify: $pass passed, $fail failed"
[ "$fail" = 0 ]
