# vm suite: kernel-key enforcement by executable identity, cgroup and uid.
# Kernel-key enforcement: a key the policy names is usable only by the executables (path and
# SHA-256), cgroups and uids its rules name, for the permissions they name.
# vigil-vm-args: --copy build/guest-tests:/t --copy build/guest-tests/vtest:/t/keyreader
. /tests/vm/lib.sh
V=/t/vtest
ev() {
	n=$1
	shift
	expect_event "$n" '"type":"key"' '"key":"vigil:disk"' "$@"
}

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
expect_rc "keyctl read from the named cgroup" 0 outside sh -c "echo \$\$ > /sys/fs/cgroup/workload/keyok/cgroup.procs && exec $V key-read $id"
expect_rc "setattr by the binary a setattr rule names" 0 $V key-setperm $id 0x3f3f3f3f
expect_rc "keyctl read by the named uid" 0 $V as-uid 1000 $V key-read $id
expect_eperm "keyctl read by another uid" $V as-uid 1001 $V key-read $id
ev "event: uid" '"perm":"read"' '"uid":1001'
expect_eperm "keyctl read outside the scope by an unnamed binary" outside $V key-read $id
other=$($V key-add other:key hello)
expect_rc "a key no rule names is not managed" 0 $V key-read $other
finish
