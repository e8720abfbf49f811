#!/usr/bin/env bash
# Installs the Debian bookworm packages vigil builds and tests with; quick when present.
set -euo pipefail

pkgs=(
	make gcc clang llvm libclang-rt-14-dev bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
	libssl-dev libjansson-dev liburing-dev libcmocka-dev libtss2-dev
	libcurl4-openssl-dev libisal-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev
	qemu-system-x86 swtpm swtpm-tools tpm2-tools busybox-static cpio xz-utils
	keyutils jq openssl ca-certificates xxd curl nodejs python3-cryptography
	python3.11 # tests/vm/python.sh: the real workload, copied into the guest
	debhelper dpkg-dev fakeroot lintian debootstrap
)
# npm for the OTLP tests' decoder (scripts/otlp-npm.sh); a nodejs from elsewhere that bundles
# npm conflicts with Debian's npm package.
command -v npm > /dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
else
	sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
