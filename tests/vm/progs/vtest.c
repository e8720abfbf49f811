/* vtest: a static probe for the VM tests; each subcommand makes one syscall the policy decides.
 *
 * Exit status: 0 when the kernel let the operation through (for connect, a refused or pending
 * connection counts: the policy did not stop it), 1 when it failed; the error goes to stderr as
 * strerror, so "Operation not permitted" is EPERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uring_once.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

/* ADDR PORT: an IPv4 or IPv6 sockaddr (IPv4-mapped IPv6 spelled ::ffff:a.b.c.d stays IPv6). */
static socklen_t make_addr(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)atoi(port));
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)atoi(port));
		return sizeof(*a6);
	}
	fprintf(stderr, "vtest: bad address %s\n", addr);
	exit(2);
}

static int net_socket(int family, const char *proto)
{
	int udp = proto && strcmp(proto, "udp") == 0;
	/* Non-blocking: a SYN into the dummy interface must not wait for a timeout. */
	int fd = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	return fd;
}

static int reached(int r, int err, const char *what)
{
	if (r == 0 || err == ECONNREFUSED || err == EINPROGRESS)
		return 0;
	return fail(what, err);
}

static int uring_one(void (*prep)(struct io_uring_sqe *, void *), void *arg, const char *what)
{
	const char *stage;
	int r, res;

	r = uring_once(prep, arg, &res, &stage);
	if (r < 0)
		return fail(stage, -r);
	if (res < 0 && res != -ECONNREFUSED && res != -EINPROGRESS)
		return fail(what, -res);
	return 0;
}

struct uring_connect {
	int fd;
	struct sockaddr_storage ss;
	socklen_t len;
};

static void prep_connect(struct io_uring_sqe *sqe, void *arg)
{
	struct uring_connect *c = arg;

	io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&c->ss, c->len);
}

static void prep_openat(struct io_uring_sqe *sqe, void *arg)
{
	io_uring_prep_openat(sqe, AT_FDCWD, arg, O_RDONLY, 0);
}

static int cmd_net(int argc, char **argv)
{
	const char *op = argv[1];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	if (argc < 4)
		return 2;
	len = make_addr(argv[2], argv[3], &ss);
	fd = net_socket(ss.ss_family, argc > 4 ? argv[4] : "tcp");
	if (strcmp(op, "connect") == 0) {
		r = connect(fd, (struct sockaddr *)&ss, len);
		return reached(r, errno, "connect");
	}
	if (strcmp(op, "bind") == 0)
		return bind(fd, (struct sockaddr *)&ss, len) ? fail("bind", errno) : 0;
	if (strcmp(op, "listen") == 0) {
		if (bind(fd, (struct sockaddr *)&ss, len))
			return fail("bind", errno);
		return listen(fd, 1) ? fail("listen", errno) : 0;
	}
	if (strcmp(op, "sendto") == 0) {
		fd = net_socket(ss.ss_family, "udp");
		r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
		return r < 0 ? fail("sendto", errno) : 0;
	}
	if (strcmp(op, "uring-connect") == 0) {
		struct uring_connect c = {.fd = fd, .ss = ss, .len = len};

		return uring_one(prep_connect, &c, "io_uring connect");
	}
	return 2;
}

/* Key subcommands use raw syscalls: keyutils' keyctl is dynamic and the guest has no libc. */
#define KEYCTL_JOIN_SESSION_KEYRING_ 1
#define KEYCTL_SETPERM_              5
#define KEYCTL_READ_                 11
#define KEY_SPEC_SESSION_KEYRING_    (-3)
#define KEY_SPEC_USER_KEYRING_       (-4)

static int cmd_key(int argc, char **argv)
{
	char buf[256];
	long r;

	/* key-add: the session keyring (the scope's own, see key-session); key-add-user: root's
	 * user keyring, which the scope shares with the platform and may not change. */
	if ((strcmp(argv[1], "key-add") == 0 || strcmp(argv[1], "key-add-user") == 0) &&
	    argc == 4) {
		r = syscall(SYS_add_key, "user", argv[2], argv[3], strlen(argv[3]),
		            argv[1][7] ? KEY_SPEC_USER_KEYRING_ : KEY_SPEC_SESSION_KEYRING_);
		if (r < 0)
			return fail("add_key", errno);
		printf("%ld\n", r);
		return 0;
	}
	/* key-session CMD...: CMD in a new session keyring, created (and so owned) by the scope. */
	if (strcmp(argv[1], "key-session") == 0 && argc >= 3) {
		if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING_, NULL) < 0)
			return fail("keyctl join_session_keyring", errno);
		execv(argv[2], argv + 2);
		return fail("execv", errno);
	}
	if (strcmp(argv[1], "key-setperm") == 0 && argc == 4) {
		r = syscall(SYS_keyctl, KEYCTL_SETPERM_, atol(argv[2]), strtoul(argv[3], NULL, 0));
		return r < 0 ? fail("keyctl setperm", errno) : 0;
	}
	if (strcmp(argv[1], "key-read") == 0 && argc == 3) {
		r = syscall(SYS_keyctl, KEYCTL_READ_, atol(argv[2]), buf, sizeof(buf) - 1);
		if (r < 0)
			return fail("keyctl read", errno);
		buf[r < (long)sizeof(buf) - 1 ? r : (long)sizeof(buf) - 1] = 0;
		printf("%s\n", buf);
		return 0;
	}
	return 2;
}

