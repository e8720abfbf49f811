# vm suite: red team: routes around vigil's hooks that root inside the scope would try, one case per route, each asserting the secure outcome (a case that fails is an open route; docs/THREAT-MODEL.md "Red team").
# Routes: code in allowed processes (/proc/PID/mem with busybox alone, /proc/self/mem, anonymous
# and rewritten executable memory), platform processes reached through ptrace-mode access
# (ptrace, process_vm_readv, pidfd_getfd of a denied file), source routes on a socket (IPv4
# LSRR, IPv6 segment routing header) and SRv6 routes with the kept CAP_NET_ADMIN, and the routes checked closed (/proc/PID/fd reopen, open_by_handle_at).
# vigil-vm-args: --copy build/guest-tests:/t --copy build/guest-tests/redteam:/t/rtkeyreader --copy .cache/kernel/current/modules/kernel/drivers/block/loop.ko:/lib/modules/loop.ko --copy .cache/kernel/current/modules/kernel/lib/crc16.ko:/lib/modules/crc16.ko --copy .cache/kernel/current/modules/kernel/crypto/crc32c_generic.ko:/lib/modules/crc32c_generic.ko --copy .cache/kernel/current/modules/kernel/fs/mbcache.ko:/lib/modules/mbcache.ko --copy .cache/kernel/current/modules/kernel/fs/jbd2/jbd2.ko:/lib/modules/jbd2.ko --copy .cache/kernel/current/modules/kernel/fs/ext4/ext4.ko:/lib/modules/ext4.ko --pre tests/vm/redteam.boot.sh --timeout 900
. /tests/vm/lib.sh
R=/t/redteam
SECRET=/tests/vm/file-data/secret/a.txt

# Sanity: the policy is in force for the scope.
expect_eperm "the denied tree is denied by path" cat $SECRET
expect_rc "busybox runs" 0 true

# --- 1. Code the policy does not list, run by listed binaries ---------------------------------
# x86-64: write(1, "PWNED\n", 6); exit_group(42) (the same bytes as redteam.c's shellcode).
printf '\110\215\065\035\000\000\000\277\001\000\000\000\272\006\000\000\000\270\001\000\000\000\017\005\277\052\000\000\000\270\347\000\000\000\017\005PWNED\n' > /tmp/sc

# 1a. busybox alone: a shell starts `sleep` (busybox, listed), finds where it sleeps in
# /proc/PID/syscall, and becomes `dd` (busybox, listed; still the sleeper's parent, which
# Yama's relational scope accepts) writing the shellcode there through /proc/PID/mem. When the
# sleep ends, the sleeper runs code no policy entry lists.
rm -f /tmp/rt.inj /tmp/rt.pid
sh -c '
	sleep 12 > /tmp/rt.inj 2>&1 &
	p=$!
	echo $p > /tmp/rt.pid
	i=0
	while [ $i -lt 100 ]; do
		# Refused (ptrace attach mode): the attack goes on blind, at offset 0.
		read -r nr a1 a2 a3 a4 a5 a6 sp pc < /proc/$p/syscall 2> /dev/null || break
		case $nr in 230 | 35) break ;; esac
		usleep 50000
		i=$((i + 1))
	done
	echo "sleeper $p in syscall $nr at $pc" >&2
	exec dd of=/proc/$p/mem bs=1 seek=$(($pc)) conv=notrunc < /tmp/sc
' > /tmp/.out 2> /tmp/.err
rc=$?
if [ "$rc" != 0 ] && grep -q "Operation not permitted" /tmp/.err; then
	ok "busybox dd cannot write code into a listed process through /proc/PID/mem"
else
	not_ok "busybox dd cannot write code into a listed process through /proc/PID/mem" \
		"exit $rc" "$(head -c 300 /tmp/.err)"
fi
p=$(cat /tmp/rt.pid)
i=0
while [ -d /proc/$p ] && [ $i -lt 200 ]; do
	usleep 100000
	i=$((i + 1))
done
expect_rc "the sleeping busybox did not run the injected code" 1 grep -q PWNED /tmp/rt.inj

# 1b. A process writing its own code through /proc/self/mem (the kernel skips the ptrace hook
# for its own thread group): the open for writing.
expect_eperm "open /proc/self/mem for writing" dd if=/dev/null of=/proc/self/mem conv=notrunc

