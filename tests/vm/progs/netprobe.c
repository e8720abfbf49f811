/* netprobe: socket addresses built byte by byte, and the socket kinds the network section decides.
 *
 *   netprobe OP SOCK TYPE SAFAM ADDR PORT LEN
 *     OP     connect | bind | sendto | sendmsg | sendmmsg | sendmmsg2 | uring-connect |
 *            uring-sendmsg   (sendmmsg2: a first message to 127.0.0.1:PORT, then ADDR)
 *     SOCK   4 | 6;  TYPE tcp | udp;  SAFAM inet | inet6 | unspec (the sa_family written)
 *     ADDR   an IPv4 address (at sockaddr_in's offset) or IPv6 (at sockaddr_in6's); LEN bytes
 *   netprobe socket DOMAIN TYPE PROTO      e.g. inet raw 255, inet dgram icmp, inet stream mptcp
 *   netprobe use DOMAIN TYPE PROTO OP      that socket, then OP: connect | bind | listen | sendto |
 *                                          connectx (SCTP's, through setsockopt),
 *                                          to (or on) loopback port 9 (VMADDR_CID_LOCAL for vsock;
 *                                          an IPv4 one for rds and smc, rxrpc's transport);
 *                                          sendto carries an ICMP echo request (ping sockets)
 *   netprobe ulp-smc-connect                a TCP socket made an SMC one by the "smc" TCP ULP,
 *                                           then connected to loopback port 9
 *   netprobe hdrincl NAME_ADDR HEADER_DST   IP_HDRINCL raw send: msg_name and header disagree
 *   netprobe packet                         AF_PACKET frame on lo
 * Exit 0 when the kernel went ahead (a refused or pending connection counts), 1 with
 * "what: strerror" on stderr otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rxrpc.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uring_once.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	return 1;
}

static int reached(int r, int err, const char *what)
{
	if (r >= 0 || err == ECONNREFUSED || err == EINPROGRESS || err == ENETUNREACH)
		return 0;
	return fail(what, err);
}

static int name_of(const char *s, const char *const *names, const int *vals)
{
	int i;

	for (i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return vals[i];
	return atoi(s);
}

static int open_socket(int domain, int type, int proto)
{
	int fd = socket(domain, type | SOCK_NONBLOCK, proto);

	if (fd < 0) {
		fail("socket", errno);
		exit(1);
	}
	return fd;
}

/* The sockaddr bytes: family field and address placed independently, as an attacker would. */
static void make_sa(unsigned char *b, const char *safam, const char *addr, int port)
{
	static const char *const fams[] = {"inet", "inet6", "unspec", NULL};
	static const int fam_vals[] = {AF_INET, AF_INET6, AF_UNSPEC};
	sa_family_t fam = (sa_family_t)name_of(safam, fams, fam_vals);

	memset(b, 0, sizeof(struct sockaddr_storage));
	memcpy(b, &fam, sizeof(fam));
	b[2] = (unsigned char)(port >> 8);
	b[3] = (unsigned char)port;
	if (strchr(addr, ':') ? inet_pton(AF_INET6, addr, b + 8) != 1
	                      : inet_pton(AF_INET, addr, b + 4) != 1) {
		fprintf(stderr, "netprobe: bad address %s\n", addr);
		exit(2);
	}
}

static int uring_run(void (*prep)(struct io_uring_sqe *, void *), void *arg, const char *what)
{
	const char *stage;
	int r, res;

	r = uring_once(prep, arg, &res, &stage);
	if (r < 0)
		return fail(stage, -r);
	return reached(res, -res, what);
}

struct uring_arg {
	int fd;
	struct sockaddr *sa;
	socklen_t len;
	struct msghdr *msg;
};

static void prep_connect(struct io_uring_sqe *sqe, void *arg)
{
	struct uring_arg *u = arg;

	io_uring_prep_connect(sqe, u->fd, u->sa, u->len);
}

static void prep_sendmsg(struct io_uring_sqe *sqe, void *arg)
{
	struct uring_arg *u = arg;

	io_uring_prep_sendmsg(sqe, u->fd, u->msg, 0);
}

