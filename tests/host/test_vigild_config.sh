#!/usr/bin/env bash
# Host test: vigild.conf end to end through vigild: --check-config, a flag wins over the file's
# key, a bad file is one line (file, line, key) and vigild does not start, no bundle is idle.
set -uo pipefail
BUILD=${BUILD:-build}
. "$(dirname "$0")/lib.sh"
t=$(mktemp -d)
idle_pid=
trap '[ -n "$idle_pid" ] && kill "$idle_pid" 2>/dev/null; rm -rf "$t"' EXIT

# lib.sh's check, stricter: a refusal is at most two lines (vigild's one reason and its exit).
check() { # NAME WANT_RC WANT_MSG CMD...
	local name=$1 want=$2 msg=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$msg" <<<"$out" && [ "$want" = 0 -o "$(wc -l <<<"$out")" -le 2 ]; then
		ok "$name"
	else
		not_ok "$name (exit $rc, want $want; output: $out)"
	fi
}

printf 'content\n' > "$t/bin"
sum=$(sha256sum "$t/bin" | cut -c1-64)
for n in a b; do
	cat > "$t/$n.json" <<EOF2
{"version": 1, "name": "policy-$n", "serial": 2, "mode": "enforce", "scope": "guest",
 "exec": {"allow": [{"name": "tool", "path": "$t/bin", "sha256": "$sum"}]}}
EOF2
done
printf '# test\npolicy = %s\npcr = 23\naudit-dir = none\n' "$t/a.json" > "$t/ok.conf"
check "check-config validates the file and its policy" 0 "policy 'policy-a' serial 2 is valid" \
	"$BUILD/vigild" --config "$t/ok.conf" --check-config
check "a --policy flag wins over the file's policy key" 0 "policy 'policy-b'" \
	"$BUILD/vigild" --config="$t/ok.conf" --check-config --policy "$t/b.json"
printf 'policy = %s\n\npcr = 42\n' "$t/a.json" > "$t/bad.conf"
check "a bad value names file, line and key" 2 "$t/bad.conf:3: key 'pcr': '42': expected a PCR number from 0 to 23" \
	"$BUILD/vigild" --config "$t/bad.conf" --check-config
check "a bad file stops vigild before anything else" 2 "$t/bad.conf:3: key 'pcr'" \
	"$BUILD/vigild" --config "$t/bad.conf" --policy "$t/b.json"
printf 'policy = %s\nbundel = /x\n' "$t/a.json" > "$t/typo.conf"
check "an unknown key is refused" 2 "$t/typo.conf:2: key 'bundel': unknown key" \
	"$BUILD/vigild" --config "$t/typo.conf" --check-config
check "a named file that is missing is an error" 2 "$t/nope.conf: cannot open" \
	"$BUILD/vigild" --config "$t/nope.conf" --check-config
printf 'policy = %s\n' "$t/missing.json" > "$t/gone.conf"
check "check-config rejects the configured policy" 3 "policy rejected" \
	"$BUILD/vigild" --config "$t/gone.conf" --check-config
printf '# nothing configured\n' > "$t/idle.conf"
check "no bundle configured: check-config says idle" 0 "would run idle" \
	"$BUILD/vigild" --config "$t/idle.conf" --check-config

# Idle: vigild stays up, says so, and stops on SIGTERM with status 0.
"$BUILD/vigild" --config "$t/idle.conf" --pin-dir "$t/pins" > "$t/idle.log" 2>&1 &
idle_pid=$!
for _ in $(seq 50); do grep -q 'running idle' "$t/idle.log" && break; sleep 0.1; done
kill -TERM "$idle_pid"
wait "$idle_pid"
rc=$?
idle_pid=
if [ "$rc" = 0 ] && grep -q "no policy bundle configured (set 'bundle = FILE' in $t/idle.conf" "$t/idle.log"; then
	pass=$((pass + 1)); echo "ok - idle vigild says so and stops on SIGTERM"
else
	fail=$((fail + 1)); echo "not ok - idle vigild (exit $rc): $(cat "$t/idle.log")"
fi

echo "host vigild config: $pass passed, $fail failed"
[ "$fail" = 0 ]
