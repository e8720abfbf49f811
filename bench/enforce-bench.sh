#!/usr/bin/env bash
# File and network benchmark: open()+close() with 10,000 file rules, connect() with 10,000 CIDR
# rules, and the same open() loop under the kernel audit subsystem with 10,000 watches; one
# guest boot, ratios to no agent. Writes BUILD/bench/enforce.md (see docs/BENCHMARKS.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
N_RULES=${N_RULES:-10000}
busybox_sha=$(sha256sum /bin/busybox | cut -c1-64)
vtest_sha=$(sha256sum "$BUILD/guest-tests/vtest" | cut -c1-64)

# 10,000 file rules (deny read of /tmp/bench/fI, files the loop never opens) and 10,000 /32 CIDR
# deny rules in 10.100.0.0/16 and up, plus an allow for loopback, which the loop connects to.
awk -v n="$N_RULES" -v bs="$busybox_sha" -v vs="$vtest_sha" 'BEGIN {
	printf "{\"version\":1,\"name\":\"enforce-bench\",\"serial\":1,\"mode\":\"enforce\",\n"
	printf "\"scope\":{\"cgroups\":[\"/bench\"]},\n"
	printf "\"exec\":{\"allow\":[{\"path\":\"/bin/busybox\",\"sha256\":\"%s\"},", bs
	printf "{\"path\":\"/t/vtest\",\"sha256\":\"%s\"}]},\n", vs
	printf "\"files\":{\"default\":\"allow\",\"rules\":["
	for (i = 0; i < n; i++)
		printf "%s{\"path\":\"/tmp/bench/f%d\",\"access\":[\"read\"],\"action\":\"deny\"}", i ? "," : "", i
	printf "]},\n\"network\":{\"default\":\"deny\",\"rules\":["
	printf "{\"name\":\"loopback\",\"cidr\":\"127.0.0.0/8\",\"action\":\"allow\"}"
	for (i = 0; i < n; i++)
		printf ",{\"cidr\":\"10.%d.%d.%d\",\"action\":\"deny\"}", 100 + int(i / 65536), int(i / 256) % 256, i % 256
	printf "]}}\n"
}' > "$out/enforce.policy.json"

# The guest clock counts instructions (1 ns each, see tools/vigil-vm): ratios are instruction
# ratios, repeatable whatever the shared host is doing. ENFORCE_ICOUNT= (empty) measures TCG time.
ICOUNT=${ENFORCE_ICOUNT-0}
VIGIL_VM_ICOUNT=$ICOUNT VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 2400 --smp 1 \
	--copy "$out/enforce.policy.json:/bench/enforce.policy.json" \
	--copy bench/guest/enforce.sh:/bench/enforce.sh --copy bench/guest/lib.sh:/bench/lib.sh --copy "$BUILD/guest-tests:/t" \
	-- sh -c "N_RULES=$N_RULES ROUNDS=${ROUNDS:-3} sh /bench/enforce.sh" > "$out/enforce.raw"

awk -v unit="$([ -n "$ICOUNT" ] && echo 'guest insns' || echo ns)" "$(cat bench/lib.awk)"'
	$1 == "result" { k = $2 "/" $3; v[k, ++n[k]] = $4 }
	$1 == "result-ab" { k = $2; ab[k, ++nab[k]] = $4 / $6 }
	$1 == "progstat" { runs[$2] += $3; ns[$2] += $4 }
	END {
		printf "| loop | rounds | no agent, median (" unit "/op) | with agent, median (" unit "/op) | ratio (median of pairs) | overhead |\n|---|---|---|---|---|---|\n"
		r = pair_ratio("baseline/open", "vigil/open")
		printf "| open()+close(), vigil, 10,000 file rules | %d | %.0f | %.0f | %.3f | %+.1f %% |\n", n["vigil/open"], median_of("baseline/open"), median_of("vigil/open"), r, (r - 1) * 100
		r = pair_ratio("baseline/connect", "vigil/connect")
		printf "| connect(), vigil, 10,000 CIDR rules | %d | %.0f | %.0f | %.3f | %+.1f %% |\n", n["vigil/connect"], median_of("baseline/connect"), median_of("vigil/connect"), r, (r - 1) * 100
		r = median_of("audit/open") / median_of("baseline/open")
		printf "| open()+close(), kernel audit, 10,000 watches | %d | %.0f | %.0f | %.3f (of medians) | %+.1f %% |\n", n["audit/open"], median_of("baseline/open"), median_of("audit/open"), r, (r - 1) * 100
		for (k in nab) { for (i = 1; i <= nab[k]; i++) a[i] = ab[k, i]; abm[k] = med(a, nab[k]); for (i = 1; i <= nab[k]; i++) abl[k] = abl[k] (i > 1 ? ", " : "") sprintf("%.3f", ab[k, i]) }
		printf "| open()+close() inside / outside the scope, vigild loaded (interleaved) | %d | | | %.3f | %+.1f %% |\n", nab["open"], abm["open"], (abm["open"] - 1) * 100
		printf "| connect() inside / outside the scope, vigild loaded (interleaved) | %d | | | %.3f | %+.1f %% |\n", nab["connect"], abm["connect"], (abm["connect"] - 1) * 100
		printf "\nInside/outside ratios: open %s; connect %s.\n", abl["open"], abl["connect"]
		# Kernel-timed cost per call of the programs each loop iteration runs once.
		fo = 0; for (p in runs) if (p ~ /file_open$|file_free$/) fo += ns[p] / runs[p]
		sc = ns["vigil_socket_connect"] / (runs["vigil_socket_connect"] ? runs["vigil_socket_connect"] : 1)
		printf "\nPrograms as timed by the kernel (kernel.bpf_stats_enabled), " unit " per run:"
		for (p in runs) printf " %s %.0f;", p, ns[p] / runs[p]
		printf "\n\n| loop | vigil programs per iteration (" unit ", kernel-timed) | no agent, median (" unit "/op) | estimated overhead |\n|---|---|---|---|\n"
		printf "| open()+close(), 10,000 file rules | %.0f | %.0f | %+.1f %% |\n", fo, median_of("baseline/open"), fo / median_of("baseline/open") * 100
		printf "| connect(), 10,000 CIDR rules | %.0f | %.0f | %+.1f %% |\n", sc, median_of("baseline/connect"), sc / median_of("baseline/connect") * 100
		printf "\nPer-pair ratios: open %s; connect %s.\n", ratio_list("baseline/open", "vigil/open", "%.3f"), ratio_list("baseline/connect", "vigil/connect", "%.3f")
		printf "Rounds (" unit "/op): baseline open %s; vigil open %s; audit open %s; baseline connect %s; vigil connect %s.\n", rounds("baseline/open"), rounds("vigil/open"), rounds("audit/open"), rounds("baseline/connect"), rounds("vigil/connect")
	}' "$out/enforce.raw" | tee "$out/enforce.md"
