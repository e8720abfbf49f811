/* redteam2: probes of tests/vm/redteam2.sh, a second set of routes around vigil's hooks that root
 * inside the policy's scope would try. Each subcommand is one route.
 *
 * Exit status: 0 when the kernel let the route through, 1 when it failed (strerror on stderr, so
 * "Operation not permitted" is EPERM), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif
#define IOPRIO_WHO_USER    3
#define IOPRIO_CLASS_IDLE  3
#define IOPRIO_CLASS_SHIFT 13

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

/*
 * A hard link to a file the scope cannot open, made from an O_PATH descriptor (open(O_PATH) runs
 * no file_open hook) through /proc/self/fd with AT_SYMLINK_FOLLOW (no capability needed), then a
 * read of the file through the new name outside the denied tree.
 */
static int opath_link(const char *src, const char *dst)
{
	char proc[64], buf[256];
	int fd = open(src, O_PATH), rfd;
	ssize_t n;

	if (fd < 0)
		return fail("open O_PATH", errno);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) < 0)
		return fail("linkat /proc/self/fd", errno);
	rfd = open(dst, O_RDONLY);
	if (rfd < 0)
		return fail("open the new name", errno);
	n = read(rfd, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("read", errno);
	buf[n] = 0;
	printf("%s", buf);
	return 0;
}

/* TCP fast open: sendto(MSG_FASTOPEN) connects inside tcp_sendmsg, not through connect(2). */
static int tfo(const char *host, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0)
		return fail("socket", errno);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return 2;
	if (sendto(s, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("sendto MSG_FASTOPEN", errno);
	return 0;
}

/*
 * setpriority(PRIO_USER, 0, 19) and ioprio_set(IOPRIO_WHO_USER, 0, idle): every process of uid 0
 * at once, vigild and PID 1 included. The kernel asks the hook per task and goes on past a
 * refusal: the call's status says nothing about vigild, the caller reads vigild's values.
 */
static int prio_user(void)
{
	if (setpriority(PRIO_USER, 0, 19) < 0)
		return fail("setpriority PRIO_USER", errno);
	return 0;
}

static int ioprio_user(void)
{
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_USER, 0, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) <
	    0)
		return fail("ioprio_set IOPRIO_WHO_USER", errno);
	return 0;
}

/* Prints pid's I/O priority (the platform's probe of vigild's after ioprio-user). */
static int ioprio_get(int pid)
{
	long r = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, pid);

	if (r < 0)
		return fail("ioprio_get", errno);
	printf("%ld\n", r);
	return 0;
}

/*
 * flock(LOCK_EX) of path opened read-only (a lock needs no write access), waiting for it as long
 * as it takes, then holding it for secs seconds: vigild's audit writer takes an exclusive flock
 * of its log directory's .lock at start and refuses to start when another process holds it.
 */
static int hold_flock(const char *path, int secs)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", errno);
	if (flock(fd, LOCK_EX) < 0)
		return fail("flock", errno);
	printf("locked\n");
	sleep(secs);
	return 0;
}

/*
 * A read lease (F_SETLEASE F_RDLCK) on path opened read-only: any later open of it for writing
 * or truncate blocks for up to fs.lease-break-time (45 s by default) while the holder ignores the
 * break (SIGIO ignored). Held for secs seconds.
 */
static int hold_lease(const char *path, int secs)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", errno);
	signal(SIGIO, SIG_IGN);
	if (fcntl(fd, F_SETLEASE, F_RDLCK) < 0)
		return fail("F_SETLEASE", errno);
	printf("leased\n");
	sleep(secs);
	return 0;
}

/* prlimit(pid, RLIMIT_CPU, 1 s): the kernel kills pid (SIGXCPU, then SIGKILL) once it used 1 s. */
static int cpu_limit(int pid)
{
	struct rlimit rl = {1, 1};

	if (prlimit(pid, RLIMIT_CPU, &rl, NULL) < 0)
		return fail("prlimit RLIMIT_CPU", errno);
	return 0;
}

static volatile sig_atomic_t got_sig;

static void on_sig(int sig)
{
	got_sig = sig;
}

/*
 * SIGIO ownership: make the kernel signal OWNER (a pid, or -pgid) with signal SIG when data
 * arrives on an O_ASYNC pipe (send_sigio: no task_kill). HOW is the owner call: "fcntl"
 * (F_SETOWN), "ex" (F_SETOWN_EX, F_OWNER_PID), "ioctl" (FIOSETOWN on a socket pair) or "pgrp"
 * (SIOCSPGRP). SIG 0: set the owner only. OWNER "self": this process; then the program waits
 * for the signal and says "signalled N".
 */
