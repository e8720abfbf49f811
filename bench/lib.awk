# Shared by the benchmarks' report programs (prepended to them: awk "$(cat bench/lib.awk)"'...'):
# medians and ratios over rounds. v[k, i] is round i's figure for key k; n[k] is k's round count.
function med(a, c,   i, j, t) {
	for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
}
function median_of(k,   a, i) { for (i = 1; i <= n[k]; i++) a[i] = v[k, i]; return med(a, n[k]) }
# The median over rounds of with / without, each pair measured back to back.
function pair_ratio(base, with,   a, i) { for (i = 1; i <= n[with]; i++) a[i] = v[with, i] / v[base, i]; return med(a, n[with]) }
# Each round's with / without, in the printf format fmt, comma-separated.
function ratio_list(base, with, fmt,   i, s) { for (i = 1; i <= n[with]; i++) s = s (i > 1 ? ", " : "") sprintf(fmt, v[with, i] / v[base, i]); return s }
function rounds(k,   i, s) { for (i = 1; i <= n[k]; i++) s = s (i > 1 ? ", " : "") int(v[k, i] + 0.5); return s }
