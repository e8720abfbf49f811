/* attack: the self-protection probes of tests/vm/attack.sh; each subcommand is one attack on
 * vigild.
 *
 * Exit status: 0 when the kernel let the operation through, 1 when it failed (strerror on stderr,
 * so "Operation not permitted" is EPERM), 2 on bad usage, 3 when at-pid did not get its pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define IOPRIO_CLASS_IDLE  3
#define IOPRIO_WHO_PROCESS 1

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

static int check(int r, const char *what)
{
	return r < 0 ? fail(what, errno) : 0;
}

/* Scheduling and limits of another process. */
static int cmd_task(const char *op, pid_t pid)
{
	if (strcmp(op, "nice") == 0)
		return check(setpriority(PRIO_PROCESS, (id_t)pid, 19), "setpriority");
	if (strcmp(op, "idle") == 0) {
		struct sched_param sp = {0};

		return check(sched_setscheduler(pid, SCHED_IDLE, &sp), "sched_setscheduler");
	}
	if (strcmp(op, "affinity") == 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(0, &set);
		return check(sched_setaffinity(pid, sizeof(set), &set), "sched_setaffinity");
	}
	if (strcmp(op, "ioprio") == 0)
		return check(
		    (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, pid, IOPRIO_CLASS_IDLE << 13),
		    "ioprio_set");
	if (strcmp(op, "rlimit") == 0) {
		struct rlimit rl = {.rlim_cur = 1, .rlim_max = 1};

		return check(prlimit(pid, RLIMIT_CPU, &rl, NULL), "prlimit");
	}
	if (strcmp(op, "pidfd-kill") == 0) {
		int fd = (int)syscall(SYS_pidfd_open, pid, 0);

		if (fd < 0)
			return fail("pidfd_open", errno);
		return check((int)syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0),
		             "pidfd_send_signal");
	}
	if (strcmp(op, "sigqueue") == 0) {
		union sigval v = {0};

		return check(sigqueue(pid, SIGTERM, v), "sigqueue");
	}
	if (strcmp(op, "sigio") == 0) {
		/* The kernel signals the owner of an O_ASYNC pipe when data arrives. */
		int p[2];

		if (pipe(p) < 0 || fcntl(p[0], F_SETOWN, pid) < 0 ||
		    fcntl(p[0], F_SETSIG, SIGTERM) < 0 || fcntl(p[0], F_SETFL, O_ASYNC) < 0)
			return fail("fcntl", errno);
		return check((int)write(p[1], "x", 1), "write");
	}
	fprintf(stderr, "attack: unknown %s\n", op);
	return 2;
}

/* Inode flags, xattrs, exe_file and sockets of a path. */
static int cmd_path(const char *op, const char *path)
{
	int fd, r;

	if (strcmp(op, "setflags") == 0) {
		int flags = FS_IMMUTABLE_FL;

		fd = open(path, O_RDONLY | O_NONBLOCK);
		if (fd < 0)
			return fail("open", errno);
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
		return check(r, "FS_IOC_SETFLAGS");
	}
	if (strcmp(op, "setxattr") == 0)
		return check(setxattr(path, "user.vigil", "x", 1, 0), "setxattr");
	if (strcmp(op, "removexattr") == 0)
		return check(removexattr(path, "user.vigil"), "removexattr");
	if (strcmp(op, "prctl-exe") == 0) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return fail("open", errno);
		return check(prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, fd, 0, 0), "prctl");
	}
	if (strcmp(op, "unix-connect") == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		return check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), "connect");
	}
	fprintf(stderr, "attack: unknown %s\n", op);
	return 2;
}

/*
 * at-pid PID: run as process PID (the pid a killed vigild had) and try vigild's privileges:
 * bpf() and the TPM. Exit 0 when both are refused with EPERM.
 */
static int cmd_at_pid(pid_t want)
{
	union bpf_attr attr;
	int bad = 0, err, fd;

	if (getpid() != want) {
		fprintf(stderr, "at-pid: got pid %d, not %d\n", (int)getpid(), (int)want);
		return 3;
	}
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	/* errno is taken before fprintf, which may change it. */
	fd = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	err = fd < 0 ? errno : 0;
	fprintf(stderr, "bpf: %s\n", fd < 0 ? strerror(err) : "allowed");
	bad += fd >= 0 || err != EPERM;
	fd = open("/dev/tpmrm0", O_RDWR);
	err = fd < 0 ? errno : 0;
	fprintf(stderr, "tpm: %s\n", fd < 0 ? strerror(err) : "allowed");
	bad += fd >= 0 || err != EPERM;
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "at-pid") == 0)
		return cmd_at_pid((pid_t)atoi(argv[2]));
	if (argc != 3) {
		fprintf(stderr, "usage: attack OP PID|PATH (see tests/vm/progs/attack.c)\n");
		return 2;
	}
	if (argv[2][0] == '/')
		return cmd_path(argv[1], argv[2]);
	return cmd_task(argv[1], (pid_t)atoi(argv[2]));
}
