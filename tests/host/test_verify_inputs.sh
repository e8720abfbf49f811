#!/usr/bin/env bash
# Verifiers fail closed: for every file `vigil log verify` and `vigil policy verify` read, a
# deleted, emptied, truncated or unreadable copy gives a non-zero exit and one line naming it.
# Unreadable for root too: the file is replaced by a FIFO or a directory, or the verifier runs
# as nobody (setpriv) on files only root can read. Also: the file key's mode whatever the umask.
set -uo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/tpm/lib.sh" # the check helpers (no swtpm is started here)
test_start vigil-verify-inputs
make -s -C "$top" BUILD="$BUILD" "$BUILD/bench/audit_pipeline" > /dev/null || exit 1
cd "$tmp"

# --- a good log: two runs, rotation, checkpoints -------------------------------------------
for run in 1 2; do
	(umask 000 && "$BUILD/bench/audit_pipeline" --events 60 --dir "$tmp/run" \
		--audit rotate=8K,checkpoint=20,fsync=8 > /dev/null) || { echo "audit_pipeline failed"; exit 1; }
done
good=$tmp/run/log
check "the file key is 0600 under umask 000" test "$(stat -c %a run/state/audit-key.pem)" = 600
check "the state directory is 0700 under umask 000" test "$(stat -c %a run/state)" = 700
expect_rc "the good log verifies" 0 "$V" log verify --pubkey "$good/audit.vkey" "$good"
grep -q "records 1-[0-9]* are covered by a signed checkpoint" out && ok "says how many records a checkpoint covers" ||
	not_ok "says how many records a checkpoint covers" "$(cat out)"
cp "$good/audit.vkey" pin.vkey
files=$(cd "$good" && ls audit.*.jsonl | sort)
first=$(head -n 1 <<< "$files")
mid=$(sed -n 2p <<< "$files")
last=$(tail -n 1 <<< "$files")
[ "$mid" != "$last" ] || { echo "need three log files"; exit 1; }

fresh() { rm -rf c && cp -a "$good" c; }
lv() { "$V" log verify --pubkey pin.vkey "$@"; }
# spoil HOW FILE: delete, empty, cut mid-line, FIFO or directory in its place.
spoil() {
	case $1 in
	delete) rm -f "$2" ;;
	empty) : > "$2" ;;
	truncate) truncate -s $(($(stat -c %s "$2") / 2 + 7)) "$2" ;;
	fifo) rm -f "$2" && mkfifo "$2" ;;
	dir) rm -f "$2" && mkdir "$2" ;;
	esac
}

# The log files: first, a middle one, the last.
for f in "$first" "$mid" "$last"; do
	for how in delete empty fifo dir; do
		fresh && spoil $how "c/$f"
		case $how in
		delete) want="$f: missing" ;;
		empty) want="$f: empty" ;;
		*) want="$f: not a regular file" ;;
		esac
		# Deleting the last file leaves no hole: the checkpoints then name records past the end.
		if [ $how = delete ] && [ "$f" = "$last" ]; then
			expect_fail "log file $f: $how" 1 "truncated: .*checkpoint" lv c
		else
			expect_fail "log file $f: $how" 3 "$want" lv c
		fi
	done
	fresh && spoil truncate "c/$f"
	if [ "$f" = "$last" ]; then
		expect_fail "log file $f: truncate (torn last line)" 4 "torn tail.*$f" lv c
	else
		expect_fail "log file $f: truncate" 1 "bad record.*$f.*without a line end" lv c
	fi
done
# Truncated at a line end: the records a checkpoint covers are missing.
fresh && head -n 3 "c/$last" > x && mv x "c/$last"
expect_fail "log file $last: whole lines cut off" 1 "truncated: .*covers" lv c

# checkpoints.jsonl
for how in delete fifo dir; do
	fresh && spoil $how c/checkpoints.jsonl
	expect_fail "checkpoints.jsonl: $how" 3 "checkpoints.jsonl: (No such file|not a regular file)" lv c
done
fresh && spoil empty c/checkpoints.jsonl
expect_fail "checkpoints.jsonl: empty: chained but not verified (exit 5)" 5 \
	"not verified: .*no verified signed checkpoint in .*checkpoints.jsonl" lv c
fresh && spoil truncate c/checkpoints.jsonl
expect_fail "checkpoints.jsonl: truncate" 4 "checkpoints.jsonl: truncated" lv c
# Only checkpoints by another key: nothing verified vouches for the chain.
fresh && : > c/checkpoints.jsonl
expect_fail "no checkpoint: exit 5, unpinned too" 5 "no verified signed checkpoint" "$V" log verify c

