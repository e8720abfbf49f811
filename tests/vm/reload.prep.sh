#!/usr/bin/env bash
# Host side of the reload suite: bundles of serials 2..101; odd serials allow /opt/true, even ones not.
set -euo pipefail
gen=$1
mkdir -p "$gen/b"
for i in $(seq 2 101); do
	if [ $((i % 2)) = 1 ]; then
		jq -c ".serial = $i" "$gen/policy.json"
	else
		jq -c ".serial = $i | .exec.allow |= map(select(.path != \"/opt/true\"))" "$gen/policy.json"
	fi > "$gen/b/p$i.json"
	"$VIGIL" policy sign --key "$gen/keys/signer.key" -o "$gen/b/$i.json" "$gen/b/p$i.json"
	rm "$gen/b/p$i.json"
done