static int cmd_addr(char **argv)
{
	const char *op = argv[1];
	int family = strcmp(argv[2], "6") == 0 ? AF_INET6 : AF_INET;
	int udp = strcmp(argv[3], "udp") == 0;
	int port = atoi(argv[6]);
	socklen_t len = (socklen_t)atoi(argv[7]);
	struct sockaddr_storage ss, first;
	struct iovec iov = {.iov_base = "x", .iov_len = 1};
	struct msghdr msg = {.msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
	struct mmsghdr mm[2];
	struct uring_arg u;
	int fd, r;

	make_sa((unsigned char *)&ss, argv[4], argv[5], port);
	fd = open_socket(family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	u = (struct uring_arg){.fd = fd, .sa = (struct sockaddr *)&ss, .len = len, .msg = &msg};
	if (strcmp(op, "connect") == 0) {
		r = connect(fd, (struct sockaddr *)&ss, len);
		return reached(r, errno, "connect");
	}
	if (strcmp(op, "bind") == 0)
		return bind(fd, (struct sockaddr *)&ss, len) ? fail("bind", errno) : 0;
	if (strcmp(op, "sendto") == 0) {
		r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, len);
		return reached(r, errno, "sendto");
	}
	if (strcmp(op, "sendmsg") == 0) {
		r = (int)sendmsg(fd, &msg, 0);
		return reached(r, errno, "sendmsg");
	}
	if (strcmp(op, "sendmmsg") == 0 || strcmp(op, "sendmmsg2") == 0) {
		int two = op[8] == '2';

		memset(mm, 0, sizeof(mm));
		mm[0].msg_hdr = msg;
		mm[1].msg_hdr = msg;
		if (two) {
			make_sa((unsigned char *)&first, "inet", "127.0.0.1", port);
			mm[0].msg_hdr.msg_name = &first;
			mm[0].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
		}
		r = sendmmsg(fd, mm, two ? 2 : 1, 0);
		int err = errno;

		printf("sent %d\n", r);
		return reached(r, err, "sendmmsg");
	}
	if (strcmp(op, "uring-connect") == 0)
		return uring_run(prep_connect, &u, "io_uring connect");
	if (strcmp(op, "uring-sendmsg") == 0)
		return uring_run(prep_sendmsg, &u, "io_uring sendmsg");
	return 2;
}

/* socket()'s arguments by name: DOMAIN TYPE PROTO at argv[0..2] (numbers pass through). */
static const char *const doms[] = {"inet", "inet6", "packet", "vsock", "rds", "rxrpc", "smc", NULL};
static const int dom_vals[] = {AF_INET, AF_INET6, AF_PACKET, AF_VSOCK, AF_RDS, AF_RXRPC, AF_SMC};
static const char *const types[] = {"stream", "dgram", "raw", "seqpacket", NULL};
static const int type_vals[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET};
static const char *const protos[] = {"icmp", "icmpv6", "mptcp", "sctp", "udplite", NULL};
static const int proto_vals[] = {IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MPTCP, IPPROTO_SCTP,
                                 IPPROTO_UDPLITE};

static int cmd_socket(char **argv)
{
	int fd = socket(name_of(argv[2], doms, dom_vals), name_of(argv[3], types, type_vals),
	                name_of(argv[4], protos, proto_vals));

	if (fd < 0)
		return fail("socket", errno);
	close(fd);
	return 0;
}

/* The socket of cmd_socket's arguments, used: the network section decides kinds at use. */
static int cmd_use(char **argv)
{
	int dom = name_of(argv[2], doms, dom_vals), type = name_of(argv[3], types, type_vals);
	int proto = name_of(argv[4], protos, proto_vals), fd = socket(dom, type, proto), r;
	const char *op = argv[5];
	struct sockaddr_storage ss = {0};
	socklen_t len;
	/* ICMP and ICMPv6 echo request (type 8 or 128), id and checksum left to the kernel */
	unsigned char echo[8] = {proto == IPPROTO_ICMPV6 ? 128 : 8};

	if (fd < 0)
		return fail("socket", errno);
	if (dom == AF_INET || dom == AF_RDS || dom == AF_SMC) {
		/* RDS and SMC take IPv4 addresses: struct sockaddr_in, family AF_INET */
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(strcmp(op, "bind") ? 9 : 0);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else if (dom == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(strcmp(op, "bind") ? 9 : 0);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else if (dom == AF_RXRPC) {
		/* the peer's service on a UDP transport at loopback port 9 */
		struct sockaddr_rxrpc *rx = (struct sockaddr_rxrpc *)&ss;

		rx->srx_family = AF_RXRPC;
		rx->srx_service = 1;
		rx->transport_type = SOCK_DGRAM;
		rx->transport_len = sizeof(rx->transport.sin);
		rx->transport.sin.sin_family = AF_INET;
		rx->transport.sin.sin_port = htons(9);
		rx->transport.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*rx);
	} else {
		/* struct sockaddr_vm: family, reserved, port, cid */
		unsigned int *vm = (unsigned int *)&ss;

		ss.ss_family = (sa_family_t)dom;
		vm[1] = 9;
		vm[2] = 1; /* VMADDR_CID_LOCAL */
		len = 16;
	}
	if (!strcmp(op, "connect"))
		r = connect(fd, (struct sockaddr *)&ss, len);
	else if (!strcmp(op, "bind"))
		r = bind(fd, (struct sockaddr *)&ss, len);
	else if (!strcmp(op, "listen"))
		r = listen(fd, 1);
	else if (!strcmp(op, "connectx")) /* SOL_SCTP, SCTP_SOCKOPT_CONNECTX */
		r = setsockopt(fd, IPPROTO_SCTP, 110, &ss, len);
	else if (!strcmp(op, "sendto"))
		r = (int)sendto(fd, echo, sizeof(echo), MSG_DONTWAIT, (struct sockaddr *)&ss, len);
	else
		return 2;
	return reached(r, errno, op);
}

/* setsockopt(TCP_ULP, "smc") swaps in an SMC socket (ENOENT without the module). */
static int cmd_ulp_smc_connect(void)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(9)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	if (fd < 0)
		return fail("socket", errno);
	if (setsockopt(fd, IPPROTO_TCP, 31 /* TCP_ULP */, "smc", 3) < 0)
		return fail("setsockopt TCP_ULP smc", errno);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&in, sizeof(in));
	return reached(r, errno, "connect");
}

