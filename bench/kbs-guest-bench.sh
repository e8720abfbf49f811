#!/usr/bin/env bash
# Key release inside the guest (issue 12; target: median under 250 ms): RUNS full fetches (auth,
# TPM quote through the guest's tpm_tis and swtpm, attest, resource, JWE decrypt) by a process of
# the platform, the broker on the guest's loopback, vigild enforcing. One guest boot under
# VIGIL_VM_ICOUNT=0: the guest clock counts instructions (1 ns each), so the figures are
# instruction counts the host's load does not change, with the TPM's share. BUILD/bench/kbs-guest.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make -s BUILD="$BUILD" all "$BUILD/bench/kbs_fetch" > /dev/null
cat > "$out/kbs.policy.json" << JSON
{"version": 1, "name": "kbs-bench", "serial": 1, "mode": "enforce",
 "scope": {"cgroups": ["/bench"]},
 "exec": {"allow": [{"path": "/bin/busybox", "sha256": "$(sha256sum /bin/busybox | cut -c1-64)"}]}}
JSON
VIGIL_VM_ICOUNT=${KBS_ICOUNT-0} VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 3600 --smp 1 \
	--copy "$out/kbs.policy.json:/bench/kbs.policy.json" --copy bench/guest/kbs.sh:/bench/kbs.sh --copy bench/guest/lib.sh:/bench/lib.sh \
	--copy "$BUILD/bench/kbs_fetch:/t/kbs_fetch" -- sh /bench/kbs.sh > "$out/kbs-guest.raw"
v() { awk -v k="$1" '$1 == k { print $2 }' "$out/kbs-guest.raw"; }
{
	echo "### Key release in the guest, icount (VIGIL_VM_ICOUNT=${KBS_ICOUNT-0}: 1 instruction = 1 ns of guest time) ($(date -u +%Y-%m-%dT%H:%MZ))"
	echo
	echo "| $(v runs) runs ($(v failed) refused and retried) | median | p95 |"
	echo "|---|---|---|"
	echo "| auth -> key decrypted (EC P-256 ephemeral key) | $(v total_median_ms) ms | $(v total_p95_ms) ms |"
	echo "| of which the TPM (AK, quote, 24 PCR reads, through tpm_tis) | $(v tpm_median_ms) ms | $(v tpm_p95_ms) ms |"
	echo "| of which HTTP round trips (broker in the same guest) | $(v http_median_ms) ms | $(v http_p95_ms) ms |"
} | tee "$out/kbs-guest.md"