# 1c-e. Executable memory that no file backs, or a listed file's pages rewritten: what an allowed
# interpreter or JIT does to run code it was handed (the execmem / execmod classes).
expect_eperm "mmap of anonymous memory with PROT_EXEC" $R anon-exec
expect_eperm "mprotect PROT_EXEC of written anonymous memory" $R anon-mprotect
expect_eperm "mprotect PROT_EXEC of a listed file's private mapping after writing it" \
	$R execmod /bin/busybox

# --- 2. Platform processes reached through ptrace-mode access ----------------------------------
# Yama decides these today, not vigil. Many platforms run with ptrace_scope 0 (elfutils'
# 10-default-yama-scope.conf on Fedora/RHEL, or no Yama at all); the platform sets 0 here and
# restores it at the end.
yama=$(cat /proc/sys/kernel/yama/ptrace_scope 2> /dev/null || echo none)
echo "# guest kernel.yama.ptrace_scope: $yama"
[ "$yama" = none ] || outside sh -c 'echo 0 > /proc/sys/kernel/yama/ptrace_scope'

# 2a. Code injection into a platform process (outside the scope, so no policy applies to it).
rm -f /tmp/rt.out
tp=$(outside sh -c 'sleep 20 < /dev/null > /tmp/rt.out 2>&1 & echo $!')
# Closed: a write-open of a platform process's /proc/PID/mem (self_check_proc_write).
expect_eperm "open a platform process's /proc/PID/mem for writing (closed)" \
	dd if=/dev/null of=/proc/$tp/mem conv=notrunc
expect_eperm "ptrace attach to a platform process and write code into it" $R inject "$tp"
i=0
while [ -d /proc/$tp ] && [ $i -lt 50 ] && ! grep -q PWNED /tmp/rt.out 2> /dev/null; do
	usleep 100000
	i=$((i + 1))
done
expect_rc "the platform process did not run the scope's code" 1 grep -q PWNED /tmp/rt.out
outside kill "$tp" 2> /dev/null

# 2b. Reading a platform process's memory, PID 1's included.
expect_eperm "process_vm_readv of PID 1" $R vm-read 1

# 2c. A denied file the platform holds open, copied with pidfd_getfd (no open(2) in the scope).
hp=$(outside sh -c "sleep 20 7< $SECRET < /dev/null > /dev/null 2>&1 & echo \$!")
expect_rc "the platform reads the denied file" 0 outside cat $SECRET
expect_eperm "pidfd_getfd of the platform's fd on a denied file" $R getfd "$hp" 7
cp /tmp/.out /tmp/rt.getfd
expect_rc "... and the scope did not read the denied file's content" 1 grep -q "top secret" /tmp/rt.getfd
# Closed: a reopen through /proc/PID/fd is a new open of the same file; the lookup in the
# platform's /proc/PID/fd is refused first now (ptrace read mode: EACCES from procfs).
cat /proc/$hp/fd/7 > /tmp/.out 2> /tmp/.err
rc=$?
if [ "$rc" != 0 ] && grep -q "Operation not permitted\|Permission denied" /tmp/.err &&
	! grep -q "top secret" /tmp/.out; then
	ok "reopen of the platform's fd through /proc/PID/fd (closed)"
else
	not_ok "reopen of the platform's fd through /proc/PID/fd (closed)" "exit $rc" "$(head -c 300 /tmp/.err)"
fi
outside kill "$hp" 2> /dev/null

[ "$yama" = none ] || outside sh -c "echo $yama > /proc/sys/kernel/yama/ptrace_scope"

# open_by_handle_at needs CAP_DAC_READ_SEARCH, refused by default; this suite's policy grants it,
# so the file rules alone must hold. On tmpfs dentries are always connected: the walk decides.
expect_eperm "open_by_handle_at of a file in the denied tree (closed on tmpfs)" $R handle $SECRET
expect_event "event: the handle open on tmpfs, refused by the tree rule" '"type":"file"' \
	'"comm":"redteam"' '"verdict":"deny"' '"reason":"rule"' '"rule":"secret-tree"' 'a.txt"'

