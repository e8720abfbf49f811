# vm suite: red team 2: more routes around vigil's hooks from root inside the scope, each asserting the secure outcome (routes found open are in tests/vm/redteam-open.sh.txt, not here).
# Routes: a file created in a denied tree after the load taken out by a hard link (ln, O_PATH +
# /proc/self/fd linkat) or a rename; TCP fast open to a denied host; setpriority/ioprio_set over
# every uid-0 process (PRIO_USER, IOPRIO_WHO_USER) reaching vigild; vigild's /proc/PID/autogroup;
# a read lease on vigil's checkpoint file; binfmt_misc register (bound_check_open); SIGIO owners
# (F_SETOWN and the like) naming PID 1 or a platform process, or the signal of a platform-owned
# file; a flock of the audit log's .lock across vigild's restart (file_lock).
# vigil-vm-args: --copy build/guest-tests:/t --copy @kernel/modules/kernel/fs/binfmt_misc.ko:/lib/modules/binfmt_misc.ko --timeout 900
. /tests/vm/lib.sh
R2=/t/redteam2
S=/tests/vm/file-data/secret
pid=$(cat /run/vigild.pid)

expect_eperm "the denied tree is denied by path (sanity)" cat $S/a.txt

# --- 1. A file the platform creates in the denied tree after the load ---------------------------
# The load saw no identity for it: only the walk to the tree's directory covers it, so a new name
# outside the tree would carry no rule. Closed: a deny rule also denies link and rename
# (policies/policy_file.c FILE_NAME_ACCESS), decided on the file's real ancestors (path_link,
# path_rename).
outside sh -c "echo 'late secret' > $S/late.txt"
expect_eperm "the late file is denied by path (sanity)" cat $S/late.txt
expect_eperm "hard link of the late file out of the tree (closed)" ln $S/late.txt /tests/vm/late1
expect_eperm "O_PATH open + linkat(/proc/self/fd, AT_SYMLINK_FOLLOW) of the late file (closed)" \
	$R2 opath-link $S/late.txt /tests/vm/late2
cp /tmp/.out /tmp/rt2.late # expect_rc's own redirection would empty /tmp/.out before grep reads it
expect_rc "... and its content was not read" 1 grep -q "late secret" /tmp/rt2.late
expect_event "event: the link, refused by the tree rule" '"type":"file"' '"access":"link"' \
	'"verdict":"deny"' '"rule":"secret-tree"' '"comm":"redteam2"'
expect_eperm "rename of the late file out of the tree (closed)" mv $S/late.txt /tests/vm/late3
expect_rc "... no copy left outside the tree" 1 sh -c 'cat /tests/vm/late1 /tests/vm/late2 /tests/vm/late3 2> /dev/null | grep -q late'

# --- 2. TCP fast open: a connect made inside sendmsg ------------------------------------------
# sendto(MSG_FASTOPEN) on an unconnected TCP socket connects in tcp_sendmsg, not through
# connect(2). Closed: socket_sendmsg checks msg_name like a connect (no route to 10.20.0.2: an
# unchecked send would fail with ENETUNREACH, not EPERM).
expect_eperm "TCP connect to the denied network (sanity)" nc -w 2 10.20.0.2 80
expect_eperm "TCP fast open sendto to the denied network (closed)" $R2 tfo 10.20.0.2 80
expect_event "event: the fast open, refused" '"type":"network"' '"verdict":"deny"' \
	'"network.peer.address":"10.20.0.2"' '"comm":"redteam2"'

# --- 3. Scheduling vigild through a whole-user call ------------------------------------------
# setpriority(PRIO_USER, 0) and ioprio_set(IOPRIO_WHO_USER, 0) change every process of uid 0 in
# one call; the kernel asks task_setnice / task_setioprio once per task and goes on past a refusal.
# Closed: vigild's own check refuses it (vigild keeps its values; the call's status says nothing).
nice_of() { awk '{print $19}' /proc/$1/stat; }
before=$(nice_of "$pid")
$R2 prio-user > /dev/null 2>&1
expect_rc "setpriority(PRIO_USER, root, 19) leaves vigild's nice ($before) (closed)" 0 \
	test "$(nice_of "$pid")" = "$before"
