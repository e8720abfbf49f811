#!/usr/bin/env bash
# Host side of the examples suite: the example policies, each also signed with a serial above the
# suite's own (GEN/examples/NAME.bundle.json), and the Debian files their exec rules pin, copied
# from this machine's packages into GEN/root/ at their own paths (never committed). The guest is
# a busybox image: these stand for the Debian image the examples were written for. Each example
# is re-pinned (`vigil policy pin`) for this machine's files first, as a user pins an example for
# an image: Debian's point and security releases change the committed digests (the suite says
# which differ; tests/host/test_policy_examples.sh checks the rest of each example as committed).
set -euo pipefail
gen=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$gen/examples" "$gen/root"
serial=2
# The guest-wide one last (highest serial): once loaded, the platform is in its scope.
for p in $(ls "$top"/policies/examples/*.json | grep -v /baseline-audit.json) "$top/policies/examples/baseline-audit.json"; do
	n=$(basename "$p" .json)
	"$VIGIL" policy pin -o "$gen/examples/$n.json" "$p"
	# The digests pin changed (pin keeps every rule in its place).
	stale=$(jq -rn --slurpfile a "$p" --slurpfile b "$gen/examples/$n.json" \
		'[$a[0], $b[0]] | map([.exec.allow[]?, (.keys.rules[]?.exe // empty)]) | transpose[] |
		 select(.[0].sha256 != .[1].sha256) | .[0].path' | tr '\n' ' ')
	[ -z "$stale" ] || echo "examples suite: $n: re-pinned for this machine's packages: $stale"
	jq ".serial = $serial" "$gen/examples/$n.json" > "$gen/examples/$n.serial.json"
	"$VIGIL" policy sign --key "$gen/keys/signer.key" -o "$gen/examples/$n.bundle.json" \
		"$gen/examples/$n.serial.json"
	rm "$gen/examples/$n.serial.json"
	for f in $(jq -r '.exec.allow[]?.path' "$p"); do
		[ -f "$f" ] || { echo "examples suite: $p pins $f, which this machine lacks" >&2; exit 1; }
		mkdir -p "$gen/root$(dirname "$f")"
		cp -L "$f" "$gen/root$f"
	done
	serial=$((serial + 1))
done
# A copy of batch-job.json whose first exec digest has one changed hex digit.
jq '.exec.allow[0].sha256 |= (if startswith("0") then "1" else "0" end) + .[1:]' \
	"$gen/examples/batch-job.json" > "$gen/bad-digest.json"
jq -r '.files.rules[]?.path' "$top"/policies/examples/*.json | sort -u > "$gen/examples/files-paths"
echo "examples suite: $(find "$gen/root" -type f | wc -l) files for $(ls "$top"/policies/examples/*.json | wc -l) examples"
