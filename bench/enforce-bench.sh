#!/usr/bin/env bash
# File and network benchmark: open()+close() with 10,000 file rules, connect() with 10,000 CIDR
# rules, and the same open() loop under the kernel audit subsystem with 10,000 watches; one
# guest boot, ratios to no agent. Writes BUILD/bench/enforce.md (see docs/BENCHMARKS.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
out=$BUILD/bench
mkdir -p "$out"
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

VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 1800 \
	--copy "$out/enforce.policy.json:/bench/enforce.policy.json" \
	--copy bench/guest/enforce.sh:/bench/enforce.sh --copy "$BUILD/guest-tests:/t" \
	-- sh -c "N_RULES=$N_RULES sh /bench/enforce.sh" > "$out/enforce.raw"

awk '
	$1 == "result" { v[$2 "/" $3, ++n[$2 "/" $3]] = $4 }
	function median(k,   i, j, t, a, c) {
		c = n[k]
		for (i = 1; i <= c; i++) a[i] = v[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
	}
	function rounds(k,   i, s) { for (i = 1; i <= n[k]; i++) s = s (i > 1 ? ", " : "") v[k, i]; return s }
	END {
		ob = median("baseline/open"); cb = median("baseline/connect")
		printf "| loop | no agent (ns/op) | with agent (ns/op) | ratio | overhead |\n|---|---|---|---|---|\n"
		printf "| open()+close(), vigil, 10,000 file rules | %.0f | %.0f | %.3f | %+.1f %% |\n", ob, median("vigil/open"), median("vigil/open") / ob, (median("vigil/open") / ob - 1) * 100
		printf "| connect(), vigil, 10,000 CIDR rules | %.0f | %.0f | %.3f | %+.1f %% |\n", cb, median("vigil/connect"), median("vigil/connect") / cb, (median("vigil/connect") / cb - 1) * 100
		printf "| open()+close(), kernel audit, 10,000 watches | %.0f | %.0f | %.3f | %+.1f %% |\n", ob, median("audit/open"), median("audit/open") / ob, (median("audit/open") / ob - 1) * 100
		printf "\nRounds (ns/op): baseline open %s; vigil open %s; audit open %s; baseline connect %s; vigil connect %s; baseline after vigil: open %s, connect %s.\n", rounds("baseline/open"), rounds("vigil/open"), rounds("audit/open"), rounds("baseline/connect"), rounds("vigil/connect"), rounds("after/open"), rounds("after/connect")
	}' "$out/enforce.raw" | tee "$out/enforce.md"
