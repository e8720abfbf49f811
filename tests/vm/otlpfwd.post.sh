#!/usr/bin/env bash
# Host side of the otlpfwd VM suite: what the receiver on the host's loopback decoded
# (OUT/host/rx/logs.jsonl, from tests/vm/otlpfwd.host.sh, the OpenTelemetry project's decoder)
# against the guest's audit log, field by field (tests/otlp/check.js); the denied exec with the
# attributes the issue names and no process.command_line (a refused exec's argv is not the
# program's); the long-running reader's denied read with its command line.
# Usage: otlpfwd.post.sh OUT GUEST-LOG (run by tests/run-vm.sh).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$1 guest_log=$2
BUILD=${BUILD:-$top/build}
pass=0 fail=0
check() { if [ "$2" = 0 ]; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi; }
export OTLP_NODE_MODULES=$BUILD/npm/node_modules
rx=$out/host/rx
check "host: the receiver on 127.0.0.1 decoded log records sent through the guestfwd" \
	"$([ -s "$rx/logs.jsonl" ] && echo 0 || echo 1)"
to=$(jq -s 'map(.attributes["vigil.audit.seq"] | tonumber) | max // 0' "$rx/logs.jsonl" 2> /dev/null)
node "$top/tests/otlp/check.js" "$out" "$rx" --to "${to:-0}" | sed 's/^/    /'
check "host: records 1..$to received, each as the guest's audit chain has it" "${PIPESTATUS[0]}"
deny=$(jq -c 'select(.event_name == "vigil.exec.denied" and .attributes["process.executable.path"] == "/tmp/x/unlisted")' "$rx/logs.jsonl" | head -1)
check "host: the denied exec is a vigil.exec.denied log record" "$([ -n "$deny" ] && echo 0 || echo 1)"
seq=$(jq -r '.attributes["vigil.audit.seq"]' <<< "${deny:-{\}}")
line=$(cat "$out"/audit.*.jsonl | jq -c "select(.n == ${seq:-0})")
want=$(jq -c '{pid: .e.pid, ppid: .e.ppid, uid: (.e.uid | tostring), h: .h, reason: .e.reason, policy: .e.policy, serial: .e.policy_serial}' <<< "${line:-{\}}")
have=$(jq -c '.attributes | {pid: (.["process.pid"] | tonumber), ppid: (.["process.parent_pid"] | tonumber), uid: .["user.id"], h: .["vigil.audit.hash"], reason: .["vigil.reason"], policy: .["vigil.policy.name"], serial: (.["vigil.policy.serial"] | tonumber)}' <<< "${deny:-{\}}" 2> /dev/null)
check "host: its pid, parent pid, user, reason, policy and seq/hash are the chain's ($have)" \
	"$([ -n "$line" ] && [ "$want" = "$have" ] && jq -e '.severity_text == "WARN" and .severity_number == 13 and .attributes["vigil.verdict"] == "deny" and .attributes["vigil.reason"] == "not_listed" and .resource["service.name"] == "vigil" and (.attributes | has("process.command_line") | not)' <<< "$deny" > /dev/null && echo 0 || echo 1)"
reader=$(cat "$out/reader.pid" 2> /dev/null)
rd=$(jq -c --argjson pid "${reader:-0}" 'select(.event_name == "vigil.file.denied" and (.attributes["process.pid"] | tonumber) == $pid)' "$rx/logs.jsonl" | head -1)
cl=$(jq -r '.attributes["process.command_line"] // "(absent)"' <<< "${rd:-{\}}")
check "host: the long-running reader's denied read carries process.command_line ($cl)" \
	"$([ "$cl" = "sh -c usleep 300000; read x < /tests/vm/file-data/secret/a.txt; sleep 600; exit 0" ] && echo 0 || echo 1)"
gp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$guest_log" | tail -n 1)
gf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$guest_log" | tail -n 1)
[ -n "$gp" ] || { gp=0; gf=1; }
echo "$((gp + pass)) passed, $((gf + fail)) failed"
[ "$((gf + fail))" = 0 ]
