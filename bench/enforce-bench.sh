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
	$1 == "result" { k = $2 "/" $3; v[k, ++n[k]] = $4 }
	function sorted(k, a,   i, j, t, c) {
		c = n[k]
		for (i = 1; i <= c; i++) a[i] = v[k, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return c
	}
	function q(k, which,   a, c) { c = sorted(k, a); return which == "min" ? a[1] : (c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2) }
	function rounds(k,   i, s) { for (i = 1; i <= n[k]; i++) s = s (i > 1 ? ", " : "") int(v[k, i] + 0.5); return s }
	function row(label, base, with) {
		printf "| %s | %.0f / %.0f | %.0f / %.0f | %.3f | %+.1f %% | %+.1f %% |\n", label, q(base, "min"), q(base, "med"), q(with, "min"), q(with, "med"), q(with, "min") / q(base, "min"), (q(with, "min") / q(base, "min") - 1) * 100, (q(with, "med") / q(base, "med") - 1) * 100
	}
	END {
		printf "| loop | no agent, min / median (ns/op) | with agent, min / median (ns/op) | ratio (min) | overhead (min) | overhead (median) |\n|---|---|---|---|---|---|\n"
		row("open()+close(), vigil, 10,000 file rules", "baseline/open", "vigil/open")
		row("connect(), vigil, 10,000 CIDR rules", "baseline/connect", "vigil/connect")
		row("open()+close(), kernel audit, 10,000 watches", "baseline/open", "audit/open")
		row("(drift check) no agent after vigild, open", "baseline/open", "after/open")
		row("(drift check) no agent after vigild, connect", "baseline/connect", "after/connect")
		printf "\nRounds (ns/op): baseline open %s; vigil open %s; after open %s; audit open %s; baseline connect %s; vigil connect %s; after connect %s.\n", rounds("baseline/open"), rounds("vigil/open"), rounds("after/open"), rounds("audit/open"), rounds("baseline/connect"), rounds("vigil/connect"), rounds("after/connect")
	}' "$out/enforce.raw" | tee "$out/enforce.md"