# The same on a disk file system (ext2 by ext4.ko on a loop device, mounted by the platform before
# vigild started: redteam.boot.sh; the policy denies its /mnt/disk/secret). The scope keeps a
# file's handle, the dentry is evicted, and open_by_handle_at gets a dentry with no parent. A file
# the load saw (b.txt) is denied by its own identity; one created in the tree later (c.txt) is
# covered only by the walk to the tree, which cannot see above the disconnected dentry. Closed:
# such an open is undecidable and refused (reason "disconnected"), whatever tree it is in.
outside sh -c 'echo "disk secret, created after the load" > /mnt/disk/secret/c.txt'
expect_eperm "the disk's denied tree is denied by path (sanity)" cat /mnt/disk/secret/c.txt
expect_rc "the disk's other files open by path (sanity)" 0 cat /mnt/disk/pub.txt
expect_rc "the scope saves the handles" 0 sh -c \
	"$R handle-save /mnt/disk/secret/b.txt /tmp/rt.fhb && $R handle-save /mnt/disk/secret/c.txt /tmp/rt.fhc"
outside sh -c 'sync; echo 2 > /proc/sys/vm/drop_caches'
expect_eperm "open_by_handle_at of an evicted file the load saw, on ext4 (closed)" \
	$R handle-open /mnt/disk /tmp/rt.fhb
expect_event "event: refused by its own identity" '"type":"file"' '"verdict":"deny"' \
	'"comm":"redteam"' '"reason":"rule"' '"rule":"disk-secret"' '"dev":"7:7"'
expect_eperm "open_by_handle_at of an evicted file created after the load, on ext4 (closed)" \
	$R handle-open /mnt/disk /tmp/rt.fhc
expect_event "event: the disconnected open, refused" '"type":"file"' '"verdict":"deny"' \
	'"comm":"redteam"' '"reason":"disconnected"' '"dev":"7:7"'

# Closed: io_uring openat run by an io-wq worker thread (IOSQE_ASYNC): the worker is a thread of
# the submitting process, in its cgroup, and file_open runs in it.
expect_eperm "io_uring openat of the denied file in an async worker (closed)" $R uring-open $SECRET

# --- 2b. Raw block-device reads ---------------------------------------------------------------
# Write-opens of block devices are refused to the scope; read-opens are not, and a disk holds
# every file of every denied tree. Modelled with a loop device (the platform's) over an image in
# the denied tree: on a disk-backed guest /dev/vda is the same.
IMG=/tests/vm/file-data/secret/disk.img
outside sh -c "{ echo 'top secret on disk'; dd if=/dev/zero bs=4096 count=1 2> /dev/null; } > $IMG"
expect_eperm "the image in the denied tree is denied by path (sanity)" cat $IMG
if outside sh -c 'grep -q "^loop " /proc/modules || insmod /lib/modules/loop.ko' &&
	outside losetup /dev/loop0 $IMG; then
	: > /tmp/rt.blk
	expect_eperm "read-open of a block device whose file system holds the denied tree" \
		dd if=/dev/loop0 of=/tmp/rt.blk bs=512 count=1
	expect_rc "... and the scope did not read the denied content" 1 grep -q "top secret" /tmp/rt.blk
	outside losetup -d /dev/loop0
else
	not_ok "the platform sets up /dev/loop0 (loop.ko from the guest kernel)"
fi
outside rm -f $IMG

# --- 2c. Keys: substitute a managed key -------------------------------------------------------
# The platform keeps the key vigil:rt in root's user keyring (one per uid: the scope's root shares
# it); only the platform's consumer /t/rtkeyreader may read it. The scope cannot read it, but
# KEYCTL_CLEAR needs write permission on the keyring alone: the scope would clear it and plant a
# vigil:rt of its own for the consumer to read. Closed: the scope changes only keys and keyrings
# it created (key_permission, key_owned), and creates no key of a managed description (key_alloc).
kid=$(outside /t/redteam key-add vigil:rt platform)
expect_rc "the platform's consumer reads the key (sanity)" 0 outside /t/rtkeyreader key-read-desc vigil:rt
expect_rc "the scope cannot read it (sanity)" 1 $R key-read-desc vigil:rt
expect_eperm "KEYCTL_CLEAR of root's user keyring, then a vigil:rt of the scope's own" \
	$R key-clear-plant vigil:rt attacker
expect_event "event: the clear of root's user keyring" '"type":"key"' '"key":"_uid.0"' \
	'"perm":"write"' '"verdict":"deny"' '"errno":1' '"comm":"redteam"'
