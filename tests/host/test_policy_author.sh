#!/usr/bin/env bash
# Host test: `vigil policy test` and `vigil policy explain` decide offline as the BPF programs
# do (the same cases run in the kernel: tests/vm/author.sh), and bad case files or events are
# refused with one line naming the file, line and field.
set -uo pipefail
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
V="$BUILD/vigil"
. "$(dirname "$0")/lib.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# The kernel suite's policy (tests/vm/author.sh); exec digests do not matter offline.
P="$t/author.policy.json"
sed 's/@SHA256:[^@]*@/3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6/' \
	"$top/tests/vm/author.policy.json" > "$P"
C="$top/tests/vm/author.cases.jsonl"
check "the kernel suite's cases pass offline" 0 "0 failed" "$V" policy test "$P" "$C"
n=$(grep -c '^{' "$C")
check "every case is run" 0 "$n cases, $n passed" "$V" policy test "$P" "$C"

# A wrong expectation fails the run (exit 1) and says what was expected.
sed '0,/"expect": "allow"/s//"expect": "deny"/' "$C" > "$t/wrong.jsonl"
check "a wrong expectation fails" 1 "(expected deny" "$V" policy test "$P" "$t/wrong.jsonl"
check "a failure says why" 1 "     why: " "$V" policy test "$P" "$t/wrong.jsonl"