static int cmd_file(int argc, char **argv)
{
	int fd;

	if (strcmp(argv[1], "uring-open") == 0 && argc == 3)
		return uring_one(prep_openat, argv[2], "io_uring openat");
	if (strcmp(argv[1], "open") == 0 && argc == 4) {
		int flags = strcmp(argv[3], "w") == 0    ? O_WRONLY
		            : strcmp(argv[3], "rw") == 0 ? O_RDWR
		                                         : O_RDONLY;

		fd = open(argv[2], flags | O_CLOEXEC);
		if (fd < 0)
			return fail("open", errno);
		close(fd);
		return 0;
	}
	if (strcmp(argv[1], "mmap-exec") == 0 && argc == 3) {
		void *p;

		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open", errno);
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return fail("mmap", errno);
		return 0;
	}
	if (strcmp(argv[1], "open-loop") == 0 && argc == 4) {
		long i, n = atol(argv[3]);
		uint64_t t0 = now_ns();

		for (i = 0; i < n; i++) {
			fd = open(argv[2], O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return fail("open", errno);
			close(fd);
		}
		printf("%.1f\n", (double)(now_ns() - t0) / (double)n);
		return 0;
	}
	if (strcmp(argv[1], "mkfiles") == 0 && argc == 4) {
		long i, n = atol(argv[3]);
		char path[4200];

		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
			fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				return fail("open", errno);
			close(fd);
		}
		return 0;
	}
	return 2;
}

static int cmd_self(int argc, char **argv)
{
	if (strcmp(argv[1], "bpf") == 0) {
		/* BPF_MAP_CREATE with an empty attr: refused by the LSM before validation. */
		char attr[128] = {0};

		return syscall(SYS_bpf, 0, attr, sizeof(attr)) < 0 ? fail("bpf", errno) : 0;
	}
	if (strcmp(argv[1], "ptrace") == 0 && argc == 3)
		return ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL) < 0 ? fail("ptrace", errno)
		                                                            : 0;
	if (strcmp(argv[1], "kill") == 0 && argc == 4)
		return kill(atoi(argv[2]), atoi(argv[3])) < 0 ? fail("kill", errno) : 0;
	return 2;
}

/* A connect() loop for the benchmark: N connects of fresh sockets to a refused port. */
static int cmd_connect_loop(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	long i, n;

	if (argc != 5)
		return 2;
	uint64_t t0;

	len = make_addr(argv[2], argv[3], &ss);
	n = atol(argv[4]);
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);

		if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != ECONNREFUSED)
			return fail("connect", errno);
		close(fd);
	}
	printf("%.1f\n", (double)(now_ns() - t0) / (double)n);
	return 0;
}

static void join_cgroup(const char *dir)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static double time_opens(const char *path, long n)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			exit(fail("open", errno));
		close(fd);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double time_connects(const struct sockaddr_storage *ss, socklen_t len, long n)
{
	uint64_t t0 = now_ns();
	long i;

	for (i = 0; i < n; i++) {
		int fd = socket(ss->ss_family, SOCK_STREAM, 0);

		if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != ECONNREFUSED)
			exit(fail("connect", errno));
		close(fd);
	}
	return (double)(now_ns() - t0) / (double)n;
}

/*
 * ab-open PATH N ROUNDS IN OUT / ab-connect ADDR PORT N ROUNDS IN OUT: alternates chunks of N
 * operations in cgroup IN (the policy's scope) and cgroup OUT (outside it), in the order
 * in-out, out-in, ... so drift cancels; prints "in NS out NS" per round.
 */
static int cmd_ab(int argc, char **argv)
{
	bool conn = strcmp(argv[1], "ab-connect") == 0;
	int base = conn ? 3 : 2;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	long n, rounds, r;

	if (argc != base + 5)
		return 2;
	if (conn)
		len = make_addr(argv[2], argv[3], &ss);
	n = atol(argv[base + 1]);
	rounds = atol(argv[base + 2]);
	for (r = 0; r < rounds; r++) {
		double t[2];
		int k;

		for (k = 0; k < 2; k++) {
			int inside = (k + r) % 2 == 0;

			join_cgroup(argv[inside ? base + 3 : base + 4]);
			t[inside] = conn ? time_connects(&ss, len, n) : time_opens(argv[2], n);
		}
		printf("in %.1f out %.1f\n", t[1], t[0]);
	}
	return 0;
}

