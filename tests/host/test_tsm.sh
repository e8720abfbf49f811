#!/usr/bin/env bash
# TDX and SNP reports through configfs-tsm, against a fake tree (no TDX/SNP hardware here): the
# report data written is the one asked for; a report that does not carry it, an unknown
# provider, a missing tree or a short report are refused with one line. The fake reports are
# synthetic: a TDX quote v4 layout (REPORTDATA at 568) and an SNP report (REPORT_DATA at 0x50)
# around the expected report data; nothing else in them is meaningful.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh" # the check helpers (no swtpm is started here)
test_start vigil-tsm
cd "$tmp"
binding=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
rd_hex=${binding}00000000000000000000000000000000
# fake PROVIDER OFFSET SIZE [REPORT-DATA-HEX]: ROOT/vigil with provider, generation, outblob.
fake() {
	rm -rf root && mkdir -p root/vigil
	printf '%s\n' "$1" > root/vigil/provider
	echo 1 > root/vigil/generation
	head -c "$2" /dev/urandom > root/vigil/outblob
	printf '%s' "${4:-$rd_hex}" | xxd -r -p >> root/vigil/outblob
	head -c $(($3 - $2 - 64)) /dev/urandom >> root/vigil/outblob
}
T() { "$V" attest tsm-report --root root --binding "$binding" --out report.bin; }
fake tdx_guest 568 5000
if T > out 2> err && grep -q "^tdx report, 5000 bytes" out; then ok "TDX: report read, report data bound"; else not_ok "TDX" "$(cat out err)"; fi
[ "$(xxd -p -c 64 root/vigil/inblob)" = "$rd_hex" ] && ok "TDX: inblob holds the binding zero-padded to 64 bytes" || not_ok "inblob" "$(xxd -p root/vigil/inblob)"
cmp -s report.bin root/vigil/outblob && ok "TDX: the report written is the outblob" || not_ok "report.bin"
fake sev_guest 80 1184
if T > out 2> err && grep -q "^snp report, 1184 bytes" out; then ok "SNP: report read, report data bound"; else not_ok "SNP" "$(cat out err)"; fi
fake tdx_guest 568 5000 "$(printf '%0128x' 7)"
expect_fail "TDX: a report with other report data" 1 "does not carry the report data written" T
fake sev_guest 568 5000
expect_fail "SNP: the report data at the TDX offset is not SNP's" 1 "does not carry the report data written" T
fake tdx_guest 0 600
expect_fail "TDX: a report too short for a quote body" 1 "does not carry the report data written" T
fake arm_cca_guest 568 5000
expect_fail "an unknown provider" 1 "neither tdx_guest nor sev_guest" T
rm -rf root
expect_fail "no configfs-tsm" 1 "not a TDX/SNP guest" T
echo "tsm: $pass passed, $fail failed"
[ "$fail" = 0 ]
