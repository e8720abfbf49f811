#!/usr/bin/env bash
# The image test: vigil's .deb installed into a debootstrap'd Debian bookworm root, booted in
# QEMU (TCG) with systemd as PID 1, the bench's guest kernel and a swtpm vTPM. Boot 1: the unit
# enforces before the workload unit, reload, restart, doctor clean, injected faults. Boot 2:
# no bpf in lsm= and no vTPM, doctor reports both. Boot 3: a fresh disk with an early-boot
# baseline, booted through the initramfs Debian's initramfs-tools built with the package's hook;
# the initramfs's vigild enforces and hands over to the real root's. Usage: tests/image/run.sh BUILD
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-build}" && pwd)
KDIR=${VIGIL_KERNEL_DIR:-$top/.cache/kernel/current}
cache=$top/.cache/image
# Named after its package list: a root without initramfs-tools or libisal2 is another cache.
rootcache=$cache/bookworm-root-irt-deflate
BOOT_LIMIT=${IMAGE_BOOT_LIMIT:-120} # seconds to multi-user under TCG
work=$BUILD/image
die() { echo "image: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (chroot, dpkg -i into the root)"
for t in debootstrap qemu-system-x86_64 swtpm mkfs.ext4 cpio; do
	command -v $t >/dev/null || die "'$t' is missing; run 'make deps'"
done
[ -f "$KDIR/vmlinuz" ] || die "no guest kernel; run 'make kernel'"

# The bookworm root, fetched once with debootstrap (never committed).
libs="libbpf1,libelf1,libjansson4,liburing2,libtss2-esys-3.0.2-0,libtss2-tctildr0,libtss2-mu0"
libs="$libs,libtss2-tcti-device0,libcurl4,libprotobuf-c1,libssl3,zlib1g,libisal2,initramfs-tools"
if [ ! -x "$rootcache/lib/systemd/systemd" ] || [ ! -x "$rootcache/usr/sbin/mkinitramfs" ]; then
	mkdir -p "$cache"
	rm -rf "$rootcache.tmp"
	echo "image: debootstrap bookworm into $rootcache"
	debootstrap --variant=minbase --include="systemd,systemd-sysv,udev,kmod,$libs" bookworm \
		"$rootcache.tmp" http://deb.debian.org/debian > "$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $cache/debootstrap.log"
	mv "$rootcache.tmp" "$rootcache"
fi

# The package, built from this tree.
deb=$(ls "$BUILD"/deb/vigil_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { "$top/scripts/make-deb.sh" "$BUILD" >/dev/null; deb=$(ls "$BUILD"/deb/vigil_*_amd64.deb); }

rm -rf "$work"
mkdir -p "$work"
root=$work/root
cp -a "$rootcache" "$root"
cp "$deb" "$root/tmp/vigil.deb"
chroot "$root" dpkg -i /tmp/vigil.deb > "$work/dpkg.log" 2>&1 || die "dpkg -i failed: $(tail "$work/dpkg.log")"
rm "$root/tmp/vigil.deb"
[ -L "$root/etc/systemd/system/sysinit.target.wants/vigild.service" ] || die "the package did not enable vigild.service"

# What an image builder adds: a signed bundle, its key, the bundle named in vigild.conf.
gen=$work/gen
mkdir -p "$gen" "$root/root/imagetest" "$root/var/lib/imagetest"
"$BUILD/vigil" policy keygen "$gen/signer" > /dev/null
cp "$gen/signer.pem" "$root/etc/vigil/trust.d/"
# Every binary the workload runs and every library it maps for execution is listed.
lib() { # NAME PATH: an exec rule for the file PATH resolves to inside the image
	printf ', {"name": "%s", "path": "%s", "sha256": ""}' "$1" "$(chroot "$root" readlink -f "$2")"
}
libs=$(lib libc /usr/lib/x86_64-linux-gnu/libc.so.6; lib libtinfo /usr/lib/x86_64-linux-gnu/libtinfo.so.6)
for serial in 1 2; do
	extra=$libs
	[ $serial = 2 ] && extra="$extra"', {"name": "id", "path": "/usr/bin/id", "sha256": ""}'$(
		lib libselinux /usr/lib/x86_64-linux-gnu/libselinux.so.1
		lib libpcre2 /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0)
	cat > "$gen/p$serial.json" <<EOF2
{"version": 1, "name": "image-test", "serial": $serial, "mode": "enforce",
 "scope": {"cgroups": ["/workload.slice"]},
 "exec": {"allow": [
   {"name": "bash", "path": "/usr/bin/bash", "sha256": ""},
   {"name": "true", "path": "/usr/bin/true", "sha256": ""},
   {"name": "sleep", "path": "/usr/bin/sleep", "sha256": ""},
   {"name": "ld.so", "path": "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "sha256": ""}$extra
 ]}}
EOF2
	"$BUILD/vigil" policy pin --root "$root" -o "$gen/p$serial.pinned.json" "$gen/p$serial.json" > /dev/null
	"$BUILD/vigil" policy sign --key "$gen/signer.key" -o "$gen/bundle-$serial.json" "$gen/p$serial.pinned.json"
done
cp "$gen/bundle-1.json" "$root/etc/vigil/bundle.json"
cp "$gen/bundle-2.json" "$root/root/imagetest/"
sed -i 's|^#bundle = .*|bundle = /etc/vigil/bundle.json|' "$root/etc/vigil/vigild.conf"
chroot "$root" vigild --check-config > "$work/check-config.log" 2>&1 ||
	die "vigild --check-config in the image: $(cat "$work/check-config.log")"

# The image's own units: a workload that runs an unlisted binary first thing, and the test.
cat > "$root/etc/systemd/system/workload-first.service" <<'EOF2'
[Unit]
Description=Workload that runs an unlisted binary first thing (must be refused)
[Service]
Type=oneshot
Slice=workload.slice
ExecStart=/usr/bin/id
[Install]
WantedBy=multi-user.target
EOF2
cat > "$root/etc/systemd/system/imagetest.service" <<'EOF2'
[Unit]
Description=vigil image test
After=multi-user.target workload-first.service vigild.service
[Service]
Type=oneshot
ExecStart=/root/imagetest/guest.sh
[Install]
WantedBy=multi-user.target
EOF2
cp "$top/tests/image/guest.sh" "$root/root/imagetest/guest.sh"
chroot "$root" systemctl enable workload-first.service imagetest.service > /dev/null 2>&1
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$root/etc/fstab"
echo vigil-image > "$root/etc/hostname"
# A serial getty and the journal's console output are not needed; keep the boot short.
chroot "$root" systemctl mask serial-getty@ttyS0.service getty@tty1.service \
	systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer > /dev/null 2>&1 || true

# The disk and a minimal initramfs (virtio disk and ext4 modules, then switch_root).
mkfs.ext4 -q -F -L vigilroot -d "$root" "$work/disk.img" 2G
ird=$work/initramfs
mkdir -p "$ird"/{bin,proc,sys,dev,lib/modules}
cp /bin/busybox "$ird/bin/"
for c in sh mount umount insmod sleep mkdir switch_root poweroff seq; do ln -s busybox "$ird/bin/$c"; done
cp "$top/tests/image/initramfs-init" "$ird/init"
declare -A seen=()
add_module() {
	local m=$1 f dep
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	f=$(find "$KDIR/modules/kernel" -name "$m.ko" | head -n 1)
	[ -n "$f" ] || die "module $m.ko not in $KDIR"
	for dep in $(strings -a "$f" | sed -n 's/^depends=//p' | tr ',' ' '); do add_module "$dep"; done
	cp "$f" "$ird/lib/modules/"
	echo "$m" >> "$ird/lib/modules/load-order"
}
for m in virtio_pci virtio_blk crc32c_generic ext4; do add_module $m; done
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz"

# Boot 3's disk: the same image plus an early-boot baseline in /etc/vigil/initramfs/ (the
# image's bundle, serial 1) and an initramfs built in the image by initramfs-tools' mkinitramfs,
# with the guest kernel's modules under /lib/modules/KVER, as an image builder's would be.
kver=$(basename "$(readlink -f "$KDIR")")
mkdir -p "$root/etc/vigil/initramfs/trust.d" "$root/lib/modules/$kver" "$root/boot"
cp "$root/usr/share/doc/vigil/examples/initramfs-vigild.conf" "$root/etc/vigil/initramfs/vigild.conf"
cp "$gen/bundle-1.json" "$root/etc/vigil/initramfs/bundle.dsse.json"
cp "$gen/signer.pem" "$root/etc/vigil/initramfs/trust.d/"
cp -a "$KDIR/modules/." "$root/lib/modules/$kver/"
cp "$KDIR/config" "$root/boot/config-$kver"
chroot "$root" depmod "$kver"
# Only the modules the virtio disk and ext4 root need (MODULES=most would put hundreds into
# the initramfs and slow the TCG boot); gzip because the minbase root has no zstd.
printf '%s\n' virtio_pci virtio_blk crc32c_generic ext4 > "$root/etc/initramfs-tools/modules"
printf 'MODULES=list\nCOMPRESS=gzip\n' > "$root/etc/initramfs-tools/conf.d/imagetest"
# A unit that tries an unlisted binary before vigild.service starts: only the initramfs's pins
# can refuse it.
cat > "$root/etc/systemd/system/workload-early.service" <<'EOF2'
[Unit]
Description=Workload that runs an unlisted binary before vigild.service (must be refused)
DefaultDependencies=no
Before=vigild.service
[Service]
Type=oneshot
Slice=workload.slice
ExecStart=/usr/bin/id
[Install]
WantedBy=sysinit.target
EOF2
chroot "$root" systemctl enable workload-early.service > /dev/null 2>&1
mount -t proc proc "$root/proc"
chroot "$root" mkinitramfs -o /boot/initrd.img-"$kver" "$kver" > "$work/mkinitramfs.log" 2>&1 ||
	{ umount "$root/proc"; die "mkinitramfs in the image failed: $(tail "$work/mkinitramfs.log")"; }
# Into a file, not a pipe: grep -q would end lsinitramfs by SIGPIPE and pipefail fail the test.
chroot "$root" lsinitramfs /boot/initrd.img-"$kver" > "$work/initramfs.list"
umount "$root/proc"
for f in scripts/init-bottom/vigil usr/sbin/vigild etc/vigil/initramfs/bundle.dsse.json; do
	grep -qx "$f" "$work/initramfs.list" || die "the initramfs has no $f (the hook did not run?)"
done
cp "$root/boot/initrd.img-$kver" "$work/initrd-early.img"
# The real root needs no modules (the initramfs loaded the disk's): keep the disk small.
rm -rf "$root/lib/modules/$kver"
mkfs.ext4 -q -F -L vigilroot -d "$root" "$work/disk-early.img" 2G

swtpm_pid= qemu_pid=
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
	[ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2>/dev/null && wait "$swtpm_pid" 2>/dev/null
	true
}
trap cleanup EXIT
mkdir -p "$work/tpm"

boot() { # N APPEND TPM(yes|no) [INITRD DISK]
	local n=$1 append=$2 tpm=$3 initrd=${4:-$work/initrd.gz} disk=${5:-$work/disk.img} tpm_args=() t0 deadline
	if [ "$tpm" = yes ]; then
		swtpm socket --tpm2 --tpmstate dir="$work/tpm" --ctrl type=unixio,path="$work/swtpm.sock" \
			--flags startup-clear > "$work/swtpm.log" 2>&1 &
		swtpm_pid=$!
		for _ in $(seq 50); do [ -S "$work/swtpm.sock" ] && break; sleep 0.1; done
		tpm_args=(-chardev socket,id=chrtpm,path="$work/swtpm.sock"
			-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0)
	fi
	t0=$SECONDS
	qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 -nodefaults -no-user-config \
		-kernel "$KDIR/vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 no_timer_check quiet systemd.show_status=false $append" \
		-drive file="$disk",if=virtio,format=raw \
		-display none -monitor none -serial file:"$work/console-$n.log" \
		-serial file:"$work/results-$n.log" -no-reboot "${tpm_args[@]}" \
		-nic none > "$work/qemu-$n.log" 2>&1 &
	qemu_pid=$!
	deadline=$((SECONDS + 900))
	while kill -0 "$qemu_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
	kill "$qemu_pid" 2>/dev/null && echo "image: boot $n timed out" >&2
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=
	[ -n "$swtpm_pid" ] && { kill "$swtpm_pid" 2>/dev/null; wait "$swtpm_pid" 2>/dev/null || true; swtpm_pid=; }
	echo "image: boot $n: guest ran $((SECONDS - t0)) s"
	grep -v '^imagetest-done' "$work/results-$n.log" | tr -d '\r' || true
	grep -q '^imagetest-done 0' "$work/results-$n.log"
}

rc=0
boot 1 "" yes || rc=1
# The second boot: bpf dropped from the LSM list, no vTPM.
boot 2 "lsm=landlock,lockdown,yama,apparmor" no || rc=1
# The third: early boot through initramfs-tools, a fresh disk and a fresh vTPM.
rm -rf "$work/tpm" && mkdir -p "$work/tpm"
boot 3 "root=/dev/vda" yes "$work/initrd-early.img" "$work/disk-early.img" || rc=1
up3=$(sed -n 's/^# early boot, uptime \([0-9.]*\) s/\1/p' "$work/results-3.log" | tr -d '\r')
echo "image: boot 3 (initramfs-tools) reached the test after ${up3:-?} s of guest uptime"
# Boot time: from the kernel's start to multi-user.target, as systemd measured it in boot 1.
up=$(sed -n 's/^# boot 1, uptime \([0-9.]*\) s/\1/p' "$work/results-1.log" | tr -d '\r')
# Wall-clock time inside TCG depends on the host's load: over the limit on a host busier than
# its cores, the figure is reported, not failed.
load=$(cut -d' ' -f1 /proc/loadavg)
echo "image: boot 1 reached the test after ${up:-?} s of guest uptime (limit $BOOT_LIMIT s, host load $load on $(nproc) cores)"
if [ -z "$up" ]; then
	echo "not ok - boot 1 reached the test"
	rc=1
elif [ "${up%.*}" -lt "$BOOT_LIMIT" ]; then
	echo "ok - boot under $BOOT_LIMIT s"
elif [ "${load%.*}" -ge "$(nproc)" ]; then
	echo "ok - boot under $BOOT_LIMIT s # SKIP host overloaded (load $load): ${up} s measured"
else
	echo "not ok - boot under $BOOT_LIMIT s (${up} s)"
	rc=1
fi
[ $rc = 0 ] && echo "image: all passed" || echo "image: FAILED (logs in $work)"
exit $rc
