#!/usr/bin/env bash
# Writes vmlinux.h for CO-RE from the running kernel's BTF, or from the guest kernel's when absent.
set -euo pipefail
out=$1
btf=/sys/kernel/btf/vmlinux
if [ ! -r "$btf" ]; then
	echo "vmlinux-h: $btf is not readable; the build needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF)" >&2
	exit 1
fi
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