# The pinned key (--pubkey) and an extra checkpoint (--checkpoint).
for how in delete empty truncate fifo dir; do
	cp pin.vkey k.vkey && spoil $how k.vkey
	expect_fail "--pubkey file: $how" 3 "k.vkey: " "$V" log verify --pubkey k.vkey "$good"
	rm -rf k.vkey
done
jq -j .note < <(tail -n 1 "$good/checkpoints.jsonl") > cp.note
expect_rc "--checkpoint with a good note" 0 lv --checkpoint cp.note "$good"
for how in delete empty fifo dir; do
	cp cp.note x.note && spoil $how x.note
	expect_fail "--checkpoint file: $how" 3 "x.note: " lv --checkpoint x.note "$good"
	rm -rf x.note
done
cp cp.note x.note && spoil truncate x.note
expect_fail "--checkpoint file: truncate" 1 "bad checkpoint.*x.note.*malformed" lv --checkpoint x.note "$good"
rm -f x.note
expect_fail "log directory missing" 3 "nonexistent: No such file" lv "$tmp/nonexistent"
mkdir emptydir
expect_fail "log directory empty" 3 "emptydir: no audit" lv emptydir

# Unreadable for the verifier: files only root can read, the verifier as nobody.
fresh && chmod 755 "$tmp" c && chmod 644 c/* pin.vkey && chmod 600 "c/$first"
expect_fail "a log file only root can read (verifier as nobody)" 3 "$first: Permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$V" log verify --pubkey pin.vkey c
chmod 644 "c/$first" && chmod 600 c/checkpoints.jsonl
expect_fail "checkpoints.jsonl only root can read (verifier as nobody)" 3 "checkpoints.jsonl: Permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$V" log verify --pubkey pin.vkey c

# The file key: vigild's alone. One readable by others is refused, not used or repaired.
chmod 644 run/state/audit-key.pem
"$BUILD/bench/audit_pipeline" --events 5 --dir "$tmp/run" > /dev/null 2> err.key
check "a file key readable by others is refused" test $? != 0
grep -q "audit-key.pem" err.key && ok "the refusal names the key file" || not_ok "the refusal names the key file" "$(cat err.key)"
check "the refused key's log is unchanged" test "$(cat "$good/audit.vkey")" = "$(cat pin.vkey)"
chmod 600 run/state/audit-key.pem
rm -f run/state/audit-key.pem && ln -s /etc/hostname run/state/audit-key.pem
"$BUILD/bench/audit_pipeline" --events 5 --dir "$tmp/run" > /dev/null 2>&1
check "a symlink in the key's place is not followed" test $? != 0

# --- vigil policy verify: the bundle, the trust directory, each key, the threshold ------------
mkdir keys trust
"$V" policy keygen keys/a > /dev/null && cp keys/a.pem trust/
printf '{"version":1,"name":"v","serial":1,"mode":"audit","scope":"guest"}\n' > p.json
"$V" policy sign --key keys/a.key -o good.bundle p.json > /dev/null || { echo "sign failed"; exit 1; }
pv() { "$V" policy verify --trust-dir "$@"; }
expect_rc "the good bundle verifies" 0 pv trust good.bundle
for how in delete empty truncate fifo dir; do
	rm -rf b.json && cp good.bundle b.json && spoil $how b.json
	case $how in
	delete) want="b.json: cannot open" ;;
	empty) want="b.json: empty" ;;
	truncate) want="b.json" ;;
	*) want="b.json: not a regular file" ;;
	esac
	expect_fail "bundle: $how" 3 "$want" pv trust b.json
done
for how in delete empty truncate fifo dir; do
	rm -rf t && cp -a trust t && spoil $how t/a.pem
	case $how in
	delete) want="t: no \*.pem public keys" ;;
	empty) want="t/a.pem: empty" ;;
	truncate) want="t/a.pem: not a PEM public key" ;;
	*) want="t/a.pem: not a regular file" ;;
	esac
	expect_fail "trust key: $how" 1 "$want" pv t good.bundle
done
for how in empty fifo dir; do
	rm -rf t && cp -a trust t && echo 1 > t/threshold && spoil $how t/threshold
	expect_fail "threshold file: $how" 1 "t/threshold: " pv t good.bundle
done
expect_fail "trust directory missing" 1 "nodir: cannot read trust directory" pv nodir good.bundle
rm -rf t && cp -a trust t && chmod 755 "$tmp" t && chmod 600 t/a.pem good.bundle
expect_fail "trust key only root can read (verifier as nobody)" 1 "t/a.pem: cannot open: Permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$V" policy verify --trust-dir t good.bundle
chmod 644 t/a.pem
expect_fail "bundle only root can read (verifier as nobody)" 3 "good.bundle: cannot open: Permission denied" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$V" policy verify --trust-dir t good.bundle

echo "host verify inputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