expect_event "event: the renice of vigild, refused" '"type":"self"' '"verdict":"deny"' \
	"\"target_pid\":$pid" '"comm":"redteam2"'
iobefore=$(outside $R2 ioprio-get "$pid")
$R2 ioprio-user > /dev/null 2>&1
expect_rc "ioprio_set(IOPRIO_WHO_USER, root, idle) leaves vigild's I/O priority ($iobefore) (closed)" 0 \
	test "$(outside $R2 ioprio-get "$pid")" = "$iobefore"
# The platform undoes what the call did to everything else of uid 0 (the scope's shell included).
outside sh -c 'for p in /proc/[0-9]*; do renice -n 0 -p ${p#/proc/} > /dev/null 2>&1; done'

# The autogroup's nice of vigild's session, and its timer slack: /proc/PID writes of vigild.
expect_eperm "write vigild's /proc/PID/autogroup (closed)" sh -c "echo 19 > /proc/$pid/autogroup"
expect_eperm "write vigild's /proc/PID/timerslack_ns (closed)" \
	sh -c "echo 1000000000 > /proc/$pid/timerslack_ns"

# --- 4. A read lease on vigil's checkpoint file ------------------------------------------------
# A lease (F_SETLEASE F_RDLCK, no capability for the file's owner) makes every later write-open
# or truncate of the file wait up to fs.lease-break-time (45 s by default) for the holder: taken
# while vigild is stopped, it delays the restarted vigild's opens. Closed: file_lock refuses leases
# and locks on the trusted base (vfs_setlease asks it); before that hook, only the kernel's EAGAIN
# (vigild holds checkpoints.jsonl open for writing) stopped it, and only while vigild ran.
outside sh -c 'echo 4 > /proc/sys/fs/lease-break-time'
$R2 lease /var/log/vigil/checkpoints.jsonl 30 > /tmp/rt2.lease 2>&1 &
lp=$!
i=0
while ! grep -q "leased\|F_SETLEASE" /tmp/rt2.lease && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
expect_rc "a read lease on vigil's checkpoint file: EPERM (closed)" 0 \
	grep -q "F_SETLEASE: Operation not permitted" /tmp/rt2.lease
t=$(outside sh -c 's=$(date +%s); : >> /var/log/vigil/checkpoints.jsonl; echo $(($(date +%s) - s))')
expect_rc "... the platform's write-open of it did not wait (${t}s)" 0 test "$t" -lt 2
kill $lp 2> /dev/null
outside sh -c 'echo 45 > /proc/sys/fs/lease-break-time'

# --- 5. binfmt_misc: the interpreter the platform's execs run ------------------------------
# The platform mounts binfmt_misc (systemd's proc-sys-fs-binfmt_misc.automount does, the first
# time anything touches the directory). A handler registered there runs for every matching exec
# in the guest, the platform's included, ahead of the ELF handler: with a magic of "\x7fELF"
# every exec of the platform would run the scope's interpreter as the platform. `register` and
# `status` need no capability in 6.1. Closed: write-opens of binfmt_misc from the scope are
# refused (bound_check_open). The case uses an extension, not to take the guest down.
outside sh -c 'grep -q "^binfmt_misc " /proc/modules || insmod /lib/modules/binfmt_misc.ko'
outside sh -c 'grep -q binfmt_misc /proc/mounts || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc'
BM=/proc/sys/fs/binfmt_misc
expect_rc "binfmt_misc is mounted by the platform (sanity)" 0 test -e $BM/register
printf '#!/bin/sh\ncat /proc/self/cgroup > /tmp/rt2.pwned\n' > /tmp/rt2-interp
chmod 755 /tmp/rt2-interp
expect_eperm "register a binfmt_misc handler from the scope (closed)" \
	sh -c "echo ':rt2:E::rt2sh::/tmp/rt2-interp:' > $BM/register"
