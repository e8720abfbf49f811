#!/usr/bin/env bash
# TDX and SNP reports through configfs-tsm, against a fake tree (no TDX/SNP hardware here): the
# report data written is the one asked for; a report that does not carry it, an unknown
# provider, a missing tree or a short report are refused with one line. The reports served are
# recorded ones (tests/data/tee, from Trustee's test data) whose report data is patched to the
# expected binding: their own report data matches no nonce of ours, and after the patch their
# signature no longer covers them (vigil does not check TDX/SNP signatures).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh" # the check helpers (no swtpm is started here)
test_start vigil-tsm
cd "$tmp"
binding=$(head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n')
rd_hex=${binding}00000000000000000000000000000000
D=$top/tests/data/tee
# fake PROVIDER SAMPLE OFFSET [REPORT-DATA-HEX]: ROOT/vigil with provider, generation, and an
# outblob that is SAMPLE with the 64 bytes at OFFSET replaced.
fake() {
	rm -rf root && mkdir -p root/vigil
	printf '%s\n' "$1" > root/vigil/provider
	echo 1 > root/vigil/generation
	cp "$2" root/vigil/outblob
	printf '%s' "${4:-$rd_hex}" | xxd -r -p | dd of=root/vigil/outblob bs=1 seek="$3" conv=notrunc 2> /dev/null
}
T() { "$V" attest tsm-report --root root --binding "$binding" --out report.bin; }
fake tdx_guest "$D/tdx_quote_4.dat" 568
if T > out 2> err && grep -q "^tdx report, 4936 bytes" out; then ok "TDX v4 (recorded, report data patched): read, report data bound"; else not_ok "TDX" "$(cat out err)"; fi
[ "$(xxd -p -c 64 root/vigil/inblob)" = "$rd_hex" ] && ok "TDX: inblob holds the binding zero-padded to 64 bytes" || not_ok "inblob" "$(xxd -p root/vigil/inblob)"
cmp -s report.bin root/vigil/outblob && ok "TDX: the report written is the outblob" || not_ok "report.bin"
fake tdx_guest "$D/tdx_quote_5.dat" 574
if T > out 2> err && grep -q "^tdx report, 5006 bytes" out; then ok "TDX v5 (recorded, TDX 1.5 body): report data at 574 bound"; else not_ok "TDX v5" "$(cat out err)"; fi
fake tdx_guest "$D/tdx_quote_5.dat" 568
expect_fail "TDX v5: the binding at v4's offset (568) is not v5's report data" 1 "does not carry the report data written \(offset 574\)" T
fake sev_guest "$D/snp-report-v2.bin" 80
if T > out 2> err && grep -q "^snp report, 1184 bytes" out; then ok "SNP (recorded v2, report data patched): read, report data bound"; else not_ok "SNP" "$(cat out err)"; fi
fake tdx_guest "$D/tdx_quote_4.dat" 568 "$(printf '%0128x' 7)"
expect_fail "TDX: a report with other report data" 1 "does not carry the report data written" T
fake tdx_guest "$D/tdx_quote_4.dat" 568
expect_fail "TDX: the recorded report untouched (its own report data)" 1 "does not carry the report data written" \
	"$V" attest tsm-report --root root --binding "$(printf '%096x' 1)" --out report.bin
fake sev_guest "$D/tdx_quote_4.dat" 80
expect_fail "SNP provider serving a TDX quote: not an SNP report" 1 "not a sev_guest report" T
head -c 600 "$D/tdx_quote_4.dat" > short.dat
fake tdx_guest short.dat 0
expect_fail "TDX: a report too short for a quote body" 1 "not a tdx_guest report" T
fake arm_cca_guest "$D/tdx_quote_4.dat" 568
expect_fail "an unknown provider" 1 "neither tdx_guest nor sev_guest" T
rm -rf root
expect_fail "no configfs-tsm" 1 "not a TDX/SNP guest" T
echo "tsm: $pass passed, $fail failed"
[ "$fail" = 0 ]
