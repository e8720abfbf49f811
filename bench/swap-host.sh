#!/usr/bin/env bash
# Policy swap time and vigild RSS at 1,000, 10,000 and 100,000 exec rules: one guest boot (TCG),
# plus the user-space half natively on the host, by phase (bench/swap_native.c). Prints Markdown tables.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$top/build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
V=$BUILD/vigil
[ "$BUILD" != "$top/build" ] || make -s -C "$top" build/bench/swap_native
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

# Native user-space half, by phase (bench/swap_native.c): decode + verify signatures, JSON parse,
# resolve, hash every file (a first load), and a reload of the same rules (only files the previous
# generation does not vouch for are read). Prints "DV PARSE RESOLVE HASH_ALL REUSE HASHED".
native() { # native N
	[ -x "$BUILD/bench/swap_native" ] || { echo "- - - - - -"; return; }
	"$BUILD/bench/swap_native" "$work/gen/trust" "$work/root" "$work/gen/b/$1-1.json" \
		"$work/gen/b/$1-2.json" | cut -d' ' -f3-
}

echo "sizes: $sizes; guest boot with $max files (this takes a few minutes under TCG)" >&2
# SWAP_VIGILD_ARGS: e.g. --tcti=none when the host is too loaded for the emulated TPM to answer.
VIGIL_BUILD=$BUILD "$top/tools/vigil-vm" run --mem 2048 --timeout 1200 --bundle "$work/gen/initial.json" \
	${SWAP_VIGILD_ARGS:+--vigild-args "$SWAP_VIGILD_ARGS"} \
	--trust-dir "$work/gen/trust" --copy "$work/root/bench:/bench" --copy "$work/gen:/gen" \
	--copy "$top/bench/swap-guest.sh:/swap-guest.sh" --copy "$BUILD/bench/swap_native:/swap_native" \
	--out "$work/out" -- \
	sh /swap-guest.sh "$sizes" > "$work/guest.txt"

echo "Guest (TCG). Run 1 follows the previous size's bundle (its files are vouched for, the new"
echo "ones are read); run 2 pushes the same rules again."
echo
echo "| rules | run | bundle size | files hashed | verify (ms) | apply (ms) | push wall (s) | vigild RSS after (MiB) | vigild peak RSS (MiB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
while read -r _ n run wall verify apply rss hwm hashed; do
	size=$(stat -c %s "$work/gen/b/$n-$run.json")
	printf '| %s | %s | %s KiB | %s | %s | %s | %s | %s | %s |\n' "$n" "$run" $((size / 1024)) \
		"${hashed:--}" "$verify" "$apply" "$wall" $((rss / 1024)) $((hwm / 1024))
done < <(grep '^swap ' "$work/guest.txt")
grep -E '^(baseline|check) ' "$work/guest.txt" | sed 's/^/    /'
echo
echo "Apply phases vigild logged (ms):"
echo
grep '^phases ' "$work/guest.txt" | sed 's/^phases \([0-9]*\) \([0-9]\) /    \1 run \2: /'
echo
echo "Host native, user-space phases (ms; of 3 runs, the one with the median hash time):"
echo
echo "| rules | decode + verify | JSON parse | resolve | hash every file | reload: index + hash changed (files read) |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
	for i in 1 2 3; do native "$n"; done | sort -n -k5 | sed -n 2p | {
		read -r dv parse resolve all reuse hashed
		printf '| %s | %s | %s | %s | %s | %s (%s) |\n' "$n" "$dv" "$parse" "$resolve" "$all" \
			"$reuse" "$hashed"
	}
done

# Calibration: the same user-space phases (decode + verify, parse, resolve; no hashing, no BPF) in
# the guest of this run and natively here, median of 3 by their sum; factor = guest / native.
median3() { sort -n -k1 | sed -n 2p; }
echo
echo "TCG calibration: the same code (build/bench/swap_native nohash) in this run's guest and natively (ms, median of 3):"
echo
echo "| rules | guest: decode + verify / parse / resolve | native: decode + verify / parse / resolve | factor (sum) | per phase |"
echo "|---:|---|---|---:|---|"
for n in $sizes; do
	g=$(awk -v n="$n" '$1 == "calib" && $2 == n { print $3 + $4 + $5, $3, $4, $5 }' "$work/guest.txt" | median3)
	h=$(for i in 1 2 3; do
		"$BUILD/bench/swap_native" "$work/gen/trust" "$work/root" "$work/gen/b/$n-1.json" \
			"$work/gen/b/$n-2.json" nohash | awk '{ print $3 + $4 + $5, $3, $4, $5 }'
	done | median3)
	[ -n "$g" ] && [ -n "$h" ] || continue
	echo "$g $h" | awk -v n="$n" '{
		printf "| %s | %s / %s / %s | %s / %s / %s | %.1f | %.1f / %.1f / %.1f |\n", n,
			$2, $3, $4, $6, $7, $8, $1 / $5, $2 / $6, $3 / $7, $4 / $8 }'
done
