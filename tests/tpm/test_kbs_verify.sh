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