expect_self_deny "event: the binfmt_misc register write" '"protects":"kernel"' '"path":"register"' '"comm":"sh"'
outside sh -c 'printf "#!/bin/sh\necho platform-own\n" > /run/plat.rt2sh; chmod 755 /run/plat.rt2sh; /run/plat.rt2sh' > /tmp/rt2.plat 2>&1
expect_rc "the platform's script ran its own code, not the scope's interpreter" 0 grep -q platform-own /tmp/rt2.plat
expect_rc "... (no file written by the scope's interpreter)" 1 test -e /tmp/rt2.pwned
expect_eperm "disable binfmt_misc (status 0) from the scope (closed)" sh -c "echo 0 > $BM/status"
outside sh -c "echo -1 > $BM/rt2" 2> /dev/null

# --- 5b. Platform processes: signals, limits and scheduling from the scope ---------------------
# Closed: task_kill, task_setrlimit, task_setnice, task_setioprio, task_setscheduler and
# task_movememory refuse the scope any task outside it or PID 1 (confine_check_task), as ptrace
# is; the scope's own tasks stay its own.
tp=$(outside sh -c 'sleep 120 < /dev/null > /dev/null 2>&1 & echo $!')
expect_eperm "SIGSTOP a platform process from the scope (closed)" kill -STOP "$tp"
expect_rc "... it is not stopped" 1 sh -c "grep -q '^State:.*T' /proc/$tp/status"
expect_self_deny "event: the signal to the platform process" '"protects":"signal"' \
	"\"target_pid\":$tp" '"path":"platform_task"'
expect_eperm "SIGKILL a platform process from the scope (closed)" kill -KILL "$tp"
expect_rc "... it still runs" 0 kill -0 "$tp"
expect_eperm "prlimit RLIMIT_CPU on a platform process from the scope (closed)" $R2 cpu-limit "$tp"
expect_self_deny "event: the limit on the platform process" '"protects":"rlimit"' "\"target_pid\":$tp"
expect_eperm "SIGRTMIN+4 to PID 1 from the scope (closed)" kill -38 1
expect_eperm "renice PID 1 from the scope (closed)" renice -n 19 -p 1
expect_rc "... PID 1's nice is unchanged" 0 sh -c 'test "$(cut -d" " -f19 /proc/1/stat)" = 0'
sleep 120 < /dev/null > /dev/null 2>&1 &
own=$!
expect_rc "the scope may renice its own task" 0 renice -n 5 -p "$own"
expect_rc "the scope may stop and kill its own task" 0 sh -c "kill -STOP $own && kill -KILL $own"

# --- 5c. SIGIO owners: a signal the kernel sends on I/O, not through task_kill -----------------
# F_SETOWN (or F_SETOWN_EX, FIOSETOWN, SIOCSPGRP) names whom send_sigio signals when an O_ASYNC
# file gets data, F_SETSIG which signal: SIGRTMIN+4 to a systemd PID 1 powers the guest off.
# Closed: the scope may set no owner but itself (file_fcntl, file_ioctl: confine_check_owner).
expect_eperm "F_SETOWN of an O_ASYNC pipe to PID 1 from the scope (closed)" $R2 sigio fcntl 1 0
expect_self_deny "event: the SIGIO owner PID 1" '"protects":"signal"' '"target_pid":1' \
	'"path":"platform_task"' '"comm":"redteam2"'
expect_eperm "F_SETOWN to a platform process + F_SETSIG SIGSTOP + write (closed)" \
	$R2 sigio fcntl "$tp" 19
expect_rc "... it is not stopped" 1 sh -c "grep -q '^State:.*T' /proc/$tp/status"
expect_self_deny "event: the SIGIO owner, a platform process" '"protects":"signal"' \
	"\"target_pid\":$tp" '"comm":"redteam2"'