static unsigned short ip_csum(const void *p, int n)
{
	const unsigned short *w = p;
	unsigned int s = 0;

	for (; n > 1; n -= 2)
		s += *w++;
	s = (s >> 16) + (s & 0xffff);
	return (unsigned short)~(s + (s >> 16));
}

/* The route: the header's destination is denied, msg_name names an allowed host. */
static int cmd_hdrincl(char **argv)
{
	unsigned char pkt[sizeof(struct iphdr) + 8] = {0};
	struct iphdr *ip = (struct iphdr *)pkt;
	struct sockaddr_in name = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW), one = 1;

	if (fd < 0)
		return fail("socket", errno);
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	inet_pton(AF_INET, argv[2], &name.sin_addr);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(sizeof(pkt));
	inet_pton(AF_INET, argv[3], &ip->daddr);
	ip->check = ip_csum(ip, sizeof(*ip));
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&name, sizeof(name)) < 0)
		return fail("sendto", errno);
	return 0;
}

static int cmd_packet(void)
{
	unsigned char frame[ETH_ZLEN] = {0};
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (fd < 0)
		return fail("socket", errno);
	ll.sll_ifindex = (int)if_nametoindex("lo");
	ll.sll_halen = ETH_ALEN;
	frame[12] = 0x08; /* ethertype IPv4 */
	if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return fail("sendto", errno);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8)
		return cmd_addr(argv);
	if (argc == 5 && strcmp(argv[1], "socket") == 0)
		return cmd_socket(argv);
	if (argc == 6 && strcmp(argv[1], "use") == 0)
		return cmd_use(argv);
	if (argc == 4 && strcmp(argv[1], "hdrincl") == 0)
		return cmd_hdrincl(argv);
	if (argc == 2 && strcmp(argv[1], "packet") == 0)
		return cmd_packet();
	if (argc == 2 && strcmp(argv[1], "ulp-smc-connect") == 0)
		return cmd_ulp_smc_connect();
	fprintf(stderr, "usage: see tests/vm/progs/netprobe.c\n");
	return 2;
}
