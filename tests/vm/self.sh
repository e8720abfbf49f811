# vm suite: self-protection, tried as root inside the workload scope of a policy in audit mode (which must
# not weaken it): TPM devices, bpf(), bpffs, vigil's files, signals, ptrace, starting vigild.
# vigil-vm-args: --copy build/guest-tests:/t --timeout 900
. /tests/vm/lib.sh
V=/t/vtest
pid=$(cat /run/vigild.pid)
expect_eperm "open /dev/tpm0" cat /dev/tpm0
expect_self_deny "event: tpm0" '"protects":"device"' '"path":"tpm0"' '"comm":"cat"'
expect_eperm "open /dev/tpmrm0" cat /dev/tpmrm0
rdev=$(stat -c '%t %T' /dev/tpmrm0)
mknod /tmp/mytpm c $((0x${rdev% *})) $((0x${rdev#* }))
expect_eperm "open a private device node of the TPM" cat /tmp/mytpm
expect_self_deny "event: device by number" '"protects":"device"' '"path":"mytpm"'
# The platform (outside the scope) reads PCRs, e.g. to replay the measurement log.
expect_rc "the platform may open /dev/tpmrm0" 0 outside sh -c 'exec 3< /dev/tpmrm0'

expect_eperm "bpf() syscall" $V bpf
expect_self_deny "event: bpf" '"protects":"bpf"' '"comm":"vtest"'
expect_eperm "open bpffs" ls /sys/fs/bpf
mkdir -p /tmp/bpf2
outside mount -t bpf bpf /tmp/bpf2 # the platform: the scope may not mount (bound.sh)
expect_eperm "open a second bpffs mount" ls /tmp/bpf2

expect_eperm "kill -TERM vigild" kill -TERM $pid
expect_self_deny "event: signal" '"protects":"signal"' "\"target_pid\":$pid"
expect_eperm "kill -KILL vigild" kill -KILL $pid
expect_eperm "kill -STOP vigild" kill -STOP $pid
expect_rc "vigild still running" 0 kill -0 $pid
expect_eperm "ptrace attach to vigild" $V ptrace $pid
expect_self_deny "event: ptrace" '"protects":"ptrace"' "\"target_pid\":$pid"
# /proc reports a refused ptrace_may_access as EACCES, whichever LSM refused it.
expect_rc "read /proc/vigild/environ" 1 cat /proc/$pid/environ
if grep -q "Permission denied" /tmp/.err; then ok "... with EACCES"; else not_ok "... with EACCES" "$(cat /tmp/.err)"; fi
expect_self_deny "event: /proc/PID/environ" '"protects":"ptrace"' "\"target_pid\":$pid" '"comm":"cat"'

expect_eperm "append to vigild's event log" sh -c 'echo forged >> /out/events.jsonl'
expect_self_deny "event: log" '"protects":"file"' '"path":"events.jsonl"'
expect_eperm "unlink vigild's event log" rm -f /out/events.jsonl
expect_eperm "rename vigild's event log" mv /out/events.jsonl /out/x
# The running vigild binary is ETXTBSY to writers before any LSM runs; the CLI is not running.
expect_eperm "overwrite the vigil CLI binary" cp /bin/busybox /usr/sbin/vigil
expect_self_deny "event: binary" '"protects":"file"' '"path":"vigil"'
expect_eperm "unlink the vigild binary" rm -f /usr/sbin/vigild
expect_eperm "replace the vigild binary by rename" sh -c 'cp /bin/busybox /usr/sbin/v2; mv /usr/sbin/v2 /usr/sbin/vigild'
expect_eperm "hard link the vigild binary" ln /usr/sbin/vigild /usr/sbin/vigild-copy
expect_eperm "unlink the vigil CLI" rm -f /usr/sbin/vigil
expect_eperm "create in vigil's log directory" touch /var/log/vigil/forged
expect_eperm "create in vigil's state directory" mkdir /var/lib/vigil/x
expect_eperm "overwrite the policy file" sh -c 'echo {} > /vigil-vm/policy.json'
expect_eperm "start a second vigild from the workload" /usr/sbin/vigild --version
expect_self_deny "event: exec of vigild" '"protects":"exec"'
expect_rc "the event log is still readable" 0 grep -q '"type":"self"' /out/events.jsonl
# The platform (outside the workload's cgroup scope) may signal vigild: how an operator stops it.
expect_rc "a process outside the scope may signal vigild (SIGCONT)" 0 outside kill -CONT $pid

# The CVM guest devices. This guest has neither TDX nor SNP: nodes with the devices' names are
# made (misc major 10, minors no driver uses here), and vigild, restarted by the platform,
# protects what it finds under those names, as it would the real ones.
mknod /dev/tdx_guest c 10 240
mknod /dev/sev-guest c 10 241
outside kill -TERM "$pid"
while kill -0 "$pid" 2> /dev/null; do usleep 100000; done
start_vigild "vigild restarted by the platform" /vigil-vm/policy.json
expect_eperm "open /dev/tdx_guest" cat /dev/tdx_guest
expect_self_deny "event: tdx_guest" '"protects":"device"' '"path":"tdx_guest"' '"comm":"cat"'
expect_eperm "open /dev/sev-guest" cat /dev/sev-guest
expect_self_deny "event: sev-guest" '"protects":"device"' '"path":"sev-guest"'
mknod /tmp/mytdx c 10 240
expect_eperm "open a private node of the TDX guest device" cat /tmp/mytdx
expect_self_deny "event: TDX device by number" '"protects":"device"' '"path":"mytdx"'
finish
