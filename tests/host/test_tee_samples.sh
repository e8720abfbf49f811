#!/usr/bin/env bash
# Recorded TDX quotes and SNP reports (tests/data/tee, from Trustee's test data: README there):
# vigil's parser reads the report data, measurement and TCB the source states; the SNP report
# goes to Trustee's JSON layout and back byte for byte, and the signature over the raw report
# vigil rebuilds from Trustee's JSON verifies under the VCEK (a second implementation: Python's
# cryptography), so the layout is exact. Truncated or foreign files are refused with one line.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
V=$BUILD/vigil
D=$top/tests/data/tee
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-tee.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
field() { jq -r "$1" out.json; }
is() { # NAME GOT WANT
	[ "$2" = "$3" ] && ok "$1" || not_ok "$1" "got  $2" "want $3"
}

# --- TDX quote v4: the values of Trustee's parse_tdx_claims_expected.json for this quote ---
"$V" attest tee-report "$D/tdx_quote_4.dat" > out.json 2> err && ok "TDX v4: parsed" || not_ok "TDX v4" "$(cat err)"
is "TDX v4: version 4, TDX 1.0 body" "$(field '"\(.version) \(.body_type)"')" "4 2"
is "TDX v4: report data at 568 (48-byte header + 520)" "$(field .report_data_offset)" 568
is "TDX v4: report data as Trustee states it" "$(field .report_data)" \
	7c71fe2c86eff65a7cf8dbc22b3275689fd0464a267baced1bf94fc1324656aeb755da3d44d098c0c87382f3a5f85b45c8a28fee1d3bdb38342bf96671501429
is "TDX v4: MRTD as Trustee states it" "$(field .mr_td)" \
	705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031
is "TDX v4: TEE_TCB_SVN as Trustee states it" "$(field .tee_tcb_svn)" 03000500000000000000000000000000
is "TDX v4: RTMR0 as Trustee states it" "$(field '.rtmr[0]')" \
	e940da7c2712d2790e2961e00484f4fa8e6f9eed71361655ae22699476b14f9e63867eb41edd4b480fef0c59f496b288
is "TDX v4: RTMR1 as Trustee states it" "$(field '.rtmr[1]')" \
	559cfcf42716ed6c40a48a73d5acb7da255435012f0a9f00fbe8c1c57612ede486a5684c4c9ff3ddf52315fcdca3a596
is "TDX v4: RTMR2 and RTMR3 zero" "$(field '.rtmr[2] + .rtmr[3]' | tr -d 0)" ""

# --- TDX quote v5 (TDX 1.5 body): the body's type and size precede it, report data at 574 ---
"$V" attest tee-report "$D/tdx_quote_5.dat" > out.json 2> err && ok "TDX v5: parsed" || not_ok "TDX v5" "$(cat err)"
is "TDX v5: version 5, body type 3 (TDX 1.5)" "$(field '"\(.version) \(.body_type)"')" "5 3"
is "TDX v5: report data at 574" "$(field .report_data_offset)" 574
is "TDX v5: the report data read is the bytes at 574" "$(field .report_data)" \
	"$(xxd -p -s 574 -l 64 -c 64 "$D/tdx_quote_5.dat")"

