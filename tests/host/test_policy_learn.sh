#!/usr/bin/env bash
# Host test: `vigil policy learn` turns a learning run's event log or audit log into a valid
# policy (stable, named rules, digests computed by vigil, directories folded), --merge widens an
# existing policy, `vigil policy diff` shows the difference per section, and bad input is one
# line with nothing written.
set -uo pipefail
BUILD=${BUILD:-build}
V="$BUILD/vigil"
case $V in /*) ;; *) V=$PWD/$V ;; esac
. "$(dirname "$0")/lib.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1

# A root the run used: a program, a library, three inputs in one directory, a config file, a
# scratch directory whose temporary file the run removed.
mkdir -p root/usr/bin root/usr/lib root/data/in root/scratch
printf 'program\n' > root/usr/bin/app
printf 'library\n' > root/usr/lib/libx.so
for i in 1 2 3; do echo "$i" > "root/data/in/f$i"; done
echo conf > root/data/conf
ev() { # TYPE PID PATH EXTRA: one decision event as vigild writes it
	printf '{"time":"2026-11-28T00:00:00.000000000Z","type":"%s","verdict":"audit","reason":"default","errno":0,"pid":%s,"tid":%s,"ppid":1,"uid":1000,"gid":1000,"cgroup_id":7,"comm":"app","path":"%s","dev":"0:1","ino":1%s,"rule":null,"policy":"learning","policy_serial":1,"generation":1}' \
		"$1" "$2" "$2" "$3" "$4"
}
net() { # OP ADDR PORT TRANSPORT
	ev network 10 "" ",\"op\":\"$1\",\"network.peer.address\":\"$2\",\"network.peer.port\":$3,\"network.transport\":\"$4\",\"network.type\":\"ipv4\""
}
{
	ev exec 10 /usr/bin/app ""; echo
	ev mmap_exec 10 /usr/lib/libx.so ""; echo
	for i in 1 2 3; do ev file 10 "/data/in/f$i" ',"access":"read"'; echo; done
	ev file 10 /data/conf ',"access":"read"'; echo
	ev file 10 tmp.1 ',"access":"create"'; echo
	ev file 10 /scratch/tmp.1 ',"access":"write"'; echo
	ev file 10 tmp.1 ',"access":"unlink"'; echo
	net connect 10.0.2.2 8080 tcp; echo
	net connect 10.0.2.2 8080 tcp; echo
	net sendmsg ::ffff:10.0.2.3 53 udp; echo
	ev key 10 "" ',"key":"app:key","perm":"read"'; echo
	ev key 10 "" ',"key":"app:key","perm":"search"'; echo
	ev self 10 "" ',"protects":"bpf","target_pid":0'; echo
} > events.jsonl

check "learn writes a policy" 0 "learned 14 events: 2 exec, 3 file, 2 network, 1 key rules -> p.json" \
	"$V" policy learn --root root --scope /workload --name app -o p.json events.jsonl
check "the policy is valid, digests included" 0 "policy 'app' serial 1: valid, 2 exec rules, every digest matches" \
	"$V" policy check --root root p.json
app_sum=$(sha256sum root/usr/bin/app | cut -c1-64)
jq -e --arg s "$app_sum" '.exec.allow[0] == {"name":"learned:exec:/usr/bin/app","path":"/usr/bin/app","sha256":$s}' p.json > /dev/null &&
	ok "exec rule: path, SHA-256 computed by vigil, named after its origin" || not_ok "exec rule: $(jq -c .exec p.json)"
[ "$(jq -c '[.files.rules[] | [.path, .access]]' p.json)" = '[["/data/conf",["read"]],["/data/in",["read"]],["/scratch",["write","create","unlink"]]]' ] &&
	ok "files: three inputs folded into their directory, a removed temporary file into its own" ||
	not_ok "files: $(jq -c '[.files.rules[] | [.path, .access]]' p.json)"
[ "$(jq -r .files.default p.json)" = deny ] && ok "files default is the author's (deny)" || not_ok "files default"
[ "$(jq -c '[.network.rules[] | [.cidr, .protocol, .ports, .ops]]' p.json)" = '[["10.0.2.2","tcp",8080,["connect"]],["10.0.2.3","udp",53,["sendmsg"]]]' ] &&
	ok "network: one rule per destination, mapped IPv6 as IPv4" || not_ok "network: $(jq -c .network p.json)"
jq -e --arg s "$app_sum" '.keys.rules == [{"name":"learned:key:app:key by /usr/bin/app","key":"app:key","perms":["read","search"],"exe":{"path":"/usr/bin/app","sha256":$s}}]' p.json > /dev/null &&
	ok "keys: the executable that asked (from its exec event), its permissions" || not_ok "keys: $(jq -c .keys p.json)"
"$V" policy learn --root root --scope /workload --name app events.jsonl > again.json 2>/dev/null
cmp -s p.json again.json && ok "stable output" || not_ok "stable output"
tac events.jsonl > reversed.jsonl
"$V" policy learn --root root --scope /workload --name app reversed.jsonl 2>/dev/null | jq -c '[.exec, .files, .network]' > r.json
jq -c '[.exec, .files, .network]' p.json | cmp -s - r.json && ok "order of the log does not matter" || not_ok "order of the log matters"
check "the learned policy decides the run's accesses as allowed" 0 "3 cases, 3 passed" \
	"$V" policy test p.json <(printf '%s\n' \
	'{"file": "/data/in/f9", "access": "read", "expect": "allow", "rule": "learned:directory:/data/in"}' \
	'{"net": "connect", "addr": "10.0.2.2", "port": 8080, "protocol": "tcp", "expect": "allow"}' \
	'{"net": "connect", "addr": "10.0.2.2", "port": 8081, "protocol": "tcp", "expect": "deny", "reason": "default"}')

# An audit log as input, with a loss record: the policy says it may be incomplete.
rec() { printf '{"n":%s,"k":"event","e":%s,"h":"%064d"}\n' "$1" "$2" 0; }
echo other > root/data/other
{
	printf '{"n":1,"k":"start","time":"t","h":"%064d"}\n' 0
	rec 2 "$(ev file 11 /data/other ',"access":"read"')"
	rec 3 "$(ev file 11 /data/conf ',"access":"write"')"
	rec 4 "$(net connect 10.0.2.4 4318 tcp)"
	printf '{"n":5,"k":"loss","time":"t","source":"ringbuf","count":5,"total":5,"h":"%064d"}\n' 0
} > audit.000001.jsonl
check "merge from an audit log" 0 "-> m.json" "$V" policy learn --root root --merge p.json -o m.json audit.000001.jsonl
check "lost events are reported" 0 "5 events were lost during the learning run: the policy may be incomplete" \
	"$V" policy learn --root root --merge p.json -o m.json audit.000001.jsonl
[ "$(jq -r '.name + " " + (.serial|tostring)' m.json)" = "app-incomplete 2" ] &&
	ok "merged policy: next serial, name says incomplete" || not_ok "merged name/serial: $(jq -c '[.name,.serial]' m.json)"
[ "$(jq -c '[.files.rules[] | select(.path == "/data/conf") | .access]' m.json)" = '[["read","write"]]' ] &&
	ok "merge widens an existing rule" || not_ok "merge: $(jq -c .files m.json)"
check "diff shows what the merge added, per section" 1 "+ network: allow connect 10.0.2.4/32 ports 4318-4318 tcp" \
	"$V" policy diff p.json m.json
check "diff counts" 1 "0 only in p.json, 3 only in m.json" "$V" policy diff p.json m.json
check "diff the other way" 1 "- files: allow read /data/other" "$V" policy diff m.json p.json
check "no difference" 0 "0 only in p.json, 0 only in again.json" "$V" policy diff p.json again.json

# diff --log/--cases: the accesses whose decision changes, from the offline evaluator.
check "diff --log: an access the merge allows" 1 "+ read /data/other (audit.000001.jsonl:2): deny (rule (none), default) -> allow (rule learned:file:/data/other, rule)" \
	"$V" policy diff --root root --log audit.000001.jsonl p.json m.json
check "diff --log: the changed network decision" 1 "+ connect tcp 10.0.2.4:4318 (audit.000001.jsonl:4): deny" \
	"$V" policy diff --root root --log audit.000001.jsonl p.json m.json
check "diff --log: counts" 1 "3 accesses compared, 3 decided differently" \
	"$V" policy diff --root root --log audit.000001.jsonl p.json m.json
check "diff --log the other way: now refused" 1 "- write /data/conf (audit.000001.jsonl:3): allow" \
	"$V" policy diff --root root --log audit.000001.jsonl m.json p.json
check "diff --log: the learning run decides the same (repeats compared once)" 0 "11 accesses compared, 0 decided differently" \
	"$V" policy diff --root root --log events.jsonl p.json m.json
printf '%s\n' '{"file": "/data/other", "access": "read", "expect": "deny"}' \
	'{"file": "/data/in/f1", "access": "read", "expect": "allow"}' > diff.cases.jsonl
check "diff --cases: the case that changes" 1 "+ read /data/other (diff.cases.jsonl:1)" \
	"$V" policy diff --root root --cases diff.cases.jsonl p.json m.json
check "diff --cases: counts" 1 "2 accesses compared, 1 decided differently" \
	"$V" policy diff --root root --cases diff.cases.jsonl p.json m.json
check "diff --log: an unreadable log is one line" 3 "vigil: missing.jsonl: No such file or directory" \
	"$V" policy diff --log missing.jsonl p.json m.json
echo 'not json' > bad.jsonl
check "diff --log: a bad line names file and line" 3 "bad.jsonl:1: not a JSON event or audit record" \
	"$V" policy diff --log bad.jsonl p.json m.json

# --collect: follows a live log from its end; only what is appended meanwhile is learned.
ev file 10 /data/conf ',"access":"read"' > live.jsonl; echo >> live.jsonl
( sleep 1; { ev file 10 /data/in/f1 ',"access":"read"'; echo; printf '{"type":"ringbuf_drops","count":2,"total":2}\n'; } >> live.jsonl ) &
check "collect: progress, then the policy" 0 "collected 1 events in" \
	"$V" policy learn --root root --scope /workload --name live --collect --duration 3s -o live.json "$t/live.jsonl"
wait
[ "$(jq -c '[.name, [.files.rules[].path]]' live.json)" = '["live-incomplete",["/data/in/f1"]]' ] &&
	ok "collect: only the appended access; the kernel's drops make it incomplete" || not_ok "collect: $(jq -c . live.json)"
check "collect: a bad duration" 2 "--duration: '3x' is not a duration" \
	"$V" policy learn --scope /workload --collect --duration 3x live.jsonl
check "collect: nothing appended, nothing written" 3 "no decision events: nothing learned" \
	"$V" policy learn --scope /workload --collect --duration 1 -o none.json "$t/live.jsonl"
[ ! -e none.json ] && ok "collect: no output file" || not_ok "collect wrote none.json"

# A file gone with its directory (/proc/PID/...) names no identity: not learned, said so.
{ cat events.jsonl; ev file 12 /proc/999999999/status ',"access":"read"'; echo; } > proc.jsonl
check "a file gone with its directory is not learned" 0 "1 files no longer exist, nor their directories" \
	"$V" policy learn --root root --scope /workload --serial 7 -o s.json proc.jsonl
[ "$(jq -r '.serial' s.json) $(jq -c '[.files.rules[].path | select(startswith("/proc"))]' s.json)" = "7 []" ] &&
	ok "--serial, and no /proc rule" || not_ok "serial / proc: $(jq -c '[.serial, .files]' s.json)"

# Bad input: one line, nothing written.
nothing() { # NAME WANT_MSG ARGS...: exit 3, one line, no output file
	local name=$1 msg=$2 out rc
	shift 2
	rm -f out.json
	out=$("$V" policy learn --root root --scope /workload -o out.json "$@" 2>&1)
	rc=$?
	if [ "$rc" = 3 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -qF -- "$msg" <<<"$out" && [ ! -e out.json ]; then
		ok "$name"
	else
		not_ok "$name (exit $rc; output: $out; $(ls out.json 2>&1))"
	fi
}
: > empty.jsonl
nothing "no events" "empty.jsonl: no decision events: nothing learned" empty.jsonl
printf '{"n":1,"k":"start","h":"%064d"}\n' 0 > startonly.jsonl
nothing "no decision events in an audit log" "startonly.jsonl: no decision events" startonly.jsonl
nothing "unreadable log" "missing.jsonl: No such file or directory" missing.jsonl
{ head -n 2 events.jsonl; echo 'garbage'; } > bad.jsonl
nothing "a line that is not JSON" "bad.jsonl:3: not a JSON event or audit record" bad.jsonl
rm root/usr/lib/libx.so
nothing "an executable that cannot be hashed" "root/usr/lib/libx.so: cannot hash an executable the run used" events.jsonl
check "usage: a scope or a policy to merge into" 2 "usage: vigil policy learn" "$V" policy learn events.jsonl

echo "policy learn: $pass passed, $fail failed"
[ "$fail" = 0 ]
