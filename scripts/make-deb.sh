#!/usr/bin/env bash
# make deb: builds the Debian package with dpkg-buildpackage from a copy of the tree (tracked
# and new files, not build/ or .cache), so nothing is written outside BUILD; runs lintian.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
for t in dpkg-buildpackage dh lintian; do
	command -v "$t" >/dev/null || { echo "deb: '$t' is missing; run 'make deps'" >&2; exit 1; }
done
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
out=$BUILD/deb
src=$out/vigil-$version
rm -rf "$out"
mkdir -p "$src"
(cd "$top" && git ls-files -co --exclude-standard -z | grep -zv '^\.cache' |
	xargs -0 cp --parents -a -t "$src")
(cd "$src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) || {
	tail -n 30 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed; see $out/build.log" >&2
	exit 1
}
deb=$(ls "$out"/vigil_"$version"_*.deb)
echo "deb: $deb"
# Lintian-clean apart from the documented overrides (debian/vigil.lintian-overrides).
lintian --fail-on warning,error --suppress-tags-from-file /dev/null "$out"/vigil_"$version"_*.changes
echo "deb: lintian clean"
