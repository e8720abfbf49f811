# vm suite: kernel-key enforcement by executable identity, cgroup and uid.
# Kernel-key enforcement: a key the policy names is usable only by the executables (path and
# SHA-256), cgroups and uids its rules name, for the permissions they name.
# Grants by executable follow what was executed (recorded at exec), not /proc/self/exe, and their
# holders cannot be traced or have their memory read or written from the scope.
# vigil-vm-args: --copy build/guest-tests:/t --copy build/guest-tests/vtest:/t/keyreader --copy build/guest-tests/keyprobe:/t/keyhold
# The scope changes only keyrings it created (key_permission): the suite runs in a session
# keyring of its own, where `vtest key-add` puts its keys; root's user keyring is the platform's.
if [ -z "$KEYS_SESSION" ]; then
	KEYS_SESSION=1 exec /t/vtest key-session /bin/sh /tests/vm/keys.sh "$@"
fi
. /tests/vm/lib.sh
V=/t/vtest
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"key"' '"key":"vigil:disk"' "$@"
}

# A managed key is created from the scope only by a binary a rule grants write (key_alloc).
id=$($V key-add vigil:disk s3cr3t)
expect_rc "the workload adds the managed key" 0 test -n "$id"
expect_eperm "keyctl read by a binary the rules do not name" $V key-read $id
ev "event: read denied" '"perm":"read"' '"verdict":"deny"' '"reason":"not_named"' '"errno":1' '"comm":"vtest"' '"rule":null'
expect_rc "keyctl read by the named binary (same content, other file)" 0 /t/keyreader key-read $id
cp /tmp/.out /tmp/payload
expect_rc "... returns the payload" 0 grep -qx s3cr3t /tmp/payload
expect_eperm "the named binary may not write it" /t/keyreader key-add vigil:disk overwritten
ev "event: write denied" '"perm":"write"' '"comm":"keyreader"'
mkdir -p /sys/fs/cgroup/workload/keyok
# The platform places the task: the scope moves none (bound.sh).
# The key sits in the suite's session keyring: a process the platform starts does not possess
# it, so the setattr above also gives non-possessors (uid 0) read.
expect_rc "setattr by the binary a setattr rule names" 0 $V key-setperm $id 0x3f3f3f3f
expect_rc "keyctl read from the named cgroup" 0 outside sh -c "echo \$\$ > /sys/fs/cgroup/workload/keyok/cgroup.procs && exec $V key-read $id"
expect_rc "keyctl read by the named uid" 0 $V as-uid 1000 $V key-read $id
expect_eperm "keyctl read by another uid" $V as-uid 1001 $V key-read $id
ev "event: uid" '"perm":"read"' '"uid":1001'
expect_eperm "keyctl read outside the scope by an unnamed binary" outside $V key-read $id
other=$($V key-add other:key hello)
expect_rc "a key no rule names is not managed" 0 $V key-read $other

# Root's user keyring is shared with the platform: the scope may read it but not change it.
expect_eperm "add_key into root's user keyring from the scope" $V key-add-user other:shared x
expect_event "event: write to root's user keyring" '"type":"key"' '"key":"_uid.0"' \
	'"perm":"write"' '"verdict":"deny"' '"errno":1' '"comm":"vtest"'

# Routes to the grant that do not run the granted binary.
P=/t/keyprobe
H=/t/keyhold
outside sh -c 'echo 0 > /proc/sys/kernel/yama/ptrace_scope' 2>/dev/null
expect_rc "the holder binary reads the key" 0 $H read $id
expect_rc "a fork of the holder keeps its grant" 0 $H fork-read $id
$P exe-file /t/keyreader $id > /tmp/.out 2>&1
rc=$?
case $rc in
1) ok "PR_SET_MM_EXE_FILE to the granted binary: the key read is refused (EPERM)"
   expect_event "event: read after PR_SET_MM_EXE_FILE" '"type":"key"' '"perm":"read"' \
	'"comm":"keyprobe"' '"reason":"not_named"' '"errno":1' ;;
101) ok "PR_SET_MM_EXE_FILE refused (EPERM: CAP_SYS_RESOURCE is not granted)" ;;
102) ok "PR_SET_MM_EXE_FILE: the route's anonymous executable code is refused (mmap_exec)"
   expect_event "event: anonymous PROT_EXEC" '"type":"mmap_exec"' '"reason":"fileless"' \
	'"comm":"keyprobe"' '"errno":1' ;;
*) not_ok "PR_SET_MM_EXE_FILE to the granted binary" "exit $rc, want 1 (key refused) or 101 (prctl refused)" ;;
esac
$H pause &
hold=$!
$P pause &
plain=$!
usleep 300000
expect_eperm "ptrace attach to the grant holder from the scope" $P ptrace $hold
expect_event "event: ptrace of the holder" '"type":"key"' '"perm":"ptrace"' "\"target_pid\":$hold" \
	'"verdict":"deny"' '"errno":1' '"comm":"keyprobe"'
expect_eperm "process_vm_writev into the grant holder" $P vmwrite $hold
expect_eperm "process_vm_readv of the grant holder" $P vmread $hold
# mem_open turns a refused ptrace_may_access into EACCES; the plain process below shows the
# refusal is vigil's. (Write-opens of /proc/PID/mem are refused to the scope for every task.)
expect_rc "/proc/PID/mem of the grant holder opened for reading: refused (EACCES)" 1 $P procmem-read $hold
cp /tmp/.err /tmp/procmem.err
expect_rc "... with the kernel's EACCES" 0 grep -q "Permission denied" /tmp/procmem.err
expect_eperm "/proc/PID/mem of the grant holder opened for writing" $P procmem $hold
# The policy keeps CAP_SYS_PTRACE (ptrace attach inside the scope): the grant alone refuses.
expect_rc "ptrace attach to a process without a grant still works" 0 $P ptrace $plain
expect_rc "process_vm_writev into a process without a grant still works" 0 $P vmwrite $plain
expect_rc "/proc/PID/mem of a process without a grant opens for reading" 0 $P procmem-read $plain
expect_eperm "... but not for writing (the scope writes no process's memory)" $P procmem $plain
expect_rc "the platform may debug the holder" 0 outside $P ptrace $hold
expect_eperm "PTRACE_TRACEME from a grant holder" $H traceme
expect_eperm "the granted binary exec'd under ptrace gets no grant" $P traced-exec /t/keyreader key-read $id
ev "event: traced exec" '"perm":"read"' '"comm":"keyreader"' '"reason":"not_named"'
kill $hold $plain
finish
