#!/usr/bin/env bash
# Fetches Debian's linux-image-amd64 (the guest kernel) into .cache/kernel; quick when present.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VIGIL_KERNEL_CACHE:-$top/.cache/kernel}
if [ -f "$cache/current/vmlinuz" ] && [ -d "$cache/current/modules" ]; then
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo "kernel: resolving linux-image-amd64"
if ! apt-get download linux-image-amd64 >/dev/null 2>&1; then
	# Stale or missing package lists on a fresh machine: refresh once, then retry.
	[ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1
	apt-get download linux-image-amd64 >/dev/null 2>&1 || {
		echo "kernel: 'apt-get download linux-image-amd64' failed; run 'apt-get update' (as root) and retry" >&2
		exit 1
	}
fi
meta=$(ls linux-image-amd64_*.deb)
pkg=$(dpkg-deb -f "$meta" Depends | sed -n 's/^\(linux-image-[0-9][^ ]*\) .*/\1/p')
[ -n "$pkg" ] || { echo "kernel: cannot find the versioned package in $meta" >&2; exit 1; }
echo "kernel: downloading $pkg"
apt-get download "$pkg" >/dev/null 2>&1
dpkg-deb -x "$pkg"_*.deb x
kver=$(ls x/lib/modules)
dest=$cache/$kver
rm -rf "$dest"
mkdir -p "$dest"
cp x/boot/vmlinuz-"$kver" "$dest/vmlinuz"
cp x/boot/config-"$kver" "$dest/config"
mv x/lib/modules/"$kver" "$dest/modules"
ln -sfn "$kver" "$cache/current"
echo "kernel: $kver ready in $cache/current"