static int sigio(const char *how, const char *owner, int sig)
{
	int self = !strcmp(owner, "self"), who = self ? getpid() : atoi(owner), p[2], i;
	struct f_owner_ex ex = {.type = F_OWNER_PID, .pid = who};
	int r;

	if (!strcmp(how, "fcntl") || !strcmp(how, "ex")) {
		if (pipe(p) < 0)
			return fail("pipe", errno);
	} else if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) < 0) {
		return fail("socketpair", errno);
	}
	if (!strcmp(how, "fcntl"))
		r = fcntl(p[0], F_SETOWN, who);
	else if (!strcmp(how, "ex"))
		r = fcntl(p[0], F_SETOWN_EX, &ex);
	else if (!strcmp(how, "ioctl"))
		r = ioctl(p[0], FIOSETOWN, &who);
	else
		r = ioctl(p[0], SIOCSPGRP, &who);
	if (r < 0)
		return fail(how, errno);
	printf("owner set\n");
	if (!sig)
		return 0;
	if (self)
		signal(sig, on_sig);
	if (fcntl(p[0], F_SETSIG, sig) < 0 || fcntl(p[0], F_SETFL, O_ASYNC) < 0)
		return fail("F_SETSIG/O_ASYNC", errno);
	if (write(p[1], "x", 1) != 1)
		return fail("write", errno);
	for (i = 0; self && !got_sig && i < 100; i++)
		usleep(10000);
	if (self && got_sig != sig)
		return fail("no signal", ETIMEDOUT);
	if (self)
		printf("signalled %d\n", got_sig);
	return 0;
}

/* One step of handoff: its result as a line, "NAME: ok" or "NAME: strerror". */
static void step(const char *name, int r)
{
	printf("%s: %s\n", name, r < 0 ? strerror(errno) : "ok");
}

/*
 * A file whose SIGIO owner the platform set, reaching the scope: run by the platform, it makes
 * an O_ASYNC-less pipe owned by TARGET, moves itself into the scope (PROCS: the scope cgroup's
 * cgroup.procs), then tries to choose the signal (F_SETSIG SIG) and turn signals on (F_SETFL
 * O_ASYNC, FIOASYNC, a lease on a regular file it owns the same way) and writes.
 */
static int handoff(const char *procs, int target, int sig)
{
	int p[2], on = 1, lf;
	FILE *f;

	if (pipe(p) < 0 || fcntl(p[0], F_SETOWN, target) < 0)
		return fail("pipe/F_SETOWN", errno);
	/* A regular file too: a lease's break signals the file's owner (lease_break_callback). */
	lf = open("/tmp/rt2-lease", O_RDONLY | O_CREAT, 0600);
	if (lf < 0 || fcntl(lf, F_SETOWN, target) < 0)
		return fail("/tmp/rt2-lease F_SETOWN", errno);
	f = fopen(procs, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0)
		return fail(procs, errno);
	step("F_SETSIG", fcntl(p[0], F_SETSIG, sig));
	step("F_SETFL O_ASYNC", fcntl(p[0], F_SETFL, O_ASYNC));
	step("FIOASYNC", ioctl(p[0], FIOASYNC, &on));
	step("F_SETLEASE", fcntl(lf, F_SETLEASE, F_RDLCK));
	step("write", (int)write(p[1], "x", 1));
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "opath-link") && argc == 4)
		return opath_link(argv[2], argv[3]);
	if (!strcmp(cmd, "tfo") && argc == 4)
		return tfo(argv[2], atoi(argv[3]));
	if (!strcmp(cmd, "prio-user"))
		return prio_user();
	if (!strcmp(cmd, "ioprio-user"))
		return ioprio_user();
	if (!strcmp(cmd, "ioprio-get") && argc == 3)
		return ioprio_get(atoi(argv[2]));
	if (!strcmp(cmd, "flock") && argc == 4)
		return hold_flock(argv[2], atoi(argv[3]));
	if (!strcmp(cmd, "lease") && argc == 4)
		return hold_lease(argv[2], atoi(argv[3]));
	if (!strcmp(cmd, "cpu-limit") && argc == 3)
		return cpu_limit(atoi(argv[2]));
	if (!strcmp(cmd, "sigio") && argc == 5)
		return sigio(argv[2], argv[3], atoi(argv[4]));
	if (!strcmp(cmd, "handoff") && argc == 5)
		return handoff(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: redteam2 opath-link SRC DST | tfo HOST PORT | prio-user | "
	                "ioprio-user | ioprio-get PID | flock PATH SECS | lease PATH SECS | "
	                "cpu-limit PID | sigio fcntl|ex|ioctl|pgrp PID|-PGID|self SIG | "
	                "handoff CGROUP.PROCS PID SIG\n");
	return 2;
}
