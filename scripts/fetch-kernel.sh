#!/usr/bin/env bash
# Fetches a Debian guest kernel into .cache/kernel; quick when present.
#   VIGIL_KERNEL=6.1  (default) bookworm's linux-image-amd64, in .cache/kernel/current
#   VIGIL_KERNEL=6.12 bookworm-backports' linux-image-amd64, in .cache/kernel/6.12
# Prints nothing when the kernel is already cached; `fetch-kernel.sh --dir` prints its directory.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VIGIL_KERNEL_CACHE:-$top/.cache/kernel}
series=${VIGIL_KERNEL:-6.1}
case $series in
6.1) link=current suite= ;;
6.12) link=6.12 suite=bookworm-backports ;;
*)
	echo "kernel: VIGIL_KERNEL='$series' is not a supported guest kernel (6.1 or 6.12)" >&2
	exit 2
	;;
esac
if [ "${1:-}" = --dir ]; then
	echo "$cache/$link"
	exit 0
fi
if [ -f "$cache/$link/vmlinuz" ] && [ -d "$cache/$link/modules" ]; then
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

apt_args=()
if [ -n "$suite" ]; then
	# A private apt state for the one extra suite: the host's sources and lists stay untouched.
	mkdir -p apt/lists/partial apt/archives/partial
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${VIGIL_DEBIAN_MIRROR:-http://deb.debian.org/debian} $suite main" \
		> apt/sources.list
	apt_args=(-o "Dir::State=$work/apt" -o "Dir::State::Lists=$work/apt/lists"
		-o "Dir::Cache=$work/apt" -o "Dir::Etc::SourceList=$work/apt/sources.list"
		-o Dir::Etc::SourceParts=/dev/null -o APT::Architecture=amd64 -o Acquire::Languages=none
		-o Debug::NoLocking=1)
	echo "kernel: reading $suite's package list"
	apt-get "${apt_args[@]}" update -qq > apt.log 2>&1 || {
		echo "kernel: 'apt-get update' of $suite failed:" >&2
		tail -n 5 apt.log >&2
		exit 1
	}
fi
echo "kernel: resolving linux-image-amd64 ($series)"
if ! apt-get "${apt_args[@]}" download linux-image-amd64 >/dev/null 2>&1; then
	# Stale or missing package lists on a fresh machine: refresh once, then retry.
	[ -z "$suite" ] && [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1
	apt-get "${apt_args[@]}" download linux-image-amd64 >/dev/null 2>&1 || {
		echo "kernel: 'apt-get download linux-image-amd64' failed; run 'apt-get update' (as root) and retry" >&2
		exit 1
	}
fi
meta=$(ls linux-image-amd64_*.deb)
pkg=$(dpkg-deb -f "$meta" Depends | sed -n 's/^\(linux-image-[0-9][^ ]*\) .*/\1/p')
[ -n "$pkg" ] || { echo "kernel: cannot find the versioned package in $meta" >&2; exit 1; }
case $pkg in linux-image-"$series".*) ;; *)
	echo "kernel: $meta depends on $pkg, not a $series kernel" >&2
	exit 1
	;;
esac
echo "kernel: downloading $pkg"
apt-get "${apt_args[@]}" download "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb x
kver=$(ls x/lib/modules)
dest=$cache/$kver
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
cp x/boot/vmlinuz-"$kver" "$dest.tmp/vmlinuz"
cp x/boot/config-"$kver" "$dest.tmp/config"
mv x/lib/modules/"$kver" "$dest.tmp/modules"
# Newer Debian kernels ship modules xz-compressed; the guest's busybox insmod wants plain ELF.
find "$dest.tmp/modules" -name '*.ko.xz' -exec xz -d {} +
rm -rf "$dest"
mv "$dest.tmp" "$dest"
ln -sfn "$kver" "$cache/$link.tmp"
mv -T "$cache/$link.tmp" "$cache/$link"
echo "kernel: $kver ready in $cache/$link"
