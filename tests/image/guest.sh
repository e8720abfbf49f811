#!/bin/bash
# The image test inside the guest (imagetest.service, outside the policy's scope: the platform).
# Results go to /dev/ttyS1, one TAP-like line each; the host (tests/image/run.sh) reads them.
exec 3>/dev/ttyS1
exec >>/var/log/imagetest.log 2>&1
pass=0 fail=0
say() { echo "$*" >&3; echo "$*"; }
ok() { pass=$((pass + 1)); say "ok - $*"; }
nok() { fail=$((fail + 1)); say "not ok - $*"; }
check() { # NAME CMD...: ok when CMD succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}
# The policy's scope: a cgroup below workload.slice (the image has no D-Bus for systemd-run).
scope=/sys/fs/cgroup/workload.slice/imagetest
mkdir -p "$scope"
in_scope() { # runs CMD in the policy's scope and returns its status
	bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$scope" "$@" </dev/null
}
in_scope_whoami() { in_scope /usr/bin/whoami; }
export -f in_scope in_scope_whoami
export scope
finish() {
	say "# $pass passed, $fail failed"
	say "imagetest-done $fail"
	journalctl -b --no-pager -o short-monotonic > /var/log/imagetest-journal.log 2>&1
	sync
	systemctl poweroff --force --force
}

if [ -f /etc/vigil/initramfs/vigild.conf ]; then
	# Boot 3: through the initramfs initramfs-tools built with the package's hook.
	say "# early boot, uptime $(cut -d' ' -f1 /proc/uptime) s"
	cat /run/vigil/initramfs.log
	check "the initramfs's vigild enforced the baseline" \
		grep -q "policy 'image-test' serial 1 enforcing .*generation 1)" /run/vigil/initramfs.log
	check "the initramfs's vigild handed the pins to the real root's /usr/sbin/vigild" \
		grep -q 'handed over: the pins. vigild is now /root/usr/sbin/vigild' /run/vigil/initramfs.log
	check "the initramfs's vigild measured the baseline" \
		grep -q 'image-test' /run/vigil/measurements.log
	v_start=$(systemctl show -P ExecMainStartTimestampMonotonic vigild)
	e_start=$(systemctl show -P ExecMainStartTimestampMonotonic workload-early)
	check "the early workload ($e_start us) started before vigild.service ($v_start us)" \
		test "$e_start" -gt 0 -a "$v_start" -gt "$e_start"
	st=$(systemctl show -P ExecMainStatus workload-early)
	check "the early workload's unlisted binary was refused by the initramfs's pins (status $st: 203/EXEC)" \
		test "$st" = 203
	check "vigild.service is active" systemctl is-active --quiet vigild
	check "the real root's vigild adopted the initramfs's pins" \
		journalctl -b -u vigild --no-pager -o cat -g 'adopting the maps pinned'
	check "the real root's vigild applied the bundle as generation 2" \
		journalctl -b -u vigild --no-pager -o cat -g "policy 'image-test' serial 1 enforcing .*generation 2\\)"
	check "the denial made before vigild.service is in the event log" \
		bash -c "grep -F /usr/bin/id /var/log/vigil/events.jsonl | grep -q '\"verdict\":\"deny\"'"
	check "an unlisted binary is refused in the scope" bash -c '! "$@"' _ in_scope_whoami
	check "a listed binary runs in the scope" in_scope /usr/bin/true
	out=$(vigil status 2>&1)
	echo "$out"
	check "vigil status: generation 2 in force" grep -q '^generation: *2$' <<<"$out"
	out=$(vigil doctor 2>&1)
	rc=$?
	echo "$out"
	check "vigil doctor is clean after the hand-over (exit $rc)" test "$rc" = 0
	finish
fi

boot=$(cat /var/lib/imagetest/boot 2>/dev/null || echo 0)
boot=$((boot + 1))
echo "$boot" > /var/lib/imagetest/boot
say "# boot $boot, uptime $(cut -d' ' -f1 /proc/uptime) s"

if [ "$boot" = 2 ]; then
	# Faults of the kernel and the platform: booted without bpf in lsm= and without a vTPM.
	out=$(vigil doctor 2>&1)
	rc=$?
	echo "$out"
	check "doctor fails without the BPF LSM and the vTPM (exit $rc)" test "$rc" = 1
	check "doctor: bpf missing from lsm=, with its fix" \
		grep -q '^FAIL lsm .*the BPF LSM is not active.*-- fix: add bpf to the kernel command line' <<<"$out"
	check "doctor: no vTPM, with its fix" grep -q '^FAIL tpm .*no vTPM.*-- fix: give the VM a vTPM' <<<"$out"
	check "vigild refused to start with one clear kernel line" \
		journalctl -b -u vigild --no-pager -o cat -g 'kernel: the BPF LSM is not active.*fix: add bpf'
	finish
fi

# 1. vigild is up (READY only once enforcing) before the workload ran.
check "vigild.service is active (Type=notify READY)" systemctl is-active --quiet vigild
v_ready=$(systemctl show -P ActiveEnterTimestampMonotonic vigild)
w_start=$(systemctl show -P ExecMainStartTimestampMonotonic workload-first)
check "vigild was ready ($v_ready us) before the workload unit started ($w_start us)" \
	test "$v_ready" -gt 0 -a "$w_start" -gt "$v_ready"
st=$(systemctl show -P ExecMainStatus workload-first)
check "the workload unit's unlisted binary was refused (status $st: 203/EXEC)" test "$st" = 203
check "vigild recorded the denial of /usr/bin/id" \
	bash -c "grep -F /usr/bin/id /var/log/vigil/events.jsonl | grep -q '\"verdict\":\"deny\"'"
check "a listed binary runs in the scope" in_scope /usr/bin/true
check "an unlisted binary is refused in the scope" bash -c '! "$@"' _ in_scope_whoami

# 2. doctor and status on a healthy system.
out=$(vigil doctor 2>&1)
rc=$?
echo "$out"
check "vigil doctor is clean (exit $rc)" test "$rc" = 0
check "doctor: no FAIL line" bash -c '! grep -q "^FAIL" <<<"$1"' _ "$out"
out=$(vigil status 2>&1)
echo "$out"
check "vigil status names the policy in force" grep -q "^policy: *image-test, serial 1" <<<"$out"
check "vigil status shows denials counted" grep -Eq "^counters: +allowed [0-9]+, denied [1-9]" <<<"$out"

# 3. systemctl reload applies a new bundle (serial 2 also lists /usr/bin/id).
cp /root/imagetest/bundle-2.json /etc/vigil/bundle.json
systemctl reload vigild
for _ in $(seq 60); do vigil status | grep -q 'serial 2' && break; sleep 1; done
check "systemctl reload applied serial 2" bash -c 'vigil status | grep -q "^policy: *image-test, serial 2"'
check "the new bundle's rule is enforced (/usr/bin/id now runs)" in_scope /usr/bin/id -u

# 4. systemctl restart keeps enforcement throughout: a workload loop never runs whoami.
bash -c 'echo $$ > "$0/cgroup.procs" || exit 1; n=0; t=0
	while [ ! -e /run/stop-probe ]; do /usr/bin/whoami && n=$((n+1)); t=$((t+1)); /usr/bin/sleep 0.2; done
	echo "$n of $t" > /run/probe-count' "$scope" </dev/null &
sleep 2
systemctl restart vigild
check "vigild is active again after restart" systemctl is-active --quiet vigild
touch /run/stop-probe
for _ in $(seq 30); do [ -e /run/probe-count ] && break; sleep 1; done
check "no whoami ran during the restart ($(cat /run/probe-count 2>/dev/null) attempts ran)" \
	grep -Eq '^0 of [1-9]' /run/probe-count
check "the restarted vigild adopted the pins" \
	journalctl -b -u vigild --no-pager -o cat -g 'adopting the maps pinned'
sleep 12 # a checkpoint for the records written meanwhile
out=$(vigil doctor 2>&1)
rc=$?
echo "$out"
check "vigil doctor is clean after reload and restart (exit $rc)" test "$rc" = 0

# 5. Faults doctor must report, each with its fix line.
fault() { # NAME PATTERN: doctor fails and prints PATTERN
	out=$(vigil doctor 2>&1)
	rc=$?
	echo "$out"
	check "doctor reports $1 (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q -- "$2" <<<"$3"' _ "$rc" "$2" "$out"
}
avail=$(df --output=avail -B1 /var/log/vigil | tail -n 1)
fallocate -l $((avail - 16 * 1024 * 1024)) /var/tmp/fill
fault "a nearly full disk" '^FAIL disk .*MiB free.*-- fix: free space'
rm -f /var/tmp/fill
systemctl stop vigild
check "systemctl stop: the pins still refuse whoami" bash -c '! "$@"' _ in_scope_whoami
log=$(ls /var/log/vigil/audit.*.jsonl | head -n 1)
sed -i '2s/:/: /' "$log"
fault "a tampered audit log" '^FAIL audit .*does not verify.*-- fix: keep the log as evidence'
vigild --unload
fault "removed pins" '^FAIL pins .*no pinned programs.*-- fix: systemctl restart vigild'
check "after --unload whoami runs (enforcement ended)" in_scope_whoami
finish
