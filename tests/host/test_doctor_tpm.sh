#!/usr/bin/env bash
# Host test: `vigil doctor` reports a TPM it cannot open on its one 'tpm' line, with the failure's
# kind (not a raw errno text) and the fix, and nothing on stderr.
set -uo pipefail
BUILD=${BUILD:-build}
V=$(cd "$BUILD" && pwd)/vigil
pass=0 fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t"

check() { # check NAME CONDITION-RC DETAIL
	if [ "$2" = 0 ]; then pass=$((pass + 1)); echo "ok - $1"
	else fail=$((fail + 1)); echo "not ok - $1 ($3)"; fi
}

# Port 9 on loopback: nothing listens, so the TCTI cannot connect.
printf 'tcti = swtpm:host=127.0.0.1,port=9\n' > vigild.conf
"$V" doctor --config vigild.conf > out 2> err
rc=$?
want="FAIL tpm         cannot open the TPM through 'swtpm:host=127.0.0.1,port=9': TPM unreachable (Tss2_TctiLdr_Initialize) -- fix: check the TPM device and its driver (dmesg | grep -i tpm) and 'tcti' in /etc/vigil/vigild.conf"
check "doctor fails (exit 1)" "$([ "$rc" = 1 ]; echo $?)" "exit $rc"
check "the tpm line names the TCTI, the kind and the fix" "$(grep -qxF -- "$want" out; echo $?)" "$(grep tpm out)"
check "one tpm line" "$([ "$(grep -c '^[A-Za-z ]* tpm ' out)" = 1 ]; echo $?)" "$(grep tpm out)"
check "no raw errno text for the TPM" "$(! grep -q 'No such device' out; echo $?)" "$(grep 'No such device' out)"
check "nothing on stderr" "$([ ! -s err ]; echo $?)" "$(cat err)"

echo "host doctor tpm: $pass passed, $fail failed"
[ "$fail" = 0 ]
