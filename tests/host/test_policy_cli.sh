#!/usr/bin/env bash
# Host test: vigild and `vigil policy` reject bad policies with exit 3 and a message naming
# the file and the field or rule, before any BPF object is opened.
set -uo pipefail
BUILD=${BUILD:-build}
. "$(dirname "$0")/lib.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

printf 'content\n' > "$t/bin"
sum=$(sha256sum "$t/bin" | cut -c1-64)
good() { # writes a valid policy allowing $t/bin with digest $1
	cat > "$t/p.json" <<EOF2
{"version": 1, "name": "cli", "serial": 2, "mode": "enforce", "scope": "guest",
 "exec": {"allow": [{"name": "tool", "path": "$t/bin", "sha256": "$1"}]}}
EOF2
}

good "$sum"
check "valid policy checks" 0 "policy 'cli' serial 2: valid, 1 exec rules, every digest matches" \
	"$BUILD/vigil" policy check "$t/p.json"
check "vigild --check accepts it" 0 "is valid (1 exec rules, digests match)" \
	"$BUILD/vigild" --check --policy "$t/p.json"
check "show lists the rule" 0 "tool" "$BUILD/vigil" policy show "$t/p.json"

good "$(printf '0%.0s' {1..64})"
# A running vigild revokes only the rule whose file does not match (tests/vm/rejects.sh); the
# image build's checks refuse the policy.
check "digest mismatch names rule and both digests" 3 \
	"exec.allow[0].sha256: rule 'tool': $t/bin has sha256 $sum, the policy says 0000" \
	"$BUILD/vigild" --check --policy "$t/p.json" --event-log "$t/ev"
[ ! -e "$t/ev" ] && { pass=$((pass + 1)); echo "ok - rejected policy opened no event log"; } ||
	{ fail=$((fail + 1)); echo "not ok - rejected policy opened no event log"; }
check "vigil policy check reports the same" 3 "exec.allow[0].sha256: rule 'tool'" \
	"$BUILD/vigil" policy check "$t/p.json"
check "--no-digests skips content checks" 0 "digests not checked" \
	"$BUILD/vigil" policy check --no-digests "$t/p.json"

good "$sum"
sed -i "s|$t/bin|$t/missing|" "$t/p.json"
check "missing file names the rule and path" 3 "exec.allow[0].path: rule 'tool': $t/missing: No such file" \
	"$BUILD/vigild" --check --policy "$t/p.json"

printf '{"version": 1,\n "name": "x",\n "serial": 1\n "mode": "audit"}\n' > "$t/p.json"
check "syntax error names file, line and column" 3 "$t/p.json:4:" "$BUILD/vigild" --policy "$t/p.json"
printf '{"version": 1, "name": "x", "serial": 1, "mode": "audit", "scope": "guest", "exec": {"deny": []}}' > "$t/p.json"
check "unknown field named" 3 "exec.deny: unknown field" "$BUILD/vigild" --policy "$t/p.json"
printf '{"version": 1, "name": "x", "serial": "1"}' > "$t/p.json"
check "wrong type named" 3 "serial: expected an integer" "$BUILD/vigild" --policy "$t/p.json"
check "missing policy file" 3 "cannot open: No such file" "$BUILD/vigild" --policy "$t/none.json"
check "no --policy or --bundle is a usage error" 2 "give one of --bundle FILE or --policy FILE" "$BUILD/vigild"
check "unknown option is a usage error" 2 "usage:" "$BUILD/vigild" --bogus

# pin fills digests and writes a policy vigild accepts.
good "$(printf '0%.0s' {1..64})"
check "pin fills the digest" 0 "" "$BUILD/vigil" policy pin -o "$t/pinned.json" "$t/p.json"
check "pinned policy checks" 0 "every digest matches" "$BUILD/vigil" policy check "$t/pinned.json"

echo "host policy cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