/* One request to the kernel audit subsystem; waits for its acknowledgement. */
static int audit_request(int fd, int type, const void *data, size_t len)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	static unsigned int seq;
	char ack[512];
	struct nlmsghdr *h = calloc(1, NLMSG_SPACE(len));
	ssize_t n;
	int r = 0;

	if (!h)
		return ENOMEM;
	h->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	h->nlmsg_type = (uint16_t)type;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++seq;
	memcpy(NLMSG_DATA(h), data, len);
	if (sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		r = errno;
	free(h);
	if (r)
		return r;
	n = recv(fd, ack, sizeof(ack), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return EIO;
	h = (struct nlmsghdr *)ack;
	if (h->nlmsg_type == NLMSG_ERROR)
		return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
	return 0;
}

/*
 * audit-watch DIR N: what `auditctl -e 1; auditctl -w DIR/fI -p r` does for I < N (syscall
 * exit filter, every syscall, a watch and a read-permission field); audit-off: auditctl -e 0.
 */
static int cmd_audit(int argc, char **argv)
{
	struct audit_status st = {.mask = AUDIT_STATUS_ENABLED, .enabled = 1};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
	long i, n;
	int r;

	if (fd < 0)
		return fail("socket(NETLINK_AUDIT)", errno);
	if (strcmp(argv[1], "audit-off") == 0) {
		st.enabled = 0;
		r = audit_request(fd, AUDIT_SET, &st, sizeof(st));
		return r ? fail("AUDIT_SET", r) : 0;
	}
	if (argc != 4)
		return 2;
	r = audit_request(fd, AUDIT_SET, &st, sizeof(st));
	if (r)
		return fail("AUDIT_SET", r);
	n = atol(argv[3]);
	for (i = 0; i < n; i++) {
		char path[4200];
		size_t len = (size_t)snprintf(path, sizeof(path), "%s/f%ld", argv[2], i);
		struct audit_rule_data *rule = calloc(1, sizeof(*rule) + len);
		unsigned int w;

		if (!rule)
			return fail("calloc", ENOMEM);
		rule->flags = AUDIT_FILTER_EXIT;
		rule->action = AUDIT_ALWAYS;
		for (w = 0; w < AUDIT_BITMASK_SIZE; w++)
			rule->mask[w] = ~0u;
		rule->field_count = 2;
		rule->fields[0] = AUDIT_WATCH;
		rule->fieldflags[0] = AUDIT_EQUAL;
		rule->values[0] = (uint32_t)len;
		rule->fields[1] = AUDIT_PERM;
		rule->fieldflags[1] = AUDIT_EQUAL;
		rule->values[1] = AUDIT_PERM_READ;
		rule->buflen = (uint32_t)len;
		memcpy(rule->buf, path, len);
		r = audit_request(fd, AUDIT_ADD_RULE, rule, sizeof(*rule) + len);
		free(rule);
		if (r)
			return fail("AUDIT_ADD_RULE", r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const net_cmds[] = {"connect", "bind",          "listen",
	                                       "sendto",  "uring-connect", NULL};
	const char *const *c;

	if (argc < 2) {
		fprintf(stderr, "usage: vtest CMD ARGS (see tests/guest/vtest.c)\n");
		return 2;
	}
	for (c = net_cmds; *c; c++)
		if (strcmp(argv[1], *c) == 0)
			return cmd_net(argc, argv);
	if (strncmp(argv[1], "key-", 4) == 0)
		return cmd_key(argc, argv);
	/* as-uid UID CMD ARGS: the same probe under another uid. */
	if (strcmp(argv[1], "as-uid") == 0 && argc > 3) {
		if (setgid((gid_t)atoi(argv[2])) || setuid((uid_t)atoi(argv[2])))
			return fail("setuid", errno);
		execv(argv[3], argv + 3);
		return fail("execv", errno);
	}
	if (strcmp(argv[1], "connect-loop") == 0)
		return cmd_connect_loop(argc, argv);
	if (strncmp(argv[1], "audit-", 6) == 0)
		return cmd_audit(argc, argv);
	if (strncmp(argv[1], "ab-", 3) == 0)
		return cmd_ab(argc, argv);
	if (strcmp(argv[1], "bpf") == 0 || strcmp(argv[1], "ptrace") == 0 ||
	    strcmp(argv[1], "kill") == 0)
		return cmd_self(argc, argv);
	return cmd_file(argc, argv);
}
