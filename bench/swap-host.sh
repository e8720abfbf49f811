#!/usr/bin/env bash
# Policy swap time and vigild RSS at 1,000, 10,000 and 100,000 exec rules: one guest boot (TCG),
# plus the same bundles through the user-space half natively on the host. Prints a Markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$top/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
V=$BUILD/vigil
sizes=${BENCH_SIZES:-"1000 10000 100000"}
max=$(printf '%s\n' $sizes | sort -n | tail -1)
work=$BUILD/bench/swap
rm -rf "$work" && mkdir -p "$work/root/bench" "$work/gen/keys" "$work/gen/trust" "$work/gen/b"

# Distinct small files, so that every rule is a real file vigild must resolve and hash.
perl -MDigest::SHA=sha256_hex -e '
	my ($dir, $n) = @ARGV;
	open(my $d, ">", "$dir/../digests") or die;
	for my $i (0 .. $n - 1) {
		open(my $f, ">", "$dir/f$i") or die; print $f "$i\n"; close $f;
		print $d sha256_hex("$i\n"), "\n";
	}' "$work/root/bench" "$max"
bb=$(sha256sum /bin/busybox | cut -c1-64)
mkdir -p "$work/root/bin" && cp /bin/busybox "$work/root/bin/busybox" # for the native check
policy() { # policy SERIAL N
	perl -e '
		my ($serial, $n, $bb, $digests) = @ARGV;
		open(my $d, "<", $digests) or die; my @d = <$d>; chomp @d;
		print qq({"version":1,"name":"bench","serial":$serial,"mode":"enforce",);
		print qq("scope":{"cgroups":["/bench"]},"exec":{"allow":[);
		print qq({"path":"/bin/busybox","sha256":"$bb"});
		print qq(,{"path":"/bench/f$_","sha256":"$d[$_]"}) for 0 .. $n - 1;
		print qq(]}}\n);' "$1" "$2" "$bb" "$work/root/digests"
}
"$V" policy keygen "$work/gen/keys/signer" > /dev/null
cp "$work/gen/keys/signer.pem" "$work/gen/trust/"
policy 1 0 > "$work/p.json"
"$V" policy sign --key "$work/gen/keys/signer.key" -o "$work/gen/initial.json" "$work/p.json"
serial=2
for n in $sizes; do
	for run in 1 2; do
		policy $serial "$n" > "$work/p.json"
		"$V" policy sign --key "$work/gen/keys/signer.key" -o "$work/gen/b/$n-$run.json" "$work/p.json"
		serial=$((serial + 1))
	done
done
rm "$work/p.json"

# Native user-space half: verify + parse (policy verify), then resolve + hash (policy check).
native() { # native N: prints "verify_ms check_ms"
	local t0 t1 t2
	t0=$(date +%s%N)
	"$V" policy verify --trust-dir "$work/gen/trust" "$work/gen/b/$1-1.json" > /dev/null
	t1=$(date +%s%N)
	"$V" policy check --root "$work/root" "$work/gen/b/$1-1.json" > /dev/null
	t2=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000))"
}

echo "sizes: $sizes; guest boot with $max files (this takes a few minutes under TCG)" >&2
"$top/tools/vigil-vm" run --mem 2048 --timeout 1200 --bundle "$work/gen/initial.json" \
	--trust-dir "$work/gen/trust" --copy "$work/root/bench:/bench" --copy "$work/gen:/gen" \
	--copy "$top/bench/swap-guest.sh:/swap-guest.sh" --out "$work/out" -- \
	sh /swap-guest.sh "$sizes" > "$work/guest.txt"

echo "| rules | bundle size | guest: verify (ms) | guest: apply (ms) | guest: push wall (s) | vigild RSS after (MiB) | vigild peak RSS (MiB) | host native: verify + parse (ms) | host native: resolve + hash (ms) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r _ n run wall verify apply rss hwm; do
	[ "$run" = 2 ] || continue
	set -- $(native "$n")
	size=$(stat -c %s "$work/gen/b/$n-$run.json")
	printf '| %s | %s KiB | %s | %s | %s | %s | %s | %s | %s |\n' "$n" $((size / 1024)) "$verify" "$apply" \
		"$wall" $((rss / 1024)) $((hwm / 1024)) "$1" "$2"
done < <(grep '^swap ' "$work/guest.txt")
grep -E '^(baseline|check) ' "$work/guest.txt" | sed 's/^/    /'