expect_eperm "F_SETOWN to a process group (-1) from the scope (closed)" $R2 sigio fcntl -1 0
expect_eperm "F_SETOWN_EX to PID 1 from the scope (closed)" $R2 sigio ex 1 0
expect_eperm "F_SETOWN_EX to itself from the scope (user memory: refused unread)" $R2 sigio ex self 0
expect_eperm "ioctl FIOSETOWN of a socket to PID 1 from the scope (closed)" $R2 sigio ioctl 1 0
expect_eperm "ioctl SIOCSPGRP of a socket from the scope (closed)" $R2 sigio pgrp 1 0
expect_rc "F_SETOWN 0 (no owner) from the scope still works" 0 $R2 sigio fcntl 0 0
expect_rc "F_SETOWN to itself + F_SETSIG SIGUSR1 + write: the scope signals itself" 0 \
	sh -c "$R2 sigio fcntl self 10 > /tmp/rt2.sigio"
expect_rc "... the signal arrived" 0 grep -q "signalled 10" /tmp/rt2.sigio
expect_rc "F_SETOWN of an O_ASYNC pipe to PID 1 by the platform still works" 0 \
	outside $R2 sigio fcntl 1 0
# A file the platform made owned by one of its processes, then handed to the scope (here: the
# platform process moves itself into the scope): the scope may not choose the signal nor turn
# signals on (confine_check_signal_setup: the file's owner is not the caller).
outside $R2 handoff /sys/fs/cgroup/workload/cgroup.procs "$tp" 19 > /tmp/rt2.handoff 2>&1
expect_rc "a platform-owned pipe in the scope: F_SETSIG refused (closed)" 0 \
	grep -q "F_SETSIG: Operation not permitted" /tmp/rt2.handoff
expect_rc "... F_SETFL O_ASYNC refused" 0 grep -q "F_SETFL O_ASYNC: Operation not permitted" /tmp/rt2.handoff
expect_rc "... FIOASYNC refused" 0 grep -q "FIOASYNC: Operation not permitted" /tmp/rt2.handoff
expect_rc "... F_SETLEASE on a platform-owned file refused" 0 \
	grep -q "F_SETLEASE: Operation not permitted" /tmp/rt2.handoff
expect_rc "... the write went through and the platform process is not stopped" 0 \
	sh -c "grep -q 'write: ok' /tmp/rt2.handoff && ! grep -q '^State:.*T' /proc/$tp/status"
outside kill "$tp" 2> /dev/null

# --- 6. vigild's audit log lock, held across its restart ------------------------------------
# The audit writer takes flock(LOCK_EX|LOCK_NB) of /var/log/vigil/.lock at start and, when another
# process holds it, vigild enforces without the audit log. The scope may open .lock read-only, and
# flock needs no write access: a blocked flock took the lock the moment vigild stopped, and the
# restarted vigild ran with no audit records at all. Closed: locks and leases on the trusted base
# are refused to the scope (file_lock, self_check_meta).
$R2 flock /var/log/vigil/.lock 900 > /tmp/rt2.flock 2>&1 &
fp=$!
i=0
while ! grep -q "locked\|flock:" /tmp/rt2.flock && [ $i -lt 30 ]; do usleep 100000; i=$((i + 1)); done
expect_rc "flock of vigil's audit .lock from the scope: EPERM (closed)" 0 \
	grep -q "flock: Operation not permitted" /tmp/rt2.flock
expect_self_deny "event: the flock of .lock" '"protects":"metadata"' '"path":".lock"' '"comm":"redteam2"'
outside sh -c "kill -TERM $pid; while kill -0 $pid 2> /dev/null; do usleep 50000; done"
outside sh -c 'vigild --policy /vigil-vm/policy.json --event-log /out/events.jsonl \
	--ready-file /run/vigil/ready2 > /out/vigild2.log 2>&1 & echo $! > /run/vigild2.pid'
pid2=$(cat /run/vigild2.pid)
i=0
while [ ! -e /run/vigil/ready2 ] && kill -0 "$pid2" 2> /dev/null && [ $i -lt 3000 ]; do usleep 100000; i=$((i + 1)); done
expect_rc "vigild restarted by the platform" 0 test -e /run/vigil/ready2
expect_rc "... with its audit log" 0 grep -q "audit log in /var/log/vigil" /out/vigild2.log
expect_rc "... not without it" 1 grep -q "enforcing without the audit log" /out/vigild2.log
kill $fp 2> /dev/null

finish
