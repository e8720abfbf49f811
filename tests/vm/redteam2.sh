# vm suite: red team 2: more routes around vigil's hooks from root inside the scope, each asserting the secure outcome (routes found open are in tests/vm/redteam-open.sh.txt, not here).
# Routes: a file created in a denied tree after the load taken out by a hard link (ln, O_PATH +
# /proc/self/fd linkat) or a rename; TCP fast open to a denied host; setpriority/ioprio_set over
# every uid-0 process (PRIO_USER, IOPRIO_WHO_USER) reaching vigild; vigild's /proc/PID/autogroup;
# a read lease on vigil's checkpoint file.
# vigil-vm-args: --copy build/guest-tests:/t --timeout 900
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
expect_rc "... and its content was not read" 1 grep -q "late secret" /tmp/.out
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
# or truncate of the file wait up to fs.lease-break-time (45 s by default) for the holder.
# Closed while vigild runs: it holds checkpoints.jsonl open for writing, and the kernel grants no
# read lease on a file with a writer (EAGAIN). (A lease taken while vigild is stopped would delay
# the restarted vigild's opens: the file_lock hook proposed in redteam-open.sh.txt covers both.)
outside sh -c 'echo 4 > /proc/sys/fs/lease-break-time'
$R2 lease /var/log/vigil/checkpoints.jsonl 30 > /tmp/rt2.lease 2>&1 &
lp=$!
i=0
while ! grep -q "leased\|F_SETLEASE" /tmp/rt2.lease && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
expect_rc "a read lease on vigil's checkpoint file while vigild writes it: EAGAIN (closed)" 0 \
	grep -q "F_SETLEASE: Resource temporarily unavailable" /tmp/rt2.lease
t=$(outside sh -c 's=$(date +%s); : >> /var/log/vigil/checkpoints.jsonl; echo $(($(date +%s) - s))')
expect_rc "... the platform's write-open of it did not wait (${t}s)" 0 test "$t" -lt 2
kill $lp 2> /dev/null
outside sh -c 'echo 45 > /proc/sys/fs/lease-break-time'

finish
