#!/usr/bin/env bash
# swtpm: `vigil attest replay` fails closed. A missing, empty, truncated or unreadable log, a log
# without vigild's start record, a register mismatch, an unreadable RTMR file: non-zero exit and
# one line on stderr saying why.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh"
tpm_test_start vigil-tpm-replay
start_swtpm
export VIGIL_TCTI="swtpm:host=127.0.0.1,port=$port"
export TPM2TOOLS_TCTI=$VIGIL_TCTI
cd "$tmp"

{
	record 0 vigil/agent-start '{"binary_sha256":"00","version":"test"}'
	record 1 vigil/policy-bundle '{"name":"p","serial":1}'
	record 2 vigil/audit-checkpoint 'vigil/x 10 root'
} > ml.log
extend_log ml.log
R() { "$V" attest replay "$@"; }
expect_rc "the good log replays against PCR 23" 0 R --log ml.log
grep -q "pcr 23 sha256: match" out && ok "and says it matches" || not_ok "says it matches" "$(cat out)"

spoil() { # spoil HOW FILE
	case $1 in
	delete) rm -f "$2" ;;
	empty) : > "$2" ;;
	truncate) truncate -s $(($(stat -c %s "$2") - 20)) "$2" ;;
	fifo) rm -f "$2" && mkfifo "$2" ;;
	dir) rm -f "$2" && mkdir "$2" ;;
	esac
}
for how in delete empty truncate fifo dir; do
	rm -rf c.log && cp ml.log c.log && spoil $how c.log
	case $how in
	delete) want="c.log: No such file" ;;
	empty) want="c.log: empty: no measurement" ;;
	truncate) want="c.log: record 2 is truncated" ;;
	*) want="c.log: not a regular file" ;;
	esac
	expect_fail "measurement log: $how" 3 "$want" R --log c.log
done
rm -rf c.log
head -n 2 ml.log > c.log
expect_fail "measurement log: last record cut off at a line end: PCR mismatch" 1 \
	"pcr 23 sha256: the register does not hold what the log predicts" R --log c.log
tail -n 2 ml.log > c.log
expect_fail "measurement log: head cut off" 3 "c.log: record 0: recnum out of sequence" R --log c.log
{
	record 0 vigil/policy-bundle '{"name":"p","serial":1}'
	record 1 vigil/audit-checkpoint 'x'
} > nostart.log
extend_log nostart.log
expect_fail "no start record" 3 "nostart.log: no start record: record 0 is vigil/policy-bundle" R --log nostart.log
expect_rc "--no-start-record accepts a log written by vigil attest measure" 0 R --no-start-record --log nostart.log
extend_log ml.log
tpm2_pcrextend "23:sha256=$(printf x | sha256sum | cut -c1-64)" > /dev/null
expect_fail "register mismatch: an extend the log does not have" 1 \
	"pcr 23 sha256: the register does not hold what the log predicts" R --log ml.log
extend_log ml.log
chmod 755 "$tmp" && chmod 600 ml.log
expect_fail "a log only root can read (verifier as nobody)" 3 "ml.log: Permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$V" attest replay --log ml.log
chmod 644 ml.log
expect_fail "the TPM unreachable" 1 "cannot open the TPM" R --log ml.log --tcti "swtpm:host=127.0.0.1,port=1"

# A log that names RTMR 3 (TDX): the RTMR file is an input too.
{
	jq -cn --arg c '{"start":1}' --arg d "$(printf '%s' '{"start":1}' | sha384sum | cut -c1-96)" \
		'{recnum:0,rtmr:3,digests:[{hashAlg:"sha384",digest:$d}],content_type:"vigil/agent-start",content:$c}'
} > tdx.log
{ head -c 48 /dev/zero; printf '%s' '{"start":1}' | sha384sum | cut -c1-96 | xxd -r -p; } | openssl dgst -sha384 -binary > rtmr
expect_rc "a TDX log replays against its RTMR file" 0 R --log tdx.log --rtmr rtmr
expect_fail "a TDX log without --rtmr compares nothing: not verified" 1 "no register was compared" R --log tdx.log
for how in delete empty truncate fifo dir; do
	rm -rf r && cp rtmr r && spoil $how r
	expect_fail "RTMR file: $how" 1 "r: cannot read exactly 48 bytes" R --log tdx.log --rtmr r
done
rm -rf r && { cat rtmr; printf x; } > r
expect_fail "RTMR file: one byte too many" 1 "r: cannot read exactly 48 bytes" R --log tdx.log --rtmr r

stop_swtpm
echo "test_replay_inputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
