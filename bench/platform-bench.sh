#!/usr/bin/env bash
# Creation benchmark (bpf/platform.bpf.h: the program on security_inode_init_security runs on
# every named inode a filesystem creates; d_instantiate's only where a protected directory needs
# it): creat+close+unlink and mkdir+rmdir loops on tmpfs, inside the scope and outside it (the
# platform), without and with vigild, in one guest boot; plus the kernel's timing of each
# creation program per run.
# Writes BUILD/bench/platform.md.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bs=$(sha256sum /bin/busybox | cut -c1-64)
cs=$(sha256sum "$BUILD/guest-tests/createloop" | cut -c1-64)
printf '{"version":1,"name":"platform-bench","serial":1,"mode":"enforce","scope":{"cgroups":["/bench"]},"exec":{"allow":[{"path":"/bin/busybox","sha256":"%s"},{"path":"/t/createloop","sha256":"%s"}]}}\n' \
	"$bs" "$cs" > "$out/platform.policy.json"
# The guest clock counts instructions (1 ns each, see tools/vigil-vm). PLATFORM_ICOUNT= (empty)
# measures TCG time.
ICOUNT=${PLATFORM_ICOUNT-0}
VIGIL_VM_ICOUNT=$ICOUNT VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 2400 --smp 1 \
	--copy "$out/platform.policy.json:/bench/platform.policy.json" \
	--copy bench/guest/platform.sh:/bench/platform.sh --copy bench/guest/lib.sh:/bench/lib.sh \
	--copy "$BUILD/guest-tests:/t" \
	-- sh -c "N=${N:-20000} ROUNDS=${ROUNDS:-3} sh /bench/platform.sh" > "$out/platform.raw"
awk -v unit="$([ -n "$ICOUNT" ] && echo 'guest insns' || echo ns)" "$(cat bench/lib.awk)"'
	$1 == "result" { k = $2 "/" $3 "/" $4; v[k, ++n[k]] = $5 }
	$1 == "progstat" && $2 ~ /^vigil_platform_(init_security|instantiate)$/ { runs[$2] += $3; ns[$2] += $4 }
	END {
		printf "| loop | where | rounds | no agent, median (" unit "/op) | with agent, median (" unit "/op) | ratio (median of pairs) |\n|---|---|---|---|---|---|\n"
		split("create mkdir", loops, " "); split("in out", wh, " ")
		for (i = 1; i <= 2; i++) for (j = 1; j <= 2; j++) {
			b = "baseline/" wh[j] "/" loops[i]; w = "vigil/" wh[j] "/" loops[i]
			printf "| %s | %s | %d | %.0f | %.0f | %.3f |\n", loops[i], wh[j] == "in" ? "scope" : "platform", n[w], median_of(b), median_of(w), pair_ratio(b, w)
		}
		printf "\n"
		for (p in runs)
			printf "%s as timed by the kernel: %d runs, %.1f " unit " per run.\n", p, runs[p], runs[p] ? ns[p] / runs[p] : 0
	}' "$out/platform.raw" | tee "$out/platform.md"
