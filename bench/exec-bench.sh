#!/usr/bin/env bash
# Exec benchmark: fork+exec of an allowed binary, without and with vigild, in one guest boot.
# Prints a markdown table row set; the ratio is what docs/BENCHMARKS.md records.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${1:-build}
out=$BUILD/bench
mkdir -p "$out"
tests/vm/render-policy.sh bench/exec.policy.json > "$out/exec.policy.json"
VIGIL_BUILD=$BUILD tools/vigil-vm run --timeout 900 \
	--copy "$out/exec.policy.json:/bench/exec.policy.json" \
	--copy bench/guest/exec.sh:/bench/exec.sh --copy "$BUILD/guest-tests/execloop:/bench/bin/execloop" \
	--copy /bin/busybox:/opt/true -- sh -c 'N=${N:-1000} sh /bench/exec.sh' > "$out/exec.raw"
awk '
	/^baseline/ { b[++nb] = $2 }
	/^vigild/ { v[++nv] = $2 }
	/^events/ { ev = $2 }
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		mb = median(b, nb); mv = median(v, nv)
		printf "| rounds | baseline median (µs/exec) | vigild median (µs/exec) | overhead | allow events logged |\n"
		printf "|---|---|---|---|---|\n"
		printf "| %d | %.1f | %.1f | %+.1f %% | %d |\n", nb, mb / 1000, mv / 1000, (mv / mb - 1) * 100, ev
		for (i = 1; i <= nb; i++) printf "round %d: baseline %.1f µs, vigild %.1f µs\n", i, b[i] / 1000, v[i] / 1000 > "/dev/stderr"
	}' "$out/exec.raw" | tee "$out/exec.md"