one_line() { # NAME CASE_LINE WANT_MSG: a bad case is one line of output, exit 3
	printf '# header\n%s\n' "$2" > "$t/bad.jsonl"
	local out rc
	out=$("$V" policy test "$P" "$C" "$t/bad.jsonl" 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -qF -- "$3" <<<"$out"; then
		pass=$((pass + 1)); echo "ok - $1"
	else
		fail=$((fail + 1)); echo "not ok - $1 (exit $rc; output: $out)"
	fi
}
one_line "unknown field" '{"file": "/etc/x", "access": "read", "expect": "deny", "port": 1}' \
	"$t/bad.jsonl:2: port: unknown field for a file case"
one_line "impossible port" '{"net": "connect", "addr": "10.0.0.1", "port": 70000, "protocol": "tcp", "expect": "deny"}' \
	"$t/bad.jsonl:2: port: expected an integer 0-65535"
one_line "impossible protocol" '{"net": "connect", "addr": "10.0.0.1", "port": 7, "protocol": "any", "expect": "deny"}' \
	"$t/bad.jsonl:2: protocol:"
one_line "relative path" '{"file": "etc/x", "access": "read", "expect": "deny"}' \
	"$t/bad.jsonl:2: file: 'etc/x' is not an absolute path"
one_line "two accesses" '{"file": "/x", "exec": "/y", "access": "read", "expect": "deny"}' \
	"$t/bad.jsonl:2: file: a case has exactly one access"
one_line "not JSON" 'exec /bin/sh' "$t/bad.jsonl:2: not a JSON object"
check "missing case file" 3 "$t/none.jsonl: No such file" "$V" policy test "$P" "$t/none.jsonl"
check "usage" 2 "usage: vigil policy test" "$V" policy test "$P"

# explain: an event line, from the argument or stdin, and an audit record by number.
ev='{"time":"2026-11-28T00:00:00.000000000Z","type":"file","verdict":"deny","reason":"rule","errno":1,"pid":42,"tid":42,"ppid":1,"uid":0,"gid":0,"cgroup_id":9,"comm":"cat","path":"/tests/vm/author-data/secret/key","dev":"0:20","ino":77,"access":"read","rule":"secret","policy":"author","policy_serial":1,"generation":2}'
check "explain names the rule" 0 "files.rules[1] 'secret'" "$V" policy explain "$P" "$ev"
check "explain says why" 0 "is the nearest rule for read above /tests/vm/author-data/secret/key" "$V" policy explain "$P" "$ev"
check "explain agrees" 0 "offline:  deny, rule secret: agrees with the event" "$V" policy explain "$P" "$ev"
check "explain names the generation" 0 "policy 'author' serial 1, generation 2" "$V" policy explain "$P" "$ev"
check "explain from stdin" 0 "agrees with the event" sh -c "printf '%s\n' '$ev' | '$V' policy explain '$P' -"
lie=${ev/\"rule\":\"secret\"/\"rule\":\"open\"}
check "explain flags a disagreement" 1 "DIFFERS from the event" "$V" policy explain "$P" "$lie"
other=${ev/\"policy_serial\":1/\"policy_serial\":9}
check "explain flags another serial" 1 "not the one that decided" "$V" policy explain "$P" "$other"
net='{"type":"network","verdict":"deny","reason":"rule","errno":1,"pid":5,"uid":0,"comm":"nc","path":"","op":"connect","network.peer.address":"::ffff:10.0.2.2","network.peer.port":25,"network.transport":"tcp","network.type":"ipv4","rule":"no-smtp","policy":"author","policy_serial":1,"generation":2}'
check "explain a mapped IPv6 connect" 0 "rule no-smtp: agrees" "$V" policy explain "$P" "$net"
# explain of a key event: the executable by its identity (dev, ino) among the key rules' files
# (under --root), with its digest now; the cgroup by id among the directories of --cgroup-fs.
mkdir -p "$t/root/t" "$t/cg/workload/keyok"
printf 'the granted binary\n' > "$t/root/t/keyreader"
d=$(sha256sum "$t/root/t/keyreader" | cut -c1-64)
jq --arg d "$d" '(.keys.rules[] | select(.name == "key-reader") | .exe.sha256) = $d' "$P" > "$t/keys.json"
kev() { # EXE_FILE CGROUP_DIR VERDICT REASON RULE: a key read event by that file in that cgroup
	printf '{"type":"key","verdict":"%s","reason":"%s","errno":0,"pid":7,"uid":0,"comm":"keyreader","cgroup_id":%s,"dev":"%s","ino":%s,"key":"author:key","perm":"read","rule":%s,"policy":"author","policy_serial":1,"generation":1}' \
		"$3" "$4" "$(stat -c %i "$2")" "$(stat -c %Hd:%Ld "$1")" "$(stat -c %i "$1")" "$5"
}
X=("$V" policy explain --root "$t/root" --cgroup-fs "$t/cg" "$t/keys.json")
ke=$(kev "$t/root/t/keyreader" "$t/cg/workload" allow rule '"key-reader"')
check "explain a key event: the executable" 0 "asked by: /t/keyreader (the event's dev" "${X[@]}" "$ke"
check "explain a key event: the cgroup" 0 "cgroup:   /workload (id $(stat -c %i "$t/cg/workload"))" "${X[@]}" "$ke"
check "explain a key event: the rule" 0 "keys.rules[1] 'key-reader': key 'author:key', exe /t/keyreader" "${X[@]}" "$ke"
check "explain a key event: agrees" 0 "offline:  allow, rule key-reader: agrees" "${X[@]}" "$ke"
ke=$(kev "$t/keys.json" "$t/cg/workload/keyok" allow rule '"key-cgroup"')
check "explain a key event: an executable no rule names, in the granted cgroup" 0 \
	"offline:  allow, rule key-cgroup: agrees" "${X[@]}" "$ke"
check "... the executable is not found" 0 "no executable a key rule names" "${X[@]}" "$ke"
check "explain a key event elsewhere: the cgroup is not found, the grant by cgroup not seen" 1 \
	"offline:  deny, rule (none): DIFFERS" \
	"$V" policy explain --root "$t/root" --cgroup-fs /nonexistent "$t/keys.json" "$ke"
check "... and it says so" 1 "not under /nonexistent (explain where the event was made)" \
	"$V" policy explain --root "$t/root" --cgroup-fs /nonexistent "$t/keys.json" "$ke"
ke=$(kev "$t/root/t/keyreader" "$t/cg/workload" allow rule '"key-reader"')
echo changed >> "$t/root/t/keyreader"
check "explain a key event: the executable changed since, so the offline decision differs" 1 \
	"offline:  deny, rule (none): DIFFERS from the event" "${X[@]}" "$ke"
mkdir "$t/audit"
{
	printf '{"n":1,"k":"start","h":"%064d"}\n' 0
	printf '{"n":2,"k":"event","e":%s,"h":"%064d"}\n' "$ev" 0
} > "$t/audit/audit.000001.jsonl"
check "explain an audit record" 0 "agrees with the event" "$V" policy explain "$P" --audit-dir "$t/audit" --record 2
check "a record that is no decision" 3 "record 1 is a 'start' record, not a decision" "$V" policy explain "$P" --audit-dir "$t/audit" --record 1
check "a record that does not exist" 3 "no audit record 7" "$V" policy explain "$P" --audit-dir "$t/audit" --record 7
check "an event that is not JSON" 3 "vigil: event:1:" "$V" policy explain "$P" '{"type":'

echo "policy authoring: $pass passed, $fail failed"
[ "$fail" = 0 ]