expect_eperm "KEYCTL_UNLINK of the platform's key from root's user keyring" $R key-ring unlink "$kid"
# keyctl_revoke_key asks KEY_NEED_WRITE first and falls back to SETATTR only on EACCES: the
# refusal (EPERM) is of the write.
expect_eperm "KEYCTL_REVOKE of root's user keyring" $R key-ring revoke vigil:rt
expect_event "event: the revoke of root's user keyring" '"type":"key"' '"key":"_uid.0"' \
	'"perm":"write"' '"errno":1' '"comm":"redteam"'
# KEYCTL_INVALIDATE of KEY_SPEC_USER_KEYRING: the lookup first searches the user keyring register
# (.user_reg), which the refusal of searches inside an invalidate from the scope already stops:
# the kernel reports the failed search as ENOKEY, and the keyring stays.
"$R" key-ring invalidate vigil:rt > /tmp/.out 2> /tmp/.err
rc=$?
if [ "$rc" != 0 ] && grep -q "Required key not available" /tmp/.err; then
	ok "KEYCTL_INVALIDATE of root's user keyring (ENOKEY)"
else
	not_ok "KEYCTL_INVALIDATE of root's user keyring (ENOKEY)" "exit $rc" "$(head -c 300 /tmp/.err)"
fi
expect_event "event: the invalidation of root's user keyring" '"type":"key"' '"key":".user_reg"' \
	'"perm":"search"' '"errno":1' '"comm":"redteam"'
expect_eperm "KEYCTL_SETPERM of root's user keyring" $R key-ring setperm vigil:rt
expect_eperm "add_key of a keyring into root's user keyring (replaces a same-named link)" \
	$R key-ring add-keyring plat-ring
got=$(outside /t/rtkeyreader key-read-desc vigil:rt 2>&1)
expect_rc "the consumer still reads the platform's key (it read: $got)" 0 test "$got" = platform
outside sh -c "/t/redteam key-ring unlink $kid" > /dev/null 2>&1

# KEYCTL_SESSION_TO_PARENT: a scope process hands its own session keyring (which it may clear)
# to its platform parent, whose keys then go there.
cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
outside /t/redteam session-parent "$cg" > /tmp/.out 2> /tmp/.err
rc=$?
if [ "$rc" = 1 ] && grep -q "session_to_parent: Operation not permitted" /tmp/.err; then
	ok "KEYCTL_SESSION_TO_PARENT from the scope to a platform parent"
else
	not_ok "KEYCTL_SESSION_TO_PARENT from the scope to a platform parent" "exit $rc" \
		"$(head -c 300 /tmp/.out /tmp/.err)"
fi
expect_event "event: session keyring to a platform parent" '"type":"key"' '"key":"_ses"' \
	'"perm":"link"' '"errno":1' '"comm":"redteam"'

# --- 2c'. A denied file passed by the platform over a unix socket (SCM_RIGHTS) -----------------
# file_receive decides it as an open by the receiver: the kernel leaves the descriptor out
# (MSG_CTRUNC) and the data arrives.
outside /t/redteam fd-send $SECRET "$cg" > /tmp/.out 2> /tmp/.err
rc=$?
if [ "$rc" = 1 ] && grep -q "MSG_CTRUNC, no descriptor" /tmp/.out && ! grep -q "top secret" /tmp/.out; then
	ok "SCM_RIGHTS of a denied file from the platform to the scope: no descriptor (MSG_CTRUNC)"
else
	not_ok "SCM_RIGHTS of a denied file from the platform to the scope: no descriptor (MSG_CTRUNC)" \
		"exit $rc" "$(head -c 300 /tmp/.out /tmp/.err)"
fi
expect_event "event: the received denied file" '"type":"file"' '"rule":"secret-tree"' '"path":"a.txt"' '"access":"read"' \
	'"verdict":"deny"' '"errno":1' '"comm":"redteam"'
expect_rc "SCM_RIGHTS of an allowed file still works (sanity)" 0 outside /t/redteam fd-send /tests/vm/lib.sh "$cg"

# --- 2d. Slow vigild without touching it --------------------------------------------------------
# CAP_SYS_NICE is kept: the scope gives itself SCHED_FIFO 99. One spinning thread per vCPU leaves
# CFS tasks, vigild among them, the 5 % of CPU that RT throttling reserves, and cgroup v2's cpu.max
# does not bound RT tasks (no RT group scheduling in Debian's kernel). task_setscheduler guards
# vigild as a target only.
expect_eperm "sched_setscheduler(SCHED_FIFO 99) of the scope's own task" $R sched-fifo

