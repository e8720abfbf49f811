#!/usr/bin/env bash
# Exec benchmark: fork+exec+wait of an allowed binary, without and with vigild, in one guest
# boot. Writes BUILD/bench/exec.md (see docs/BENCHMARKS.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
tests/vm/render-policy.sh bench/exec.policy.json > "$out/exec.policy.json"
# The guest clock counts instructions (1 ns each, see tools/vigil-vm): ratios are instruction
# ratios, repeatable whatever the shared host is doing. EXEC_ICOUNT= (empty) measures TCG time.
ICOUNT=${EXEC_ICOUNT-${VIGIL_VM_ICOUNT-0}}
VIGIL_VM_ICOUNT=$ICOUNT VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 3600 --smp 1 \
	--copy "$out/exec.policy.json:/bench/exec.policy.json" \
	--copy bench/guest/exec.sh:/bench/exec.sh --copy "$BUILD/guest-tests/execloop:/bench/bin/execloop" \
	--copy /bin/busybox:/opt/true -- sh -c "N=${N:-1000} ROUNDS=${ROUNDS:-3} sh /bench/exec.sh" > "$out/exec.raw"
awk -v unit="$([ -n "$ICOUNT" ] && echo 'guest insns' || echo ns)" "$(cat bench/lib.awk)"'
	$1 == "result" { v[$2, ++n[$2]] = $3 }
	$1 == "progstat" { runs[$2] += $3; ns[$2] += $4 }
	$1 == "events" { ev = $2; evx = $4 }
	$1 == "deny" { deny = $2 }
	END {
		printf "| configuration | rounds | no agent, median (" unit "/exec) | configuration, median (" unit "/exec) | ratio (median of pairs) | overhead |\n|---|---|---|---|---|---|\n"
		r = pair_ratio("baseline", "vigild")
		printf "| vigild enforcing, events consumed | %d | %.0f | %.0f | %.4f | %+.1f %% |\n", n["vigild"], median_of("baseline"), median_of("vigild"), r, (r - 1) * 100
		r = pair_ratio("baseline", "bpf-only")
		printf "| vigild enforcing, stopped (BPF programs and ring buffer only) | %d | %.0f | %.0f | %.4f | %+.1f %% |\n", n["bpf-only"], median_of("baseline"), median_of("bpf-only"), r, (r - 1) * 100
		printf "\nPer-pair ratios: vigild %s; stopped %s.\n", ratio_list("baseline", "vigild", "%.4f"), ratio_list("baseline", "bpf-only", "%.4f")
		printf "Rounds (" unit "/exec): baseline %s; vigild %s; stopped %s.\n", rounds("baseline"), rounds("vigild"), rounds("bpf-only")
		printf "Allow events logged: %d of %d execs; deny events: %d.\n", ev, evx, deny
		printf "Programs as timed by the kernel (kernel.bpf_stats_enabled), " unit " per run (runs):"
		for (p in runs) if (runs[p]) printf " %s %.0f (%d);", p, ns[p] / runs[p], runs[p]
		printf "\n"
	}' "$out/exec.raw" | tee "$out/exec.md"
