#!/usr/bin/env bash
# Cost of the scope's bounds (bpf/bound.bpf.h) in guest instructions: chown() pairs (two granted
# capable(CAP_CHOWN) checks each) and open()+close() of a 6-component path (file_open with
# bound_check_open), inside a cgroup scope, with and without vigild; one guest boot under
# VIGIL_VM_ICOUNT=0. Writes BUILD/bench/bound.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cat > "$out/bound.policy.json" << JSON
{"version": 1, "name": "bound-bench", "serial": 1, "mode": "enforce",
 "scope": {"cgroups": ["/bench"]},
 "exec": {"allow": [
  {"path": "/bin/busybox", "sha256": "$(sha256sum /bin/busybox | cut -c1-64)"},
  {"path": "/t/boundprobe", "sha256": "$(sha256sum "$BUILD/guest-tests/boundprobe" | cut -c1-64)"},
  {"path": "/t/vtest", "sha256": "$(sha256sum "$BUILD/guest-tests/vtest" | cut -c1-64)"}]}}
JSON
VIGIL_VM_ICOUNT=${BOUND_ICOUNT-0} VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 2400 --smp 1 \
	--copy "$out/bound.policy.json:/bench/bound.policy.json" \
	--copy bench/guest/bound.sh:/bench/bound.sh --copy bench/guest/lib.sh:/bench/lib.sh --copy "$BUILD/guest-tests:/t" \
	-- sh /bench/bound.sh > "$out/bound.raw"
awk "$(cat bench/lib.awk)"'
	$1 == "result" { k = $2 "/" $3; v[k, ++n[k]] = $4 }
	$1 == "progstat" { runs[$2] += $3; ns[$2] += $4 }
	function pair(loop) { return pair_ratio("baseline/" loop, "vigil/" loop) }
	END {
		print "| loop | no agent (insns/op) | with vigild (insns/op) | ratio (median of pairs) |\n|---|---|---|---|"
		printf "| chown() x2 (2 x capable(CAP_CHOWN), granted) | %.0f | %.0f | %.3f |\n", median_of("baseline/chown"), median_of("vigil/chown"), pair("chown")
		printf "| open()+close(), /tmp/a/b/c/d/f | %.0f | %.0f | %.3f |\n", median_of("baseline/open"), median_of("vigil/open"), pair("open")
		printf "\nPrograms as timed by the kernel (bpf_stats, insns per run incl. ~80 for its clock reads):"
		for (p in runs) if (runs[p]) printf " %s %.0f (%d runs);", p, ns[p] / runs[p], runs[p]
		printf "\n"
	}' "$out/bound.raw" | tee "$out/bound.md"
