#!/usr/bin/env bash
# Verifies an audit log with sha256sum, openssl and jq only, as docs/AUDIT-LOG.md describes,
# then checks that this independent verifier and `vigil log verify` agree on a tampered copy.
set -euo pipefail
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
cd "$top"
make -s "$BUILD/bench/audit_pipeline" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION-EXIT-STATUS
	if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}

# Three runs of 70 synthetic events each on one log: three start records, rotation at 12 KiB,
# a final checkpoint per run.
for run in 1 2 3; do
	"$BUILD/bench/audit_pipeline" --events 70 --dir "$tmp/run" \
		--audit rotate=12K,checkpoint=40,fsync=16 > "$tmp/bench.out"
done
log=$tmp/run/log

# hexbytes HEX: the bytes HEX spells.
hexbytes() { printf "$(sed 's/../\\x&/g' <<< "$1")"; }

# verify_chain DIR: prints "ok N HASH" or "bad N OFFSET FILE" for the first bad record.
# h(n) = SHA-256(h(n-1) || the line without its last 72 bytes), h(0) = 32 zero bytes.
verify_chain() {
	local dir=$1 prev n=0 f line want got off
	prev=$(printf '%064d' 0)
	for f in $(cd "$dir" && ls audit.*.jsonl | sort); do
		off=0
		while IFS= read -r line; do
			n=$((n + 1))
			want=$(jq -r '"\(.n) \(.h)"' <<< "$line" 2>/dev/null) || { echo "bad $n $off $f"; return; }
			got=$({ hexbytes "$prev"; printf '%s' "${line:0:${#line}-72}"; } | sha256sum | cut -c1-64)
			if [ "$want" != "$n $got" ] || [ "${line: -72}" != ",\"h\":\"$got\"}" ]; then
				echo "bad $n $off $f"
				return
			fi
			prev=$got
			echo "$n $got" >> "$dir.hashes"
			off=$((off + ${#line} + 1))
		done < "$dir/$f"
	done
	echo "ok $n $prev"
}

# verify_checkpoints DIR VKEY: every note in checkpoints.jsonl is signed by VKEY and names
# a record count and root hash that the chain has.
verify_checkpoints() {
	local dir=$1 vkey=$2 name keyid rest pub i=0 size root
	# name+keyid+base64: the base64 part may itself contain '+'.
	name=${vkey%%+*}
	rest=${vkey#*+}
	keyid=${rest%%+*}
	pub=$(base64 -d <<< "${rest#*+}" | od -An -v -tx1 | tr -d ' \n')
	[ "${pub:0:2}" = 01 ] || return 1
	# Ed25519 SubjectPublicKeyInfo: fixed DER prefix, then the 32-byte key.
	hexbytes "302a300506032b6570032100${pub:2}" > "$dir.pub.der"
	[ "$({ printf '%s\n' "$name"; hexbytes "01${pub:2}"; } | sha256sum | cut -c1-8)" = "$keyid" ] || return 1
	while IFS= read -r cl; do
		i=$((i + 1))
		jq -j .note <<< "$cl" > "$dir.note"
		head -n 3 "$dir.note" > "$dir.body"
		sed -n '5p' "$dir.note" > "$dir.sigline"
		[ "$(cut -d' ' -f2 "$dir.sigline")" = "$name" ] || return 1
		cut -d' ' -f3 "$dir.sigline" | base64 -d > "$dir.sigblob"
		[ "$(head -c 4 "$dir.sigblob" | od -An -tx1 | tr -d ' \n')" = "$keyid" ] || return 1
		tail -c 64 "$dir.sigblob" > "$dir.sig"
		openssl pkeyutl -verify -pubin -keyform DER -inkey "$dir.pub.der" -rawin \
			-in "$dir.body" -sigfile "$dir.sig" > /dev/null || return 1
		size=$(sed -n 2p "$dir.body")
		root=$(sed -n 3p "$dir.body" | base64 -d | od -An -v -tx1 | tr -d ' \n')
		[ "$(sed -n 1p "$dir.body")" = "$name" ] || return 1
		grep -qx "$size $root" "$dir.hashes" || { echo "checkpoint $i ($size) does not match"; return 1; }
	done < "$dir/checkpoints.jsonl"
	echo "$i checkpoints"
}

res=$(verify_chain "$log")
check "standard tools verify the chain: $res" "$([ "${res%% *}" = ok ] && echo 0 || echo 1)"
n=$(cut -d' ' -f2 <<< "$res")
check "210 events, 3 start records and a file record per rotation ($n records)" \
	"$([ "$n" = $((213 + $(ls "$log"/audit.*.jsonl | wc -l) - 1)) ] && echo 0 || echo 1)"
cps=$(verify_checkpoints "$log" "$(cat "$log/audit.vkey")") && rc=0 || rc=1
check "standard tools verify every checkpoint signature and root ($cps)" \
	"$([ $rc = 0 ] && [ "${cps%% *}" -ge 3 ] && echo 0 || echo 1)"
check "the last hash is what vigil log verify reports" \
	"$("$BUILD/vigil" log verify --pubkey "$log/audit.vkey" "$log" | grep -q "hash $(cut -d' ' -f3 <<< "$res")" && echo 0 || echo 1)"

# Tamper with record 123: both verifiers name it.
cp -a "$log" "$tmp/bad"
rm -f "$tmp/bad.hashes"
f=$(grep -l '^{"n":123,' "$tmp/bad"/audit.*.jsonl)
sed -i 's/^\({"n":123,.*"ino":\)\([0-9]\)/\1\2\2/' "$f"
res=$(verify_chain "$tmp/bad")
check "standard tools find the altered record: $res" "$([ "$(cut -d' ' -f1-2 <<< "$res")" = "bad 123" ] && echo 0 || echo 1)"
set +e
out=$("$BUILD/vigil" log verify --pubkey "$log/audit.vkey" "$tmp/bad" 2>&1)
rc=$?
set -e
off=$(cut -d' ' -f3 <<< "$res")
check "vigil log verify agrees: exit 1, record 123 at offset $off ($out)" \
	"$([ $rc = 1 ] && grep -q "first bad record 123 ($(basename "$f") offset $off)" <<< "$out" && echo 0 || echo 1)"

# The documented exit codes for an unreadable log (3) and a torn last line (4).
set +e
"$BUILD/vigil" log verify "$tmp/nonexistent" 2> /dev/null
check "vigil log verify: exit 3 for a missing log" "$([ $? = 3 ] && echo 0 || echo 1)"
cp -a "$log" "$tmp/torn"
last=$(ls "$tmp/torn"/audit.*.jsonl | sort | tail -n 1)
printf '{"n":9999,"k":"ev' >> "$last"
"$BUILD/vigil" log verify --pubkey "$log/audit.vkey" "$tmp/torn" 2> "$tmp/torn.err"
rc=$?
check "vigil log verify: exit 4 for a torn last line ($(cat "$tmp/torn.err"))" "$([ $rc = 4 ] && echo 0 || echo 1)"
"$BUILD/vigil" log verify --bogus 2> /dev/null
check "vigil log verify: exit 2 for bad usage" "$([ $? = 2 ] && echo 0 || echo 1)"

# Exit 0 needs a pinned key: a log rebuilt as a whole (a new key, a new chain, new signed
# checkpoints: what an attacker who can write the directory makes) is consistent under its own
# key, so without --pubkey even the genuine log is "not verified" (exit 6), and with the genuine
# key pinned the rebuilt one fails at its first record (exit 1).
cp "$log/audit.vkey" "$tmp/pinned.vkey"
"$BUILD/bench/audit_pipeline" --events 70 --dir "$tmp/forged" \
	--audit rotate=12K,checkpoint=40,fsync=16 > "$tmp/bench.out"
check "the rebuilt log has another key (sanity)" \
	"$(cmp -s "$tmp/pinned.vkey" "$tmp/forged/log/audit.vkey" && echo 1 || echo 0)"
out=$("$BUILD/vigil" log verify --pubkey "$tmp/pinned.vkey" "$log" 2>&1)
rc=$?
check "the genuine log under the pinned key: exit 0 ($out)" \
	"$([ $rc = 0 ] && grep -q "^verified: " <<< "$out" && echo 0 || echo 1)"
out=$("$BUILD/vigil" log verify "$log" 2>&1)
rc=$?
check "the genuine log without --pubkey: exit 6, not verified ($out)" \
	"$([ $rc = 6 ] && grep -q "not verified: key not pinned" <<< "$out" && echo 0 || echo 1)"
out=$("$BUILD/vigil" log verify "$tmp/forged/log" 2>&1)
rc=$?
check "the rebuilt log without --pubkey: exit 6, not verified ($out)" \
	"$([ $rc = 6 ] && grep -q "not verified: key not pinned" <<< "$out" && ! grep -q "^verified" <<< "$out" && echo 0 || echo 1)"
out=$("$BUILD/vigil" log verify --quiet "$tmp/forged/log" 2>&1)
rc=$?
check "... also with --quiet (exit 6)" "$([ $rc = 6 ] && echo 0 || echo 1)"
out=$("$BUILD/vigil" log verify --pubkey "$tmp/pinned.vkey" "$tmp/forged/log" 2>&1)
rc=$?
check "the rebuilt log under the pinned key: exit 1, first bad record 1 ($out)" \
	"$([ $rc = 1 ] && grep -q "first bad record 1 " <<< "$out" && echo 0 || echo 1)"
set -e

[ "$fails" = 0 ]
