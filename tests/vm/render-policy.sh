#!/usr/bin/env bash
# Replaces every @SHA256:/path@ in a policy template with that (host) file's SHA-256.
# The guest's /bin/busybox is the host's, copied by tools/mkinitramfs.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tpl=$1
content=$(cat "$tpl")
for f in $(grep -o '@SHA256:[^@]*@' "$tpl" | sort -u | sed 's/^@SHA256://;s/@$//'); do
	# Relative names are relative to the repository (build/guest-tests/..., tests/vm/...).
	case $f in /*) host=$f ;; *) host=$top/$f ;; esac
	[ -f "$host" ] || { echo "render-policy: $tpl names $f, which does not exist" >&2; exit 1; }
	d=$(sha256sum "$host" | cut -c1-64)
	content=${content//@SHA256:$f@/$d}
done
printf '%s\n' "$content"