# --- SNP report v2 and its VCEK: REPORTED_TCB and CHIP_ID are the VCEK's TCB and hwID ---
ext() { # OID: the value of the VCEK's extension (an INTEGER inside the OCTET STRING), decimal
	openssl asn1parse -inform der -in "$D/snp-vcek.der" | grep -A1 ":$1\$" | tail -n1 |
		sed 's/.*HEX DUMP\]://' | xxd -r -p | openssl asn1parse -inform der 2> /dev/null |
		sed -n 's/.*INTEGER *:\([0-9A-F]*\).*/\1/p' | { read -r h && echo $((16#$h)); }
}
"$V" attest tee-report "$D/snp-report-v2.bin" > out.json 2> err && ok "SNP v2: parsed" || not_ok "SNP v2" "$(cat err)"
is "SNP v2: version 2, report data at 0x50" "$(field '"\(.version) \(.report_data_offset)"')" "2 80"
tcb=$(field .reported_tcb)
is "SNP v2: REPORTED_TCB = the VCEK's blSPL, teeSPL, snpSPL, ucodeSPL" \
	"$((16#${tcb:0:2})) $((16#${tcb:2:2})) $((16#${tcb:12:2})) $((16#${tcb:14:2}))" \
	"$(ext 1.3.6.1.4.1.3704.1.3.1) $(ext 1.3.6.1.4.1.3704.1.3.2) $(ext 1.3.6.1.4.1.3704.1.3.3) $(ext 1.3.6.1.4.1.3704.1.3.8)"
hwid=$(openssl asn1parse -inform der -in "$D/snp-vcek.der" | grep -A1 ':1.3.6.1.4.1.3704.1.4$' | tail -n1 | sed 's/.*HEX DUMP\]://' | tr 'A-F' 'a-f')
"$V" attest tee-report "$D/snp-report-v2.bin" --trustee > tr.json 2> err
is "SNP v2: CHIP_ID = the VCEK's hwID" "$(jq -r '.chip_id | map(. + 256 | tostring) | .[]' tr.json | awk '{printf "%02x", $1 - 256}')" "${hwid#0440}"
is "SNP v2: measurement = bytes 0x90-0xbf" "$(field .measurement)" "$(xxd -p -s 0x90 -l 48 -c 48 "$D/snp-report-v2.bin")"

# --- SNP in Trustee's layout: raw -> JSON -> raw identical; Trustee's JSON -> raw -> JSON identical ---
if "$V" attest tee-report tr.json --raw tr.bin 2> err && cmp -s tr.bin "$D/snp-report-v2.bin"; then
	ok "SNP v2: raw -> Trustee JSON -> raw, byte for byte"
else
	not_ok "SNP raw round trip" "$(cat err)"
fi
jq -e '.cpuid_fam_id == null and .reported_tcb.fmc == null and .current.major == 1' tr.json > /dev/null &&
	ok "SNP v2: no CPUID bytes before v3 (null), no FMC before Turin (null)" || not_ok "v2 JSON" "$(head -c 300 tr.json)"
"$V" attest tee-report "$D/snp-evidence-trustee.json" --raw ev.bin 2> err && ok "SNP (Trustee's SnpEvidence): read" ||
	not_ok "SnpEvidence" "$(cat err)"
"$V" attest tee-report ev.bin --trustee > ev.json 2> err
if [ "$(jq -S . ev.json)" = "$(jq -S .attestation_report "$D/snp-evidence-trustee.json")" ]; then
	ok "SNP v3: Trustee JSON -> raw -> Trustee JSON, every field"
else
	not_ok "SNP JSON round trip" "$(diff <(jq -S . ev.json) <(jq -S .attestation_report "$D/snp-evidence-trustee.json") | head -5)"
fi
is "SNP v3: report data read from the raw report is Trustee's report_data" \
	"$("$V" attest tee-report ev.bin | jq -r .report_data)" \
	"$(jq -r '.attestation_report.report_data | map(. + 256 | tostring) | .[]' "$D/snp-evidence-trustee.json" | awk '{printf "%02x", $1 - 256}')"
jq -r '.cert_chain[0].data[]' "$D/snp-evidence-trustee.json" | awk '{printf "%c", $1}' LC_ALL=C > vcek3.der
if python3 -c 'import cryptography' 2> /dev/null; then
	sigcheck() { # REPORT VCEK-DER: the report's ECDSA P-384 signature over bytes 0-0x29f
		python3 - "$1" "$2" << 'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
import warnings
warnings.simplefilter("ignore")
rep = open(sys.argv[1], "rb").read()
cert = x509.load_der_x509_certificate(open(sys.argv[2], "rb").read())
r = int.from_bytes(rep[0x2A0:0x2A0 + 72], "little")
s = int.from_bytes(rep[0x2E8:0x2E8 + 72], "little")
cert.public_key().verify(encode_dss_signature(r, s), rep[:0x2A0], ec.ECDSA(hashes.SHA384()))
PY
	}
	sigcheck "$D/snp-report-v2.bin" "$D/snp-vcek.der" 2> err && ok "SNP v2: the recorded report's signature verifies under its VCEK" ||
		not_ok "SNP v2 signature" "$(tail -n1 err)"
	sigcheck ev.bin vcek3.der 2> err &&
		ok "SNP v3: the raw report vigil rebuilt from Trustee's JSON verifies under the VCEK of its cert_chain (the layout is exact)" ||
		not_ok "SNP v3 signature over the rebuilt report" "$(tail -n1 err)"
	printf '\x01' | dd of=ev.bin bs=1 seek=$((0x1e9)) conv=notrunc 2> /dev/null
	sigcheck ev.bin vcek3.der 2> /dev/null && not_ok "a changed byte (CURRENT_MINOR) still verifies: the check is blind" ||
		ok "... and with one byte changed it does not (the check can fail)"
else
	not_ok "python3-cryptography is missing: the SNP signature checks did not run"
fi

# --- refusals: one line, exit 3 (invalid input) ---
expect_invalid() { # NAME PATTERN FILE
	"$V" attest tee-report "$3" > out 2> err
	rc=$?
	if [ "$rc" = 3 ] && [ "$(wc -l < err)" = 1 ] && grep -Eq -- "$2" err; then ok "$1: $(cat err)"; else
		not_ok "$1" "exit $rc, $(wc -l < err) lines" "$(head -c 300 err)"; fi
}
head -c 1000 "$D/tdx_quote_4.dat" > cut.dat
expect_invalid "a TDX quote cut inside its body" "not a TDX quote \(v4, v5\) or SNP report" cut.dat
{ printf '\x06\x00'; tail -c +3 "$D/tdx_quote_4.dat"; } > v6.dat
expect_invalid "a TDX quote of an unknown version (6)" "not a TDX quote" v6.dat
{ head -c 48 "$D/tdx_quote_5.dat"; printf '\x03\x00\x48\x02\x00\x00'; tail -c +55 "$D/tdx_quote_5.dat"; } > v5size.dat
expect_invalid "a TDX v5 quote whose body size is not its type's (584 for type 3)" "not a TDX quote" v5size.dat
head -c 1183 "$D/snp-report-v2.bin" > short.bin
expect_invalid "an SNP report one byte short" "not a TDX quote \(v4, v5\) or SNP report" short.bin
jq '.attestation_report.report_data |= .[1:]' "$D/snp-evidence-trustee.json" > bad.json
expect_invalid "Trustee's layout with a 63-byte report_data" "not an SNP report in Trustee's layout" bad.json
echo "tee_samples: $pass passed, $fail failed"
[ "$fail" = 0 ]
