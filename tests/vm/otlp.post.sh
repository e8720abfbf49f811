#!/usr/bin/env bash
# Host side of the otlp VM suite: decodes what the guest's exporter posted (OUT/otlp-*.bin, captured by
# otlp_sink) with the OpenTelemetry project's decoder, checks every received record against the
# guest's audit log field by field (tests/otlp/check.js), and that the denied exec is there with
# the attributes the issue names. Usage: otlp.post.sh OUT GUEST-LOG (run by tests/run-vm.sh);
# prints TAP lines and a "P passed, F failed" line that includes the guest's own counts.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$1 guest_log=$2
BUILD=${BUILD:-$top/build}
pass=0 fail=0
check() { if [ "$2" = 0 ]; then echo "ok - $1"; pass=$((pass + 1)); else echo "not ok - $1"; fail=$((fail + 1)); fi; }
"$top/scripts/otlp-npm.sh" "$BUILD/npm" || exit 1
export OTLP_NODE_MODULES=$BUILD/npm/node_modules
rx=$out/otlp-decoded
node "$top/tests/otlp/decode-dir.js" "$out" "$rx"
check "host: every captured request decodes with @opentelemetry/otlp-transformer" $?
to=$(jq -s 'map(.attributes["vigil.audit.seq"] | tonumber) | max // 0' "$rx/logs.jsonl")
node "$top/tests/otlp/check.js" "$out" "$rx" --to "$to" | sed 's/^/    /'
check "host: records 1..$to received, each as the guest's audit chain has it" "${PIPESTATUS[0]}"
deny=$(jq -c 'select(.event_name == "vigil.exec.denied" and .attributes["process.executable.path"] == "/tmp/x/unlisted")' "$rx/logs.jsonl" | head -1)
check "host: the denied exec is a vigil.exec.denied log record" "$([ -n "$deny" ] && echo 0 || echo 1)"
seq=$(jq -r '.attributes["vigil.audit.seq"]' <<< "$deny")
line=$(cat "$out"/audit.*.jsonl | jq -c "select(.n == ${seq:-0})")
want=$(jq -c '{pid: .e.pid, ppid: .e.ppid, uid: (.e.uid | tostring), h: .h, reason: .e.reason, policy: .e.policy, serial: .e.policy_serial}' <<< "$line")
have=$(jq -c '.attributes | {pid: (.["process.pid"] | tonumber), ppid: (.["process.parent_pid"] | tonumber), uid: .["user.id"], h: .["vigil.audit.hash"], reason: .["vigil.reason"], policy: .["vigil.policy.name"], serial: (.["vigil.policy.serial"] | tonumber)}' <<< "$deny")
check "host: its pid, parent pid, user, reason, policy and seq/hash are the chain's ($have)" \
	"$([ -n "$line" ] && [ "$want" = "$have" ] && jq -e '.severity_text == "WARN" and .severity_number == 13 and .attributes["vigil.verdict"] == "deny" and .attributes["vigil.reason"] == "not_listed" and .resource["service.name"] == "vigil"' <<< "$deny" > /dev/null && echo 0 || echo 1)"
gp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$guest_log" | tail -n 1)
gf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$guest_log" | tail -n 1)
[ -n "$gp" ] || { gp=0; gf=1; }
echo "$((gp + pass)) passed, $((gf + fail)) failed"
[ "$((gf + fail))" = 0 ]