# --- 3. Network: an allowed destination for the hooks, a denied one on the wire --------------
# The platform's network: the allowed hosts 10.10.0.1 and fd00:a::1 on d1, the denied networks
# 10.20.0.0/24 and fd00:b::/64 on d0. Dummy links count what they send: 20 datagrams leaving
# through d0 went to the denied network.
outside sh -c 'grep -q "^dummy " /proc/modules || insmod /lib/modules/dummy.ko'
outside sh -c '
	ip link add d0 type dummy && ip link add d1 type dummy || exit 1
	for d in d0 d1; do
		echo 0 > /proc/sys/net/ipv6/conf/$d/accept_dad
		echo 0 > /proc/sys/net/ipv6/conf/$d/router_solicitations
	done
	ip link set d0 up && ip link set d1 up &&
	ip addr add 10.10.0.10/24 dev d1 && ip addr add 10.20.0.10/24 dev d0 &&
	ip -6 addr add fd00:a::10/64 dev d1 && ip -6 addr add fd00:b::10/64 dev d0'
sleep 3 # link-up chatter (MLD reports) settles
d0_tx() { cat /sys/class/net/d0/statistics/tx_packets; }
# not_to_d0 NAME CMD...: CMD (20 datagrams to an allowed host) sends none of them through d0.
not_to_d0() {
	name=$1
	shift
	before=$(d0_tx)
	"$@" > /tmp/.out 2> /tmp/.err
	rc=$?
	after=$(d0_tx)
	if [ $((after - before)) -lt 20 ]; then
		ok "$name"
		echo "#   exit $rc; d0 sent $((after - before)) packets; $(head -c 200 /tmp/.out /tmp/.err | tr '\n' ' ')"
	else
		not_ok "$name" "exit $rc; d0 sent $((after - before)) packets" "$(head -c 300 /tmp/.out /tmp/.err)"
	fi
}
expect_eperm "UDP to the denied IPv4 host (sanity)" $R udp 10.20.0.2 9
expect_eperm "UDP to the denied IPv6 host (sanity)" $R udp fd00:b::2 9
expect_rc "UDP to the allowed IPv4 host (sanity)" 0 $R udp 10.10.0.1 9
expect_rc "UDP to the allowed IPv6 host (sanity)" 0 $R udp fd00:a::1 9
not_to_d0 "the allowed hosts' datagrams stay off d0 (sanity)" $R udp 10.10.0.1 9

# 3a. IPv4 loose source routing: IP_OPTIONS {LSRR 10.20.0.2} on a UDP socket: the hook sees
# 10.10.0.1, the packet would be routed to its first hop, 10.20.0.2. Closed: the kernel asks for
# CAP_NET_RAW, which the ordinary set refuses (a policy allowing raw sockets reopens it).
not_to_d0 "IPv4 IP_OPTIONS loose source route via the denied host (closed: CAP_NET_RAW)" \
	$R udp 10.10.0.1 9 via-srr 10.20.0.2
# 3b. IPv6 segment routing header: IPV6_RTHDR type 4 {fd00:b::2} (no capability): the packet's
# destination is the active segment.
not_to_d0 "IPv6 IPV6_RTHDR segment routing header via the denied host" \
	$R udp fd00:a::1 9 via-rthdr fd00:b::2
# 3c. The same per datagram: a type 2 routing header (Mobile IPv6, built in) as an IPV6_RTHDR
# control message of sendmsg (no capability): a fix on setsockopt alone leaves this one.
not_to_d0 "IPv6 type 2 routing header as a sendmsg control message via the denied host" \
	$R udp fd00:a::1 9 via-rthdr2-cmsg fd00:b::2
# 3d. CAP_NET_ADMIN is kept by the ordinary capability set: an SRv6 route (ipv6 is built in)
# wraps every packet for the allowed host in an outer header to the denied one.
expect_eperm "CAP_NET_ADMIN: an SRv6 encap route to the allowed host via the denied one" \
	$R seg6 d1 fd00:a::1 fd00:b::2
not_to_d0 "datagrams to the allowed host do not leave for the denied network" $R udp fd00:a::1 9
outside sh -c 'ip link del d0; ip link del d1'

finish
