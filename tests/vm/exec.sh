# vm suite: exec enforcement in enforce mode (policy tests/vm/exec.policy.json, scope /workload).
# vigil-vm-args: --copy /bin/busybox:/opt/listed/true --copy /bin/busybox:/opt/modify/true --copy /bin/busybox:/opt/audited/true --copy tests/vm/files/good.sh:/opt/good.sh --copy tests/vm/files/bad.sh:/opt/bad.sh
. /tests/vm/lib.sh
mkdir -p /tmp/x
cp /bin/busybox /tmp/x/unlisted
cp /bin/busybox /tmp/x/interp
cp /usr/sbin/vigil /tmp/x/dyn

# Allowed by rule, and the event names the rule.
expect_rc "listed binary runs" 0 /bin/busybox true
expect_event "allow event names rule and serial" '"verdict":"allow"' '"path":"/bin/busybox"' \
	'"rule":"busybox"' '"policy_serial":7' '"policy":"vm-exec"'

# Unlisted: EPERM, with a deny event carrying the identity.
expect_eperm "unlisted copy denied" /tmp/x/unlisted true
ino=$(stat -c %i /tmp/x/unlisted)
expect_event "deny event fields" '"type":"exec"' '"verdict":"deny"' '"reason":"not_listed"' \
	'"errno":1' '"path":"/tmp/x/unlisted"' "\"ino\":$ino" '"rule":null' '"uid":0'

# Identity, not path: hardlinks, symlinks and bind mounts. (Copies of busybox are named
# "true" so that busybox runs that applet.)
mkdir -p /opt/hl /opt/unl /tmp/x/sl /tmp/x/bind /tmp/x/outside
ln /opt/listed/true /opt/hl/true
expect_rc "hardlink of listed binary runs" 0 /opt/hl/true
expect_event "hardlink decided by the listed rule" '"path":"/opt/hl/true"' '"rule":"listed-copy"'
cp /bin/busybox /opt/unl/bin && ln /opt/unl/bin /opt/unl/true
expect_eperm "hardlink of unlisted binary denied" /opt/unl/true
ln -s /opt/listed/true /tmp/x/sl/true
expect_rc "symlink to listed binary runs" 0 /tmp/x/sl/true
ln -s /tmp/x/unlisted /tmp/x/unlisted-symlink
expect_eperm "symlink to unlisted binary denied" /tmp/x/unlisted-symlink true
expect_event "symlink resolved to its target" '"verdict":"deny"' '"path":"/tmp/x/unlisted"' "\"ino\":$ino"
touch /tmp/x/bind/true
# The platform mounts: the scope may not (bound.sh).
outside mount --bind /opt/listed/true /tmp/x/bind/true
expect_rc "bind mount of listed binary runs" 0 /tmp/x/bind/true
expect_event "bind-mounted listed binary matched its rule" '"path":"/tmp/x/bind/true"' '"rule":"listed-copy"'
outside umount /tmp/x/bind/true
outside mount --bind /tmp/x/unlisted /opt/listed/true
expect_eperm "unlisted binary bind-mounted over a listed path denied" /opt/listed/true
expect_event "bind-mount deny names the unlisted inode" '"path":"/opt/listed/true"' "\"ino\":$ino" '"verdict":"deny"'
outside umount /opt/listed/true
expect_rc "listed path runs again after umount" 0 /opt/listed/true

# Content changes: opening a listed file for write invalidates it from then on.
expect_rc "to-modify runs before the write" 0 /opt/modify/true
echo >> /opt/modify/true
expect_event "write-open invalidation event" '"type":"exec_invalidated"' '"reason":"opened_for_write"' \
	'"path":"/opt/modify/true"'
expect_eperm "modified binary denied" /opt/modify/true
expect_event "modified deny event" '"verdict":"deny"' '"reason":"modified"' '"path":"/opt/modify/true"' \
	'"rule":"to-modify"'
cp /opt/audited/true /tmp/x/audited-orig
cat /tmp/x/audited-orig > /opt/audited/true
expect_rc "per-rule audit mode: modified audited binary still runs" 0 /opt/audited/true
expect_event "per-rule audit verdict" '"verdict":"audit"' '"reason":"modified"' '"rule":"audited"' '"errno":0'

# Scripts: the interpreter is checked too.
expect_rc "script with listed interpreter runs" 0 /opt/good.sh
expect_eperm "script whose interpreter is unlisted denied" /opt/bad.sh
expect_event "interpreter deny event" '"verdict":"deny"' '"path":"/tmp/x/interp"' '"reason":"not_listed"'

