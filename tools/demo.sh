#!/usr/bin/env bash
# make demo: boots a guest with vigild enforcing policies/examples/demo.json and narrates the result.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
policy=policies/examples/demo.json
want=$(jq -r '.exec.allow[0].sha256' "$policy")
have=$(sha256sum /bin/busybox | cut -c1-64)
if [ "$want" != "$have" ]; then
	echo "demo: $policy pins /bin/busybox at $want, but this machine's busybox-static is $have." >&2
	echo "demo: refresh the pin with: $BUILD/vigil policy pin -o $policy $policy" >&2
	exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== vigil demo: booting a QEMU guest (Debian kernel, BPF LSM, swtpm vTPM; about 15 s)"
echo "== vigild enforces $policy: in cgroup /workload only /bin/busybox (by path + SHA-256) may run"
echo
VIGIL_BUILD=$BUILD tools/vigil-vm run --policy "$policy" --copy tools/demo/guest.sh:/demo.sh \
	--out "$out" -- sh /demo.sh
echo
echo "== events vigild recorded (from its decision log, one JSON line each):"
jq -r 'select(.type == "exec") | "   \(.verdict | ascii_upcase)\t\(.path)\tpid \(.pid)\treason \(.reason)\trule \(.rule // "-")\tpolicy \(.policy) serial \(.policy_serial)"' \
	"$out/events.jsonl"
echo
echo "== the raw record of the denial:"
jq -c 'select(.verdict == "deny")' "$out/events.jsonl" | head -n 1
echo
echo "== vigild's log:"
sed 's/^/   /' "$out/vigild.log"
echo
echo "== the guest's hash-chained audit log, verified here on the host (chain + signed checkpoints):"
"$BUILD/vigil" log verify "$out" 2>&1 | sed 's/^/   /'
