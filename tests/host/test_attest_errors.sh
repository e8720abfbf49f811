#!/usr/bin/env bash
# Host test: `vigil attest measure` reports each failure once, on one stderr line that names
# what failed (the TPM, the measurement log, the rollback state), never another part.
set -uo pipefail
BUILD=${BUILD:-build}
V=$(cd "$BUILD" && pwd)/vigil
pass=0 fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t"

# one NAME WANT_RC WANT_MSG NOT_MSG CMD...: exit WANT_RC, exactly one stderr line, holding
# WANT_MSG and not NOT_MSG.
one() {
	local name=$1 want=$2 msg=$3 not=$4 rc lines
	shift 4
	"$@" > out 2> err
	rc=$?
	lines=$(wc -l < err)
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -qF -- "$msg" err && ! grep -qF -- "$not" err; then
		pass=$((pass + 1)); echo "ok - $name"
	else
		fail=$((fail + 1)); echo "not ok - $name (exit $rc, want $want; $lines stderr lines: $(cat err))"
	fi
}

mkdir trust keys
"$V" policy keygen keys/ed > /dev/null
cp keys/ed.pem trust/
printf '{"version":1,"name":"err","serial":1,"mode":"enforce","scope":"guest","exec":{"allow":[{"path":"/bin/sh","sha256":"%064d"}]}}\n' 0 > p.json
"$V" policy sign --key keys/ed.key -o b.json p.json > /dev/null
M() { "$V" attest measure --trust-dir trust --log ml.log --state state.json "$@" b.json; }

# Port 9 on loopback: nothing listens, so the TCTI cannot connect.
one "unreachable TPM: one line naming the TPM and the TCTI" 1 \
	"TPM through 'swtpm:host=127.0.0.1,port=9': TPM unreachable" "measurement log" \
	M --tcti swtpm:host=127.0.0.1,port=9
if [ ! -e ml.log ]; then pass=$((pass + 1)); echo "ok - ... and the log is not touched"
else fail=$((fail + 1)); echo "not ok - ... and the log is not touched"; fi

one "unreachable TPM: attest quote says so once, with the failure's kind" 1 \
	"vigil: attest quote: no TPM at swtpm:host=127.0.0.1,port=9: TPM unreachable" "error 0x" \
	"$V" attest quote --nonce 00 --out q --tcti swtpm:host=127.0.0.1,port=9
one "unreachable TPM: attest evidence says so once, with the failure's kind" 1 \
	"vigil: attest evidence: no TPM at swtpm:host=127.0.0.1,port=9: TPM unreachable" "error 0x" \
	"$V" attest evidence --nonce "$(printf '%064d' 0)" --out e.json --tcti swtpm:host=127.0.0.1,port=9

printf '{' > state.json
one "malformed rollback state: one line naming the state file" 3 \
	"cannot read the last accepted serial of 'err' (state-file): rollback state state.json:" \
	"invalid" M --no-tpm
rm -f state.json ml.log

mkdir ml.log
one "a directory as the log: one line naming the log" 1 "measurement log ml.log: Is a directory" \
	"TPM" M --no-tpm
rmdir ml.log

one "measured without a TPM" 0 "" "error" sh -c "'$V' attest measure --trust-dir trust --log ml.log --state state.json --no-tpm b.json && echo done >&2"

# `vigil doctor` reports a TPM it cannot open on its one 'tpm' line (stdout), with the failure's
# kind (not a raw errno text) and the fix, and nothing on stderr.
printf 'tcti = swtpm:host=127.0.0.1,port=9\n' > vigild.conf
"$V" doctor --config vigild.conf > out 2> err
rc=$?
want="FAIL tpm         cannot open the TPM through 'swtpm:host=127.0.0.1,port=9': TPM unreachable (Tss2_TctiLdr_Initialize) -- fix: check the TPM device and its driver (dmesg | grep -i tpm) and 'tcti' in /etc/vigil/vigild.conf"
if [ "$rc" = 1 ] && grep -qxF -- "$want" out && [ "$(grep -c '^[A-Za-z ]* tpm ' out)" = 1 ] &&
	! grep -q 'No such device' out && [ ! -s err ]; then
	pass=$((pass + 1)); echo "ok - doctor: an unreachable TPM is one line with its kind and the fix"
else
	fail=$((fail + 1)); echo "not ok - doctor: unreachable TPM (exit $rc; $(grep tpm out); stderr: $(cat err))"
fi

echo "host attest errors: $pass passed, $fail failed"
[ "$fail" = 0 ]