# ld.so cannot launder an unlisted binary: its PROT_EXEC mapping is refused.
expect_rc "ld.so /unlisted fails" 127 /lib64/ld-linux-x86-64.so.2 /tmp/x/dyn --version
expect_event "mmap_exec deny event" '"type":"mmap_exec"' '"verdict":"deny"' '"path":"/tmp/x/dyn"'
expect_rc "mmap PROT_EXEC of unlisted file refused" 1 /tests/bin/exec-probe mmap /tmp/x/unlisted
expect_rc "mprotect PROT_EXEC of unlisted file refused" 1 /tests/bin/exec-probe mprotect /tmp/x/unlisted
expect_event "mprotect_exec deny event" '"type":"mprotect_exec"' '"verdict":"deny"' "\"ino\":$ino"
expect_rc "mprotect PROT_EXEC of listed file allowed" 0 /tests/bin/exec-probe mprotect /opt/listed/true

# Fileless: memfd and deleted files are denied unless the policy allows them.
/tests/bin/exec-probe memfd /bin/busybox > /tmp/.o 2>&1
grep -q "errno=1 " /tmp/.o && ok "memfd exec denied (EPERM)" || not_ok "memfd exec denied (EPERM)" "$(cat /tmp/.o)"
expect_event "memfd deny event" '"reason":"fileless"' '"verdict":"deny"' '"path":"/memfd:probe (deleted)"'
/tests/bin/exec-probe deleted /bin/busybox > /tmp/.o 2>&1
grep -q "errno=1 " /tmp/.o && ok "deleted-file exec denied (EPERM)" || not_ok "deleted-file exec denied (EPERM)" "$(cat /tmp/.o)"
expect_event "deleted-file deny event" '"reason":"fileless"' '"path":"/tmp/probe-deleted-'

# Outside the scope nothing is enforced or logged.
cp /bin/busybox /tmp/x/outside/true
expect_rc "unlisted binary runs outside the scope" 0 outside /tmp/x/outside/true
expect_no_event "no event for out-of-scope exec" '"path":"/tmp/x/outside/true"'

# A child cgroup of the scope is in scope.
mkdir -p /sys/fs/cgroup/workload/child
# The platform places the task: the scope moves none (bound.sh).
expect_eperm "unlisted binary denied in a child cgroup" outside sh -c 'echo $$ > /sys/fs/cgroup/workload/child/cgroup.procs && exec /tmp/x/unlisted true'

# A writer that opened a file before any policy listed it: no listed file existed at its
# open, the new vigild's digest check sees the original content, and the write comes later.
mkdir -p /opt/late
cp /bin/busybox /opt/late/true
pid=$(cat /run/vigild.pid)
outside kill -TERM "$pid"
while kill -0 "$pid" 2> /dev/null; do usleep 100000; done
exec 3>> /opt/late/true
sum=$(sha256sum /bin/busybox | cut -c1-64)
# (Without the two rules whose files earlier cases modified: vigild would refuse them.)
sed "s|\"allow\": \[|\"allow\": [{\"name\": \"late\", \"path\": \"/opt/late/true\", \"sha256\": \"$sum\"},|; s|\"serial\": 7,|\"serial\": 8,|" \
	/vigil-vm/policy.json | grep -v '"name": "to-modify"\|"name": "audited"' > /tmp/p8.json
outside rm -f /run/vigil/ready
outside sh -c 'exec 3>&-; vigild --policy /tmp/p8.json --event-log /out/events.jsonl --ready-file /run/vigil/ready \
	>> /out/vigild.log 2>&1 & echo $! > /run/vigild.pid'
i=0
while [ ! -e /run/vigil/ready ] && [ $i -lt 1800 ]; do usleep 100000; i=$((i + 1)); done # a restart measures into the emulated TPM: slow on a loaded host
expect_rc "vigild restarted with serial 8, which lists the open file" 0 test -e /run/vigil/ready
expect_event "vigild's check saw the writer and revoked the entry" '"type":"exec_invalidated"' \
	'"reason":"writer_at_load"' '"rule":"late"' '"path":"/opt/late/true"' '"policy_serial":8'
expect_rc "the kernel refuses exec while the writer holds it (ETXTBSY)" 126 /opt/late/true
echo tampered >&3
exec 3>&-
expect_eperm "content written by that earlier writer never runs" /opt/late/true
expect_event "modified deny event for the late writer" '"reason":"modified"' '"path":"/opt/late/true"' \
	'"rule":"late"' '"policy_serial":8'

expect_rc "vigild still running" 0 kill -0 "$(cat /run/vigild.pid)"
finish
