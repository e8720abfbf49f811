/* Unit tests of bpf/sockaddr.h: every length and family the 6.1 kernel accepts and refuses. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bpf/sockaddr.h"

#define TCP    SOCK_STREAM, IPPROTO_TCP
#define UDP    SOCK_DGRAM, IPPROTO_UDP
#define RAW    SOCK_RAW, IPPROTO_RAW
#define PING4  SOCK_DGRAM, IPPROTO_ICMP
#define PING6  SOCK_DGRAM, IPPROTO_ICMPV6
#define CONN   VSA_OP_CONNECT
#define BIND   VSA_OP_BIND
#define SEND   VSA_OP_SENDMSG
#define ADDR   VSA_ADDR
#define NONE   VSA_NONE
#define REFUSE VSA_REFUSED

/* A sockaddr buffer as the BPF side copies it: VSA_COPY_LEN bytes, family and address set. */
static void sa_make(uint8_t *b, sa_family_t fam, const char *addr, uint16_t port)
{
	memset(b, 0, VSA_COPY_LEN);
	memcpy(b, &fam, sizeof(fam));
	b[2] = (uint8_t)(port >> 8);
	b[3] = (uint8_t)port;
	if (addr && strchr(addr, ':'))
		assert_int_equal(inet_pton(AF_INET6, addr, b + 8), 1);
	else if (addr)
		assert_int_equal(inet_pton(AF_INET, addr, b + 4), 1);
}

/*
 * One row: on a socket (family, type, proto), op with a sockaddr of family fam reads as
 * `below` for lengths 1 .. min-1 and as `from` for min .. 28.
 */
struct row {
	int sk_family, type, proto, op, fam;
	int below, min, from;
};

static const struct row rows[] = {
    /* IPv4 connect: AF_UNSPEC disconnects from 2 bytes on; AF_INET needs 16. */
    {AF_INET, TCP, CONN, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, UDP, CONN, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, RAW, CONN, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, PING4, CONN, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, TCP, CONN, AF_UNSPEC, REFUSE, 2, NONE},
    {AF_INET, UDP, CONN, AF_UNSPEC, REFUSE, 2, NONE},
    {AF_INET, TCP, CONN, AF_INET6, REFUSE, 2, REFUSE},
    {AF_INET, UDP, CONN, AF_INET6, REFUSE, 2, REFUSE},
    /* IPv4 bind: 16 bytes; AF_UNSPEC only with 0.0.0.0 (tested below); raw takes any family. */
    {AF_INET, TCP, BIND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, UDP, BIND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, TCP, BIND, AF_INET6, REFUSE, 16, REFUSE},
    {AF_INET, RAW, BIND, AF_INET6, REFUSE, 16, ADDR},
    {AF_INET, RAW, BIND, AF_INET, REFUSE, 16, ADDR},
    /* IPv4 sendmsg: UDP and raw read AF_UNSPEC as AF_INET, ping refuses it; TCP ignores the
     * name unless it is a fast-open connect address. */
    {AF_INET, UDP, SEND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, UDP, SEND, AF_UNSPEC, REFUSE, 16, ADDR},
    {AF_INET, UDP, SEND, AF_INET6, REFUSE, 16, REFUSE},
    {AF_INET, RAW, SEND, AF_UNSPEC, REFUSE, 16, ADDR},
    {AF_INET, RAW, SEND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, PING4, SEND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET, PING4, SEND, AF_UNSPEC, REFUSE, 16, REFUSE},
    {AF_INET, TCP, SEND, AF_INET, NONE, 16, ADDR},
    {AF_INET, TCP, SEND, AF_UNSPEC, NONE, 2, NONE},
    {AF_INET, TCP, SEND, AF_INET6, NONE, 16, NONE},
    /* IPv6 connect: 24 bytes (SIN6_LEN_RFC2133) suffice; UDP takes an AF_INET address. */
    {AF_INET6, TCP, CONN, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, UDP, CONN, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, RAW, CONN, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, PING6, CONN, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, TCP, CONN, AF_UNSPEC, REFUSE, 2, NONE},
    {AF_INET6, UDP, CONN, AF_UNSPEC, REFUSE, 2, NONE},
    {AF_INET6, UDP, CONN, AF_INET, REFUSE, 16, ADDR},
    {AF_INET6, TCP, CONN, AF_INET, REFUSE, 2, REFUSE},
    {AF_INET6, RAW, CONN, AF_INET, REFUSE, 2, REFUSE},
    {AF_INET6, PING6, CONN, AF_INET, REFUSE, 2, REFUSE},
    /* IPv6 bind: 24 bytes, AF_INET6 only. */
    {AF_INET6, TCP, BIND, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, UDP, BIND, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, RAW, BIND, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, UDP, BIND, AF_INET, REFUSE, 24, REFUSE},
    {AF_INET6, UDP, BIND, AF_UNSPEC, REFUSE, 24, REFUSE},
    /* IPv6 sendmsg. */
    {AF_INET6, UDP, SEND, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, UDP, SEND, AF_INET, REFUSE, 16, ADDR},
    {AF_INET6, UDP, SEND, AF_UNSPEC, REFUSE, 2, NONE},
    {AF_INET6, UDP, SEND, AF_PACKET, REFUSE, 2, REFUSE},
    {AF_INET6, RAW, SEND, AF_INET6, REFUSE, 24, ADDR},
    {AF_INET6, RAW, SEND, AF_UNSPEC, REFUSE, 24, ADDR},
    {AF_INET6, RAW, SEND, AF_INET, REFUSE, 24, REFUSE},
    {AF_INET6, PING6, SEND, AF_INET6, REFUSE, 28, ADDR},
    {AF_INET6, PING6, SEND, AF_UNSPEC, REFUSE, 28, REFUSE},
    {AF_INET6, TCP, SEND, AF_INET6, NONE, 24, ADDR},
    {AF_INET6, TCP, SEND, AF_INET, NONE, 2, NONE},
};

static void test_lengths(void **state)
{
	struct vsa_addr a;
	uint8_t b[VSA_COPY_LEN];
	size_t i;
	int len, got, want;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		sa_make(b, (sa_family_t)r->fam,
		        r->fam == AF_INET6 ? "fd00::66" : (r->fam == AF_INET ? "10.1.0.66" : NULL),
		        80);
		if (r->fam == AF_UNSPEC && r->sk_family == AF_INET6)
			assert_int_equal(inet_pton(AF_INET6, "fd00::66", b + 8), 1);
		for (len = 1; len <= VSA_COPY_LEN; len++) {
			want = len < r->min ? r->below : r->from;
			got = vsa_read(b, len, r->sk_family, r->type, r->proto, r->op, &a);
			if (got != want)
				fail_msg("row %zu (sk %d type %d proto %d op %d fam %d) len %d: "
				         "%d, want "
				         "%d",
				         i, r->sk_family, r->type, r->proto, r->op, r->fam, len,
				         got, want);
		}
	}
}

/* No name at all: a send to the connected peer; a bind or connect the kernel refuses. */
static void test_empty(void **state)
{
	uint8_t b[VSA_COPY_LEN] = {0};
	struct vsa_addr a;

	(void)state;
	assert_int_equal(vsa_read(b, 0, AF_INET, UDP, SEND, &a), NONE);
	assert_int_equal(vsa_read(b, 0, AF_INET, RAW, SEND, &a), NONE);
	assert_int_equal(vsa_read(b, 0, AF_INET6, UDP, SEND, &a), NONE);
	assert_int_equal(vsa_read(b, 0, AF_INET6, PING6, SEND, &a), NONE);
	assert_int_equal(vsa_read(b, 0, AF_INET, TCP, CONN, &a), REFUSE);
	assert_int_equal(vsa_read(b, 0, AF_INET6, UDP, BIND, &a), REFUSE);
	assert_int_equal(vsa_read(b, -1, AF_INET6, UDP, CONN, &a), REFUSE);
	assert_int_equal(vsa_read(b, 16, AF_UNIX, SOCK_STREAM, 0, CONN, &a), VSA_UNKNOWN);
	assert_int_equal(vsa_read(b, 16, AF_PACKET, SOCK_RAW, 0, SEND, &a), VSA_UNKNOWN);
}

static void expect_addr(const uint8_t *b, int len, int sk, int type, int proto, int op, int family,
                        const char *addr, uint16_t port)
{
	uint8_t want[16] = {0};
	struct vsa_addr a;

	assert_int_equal(vsa_read(b, len, sk, type, proto, op, &a), ADDR);
	assert_int_equal(a.family, family);
	assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, addr, want), 1);
	assert_memory_equal(a.addr, want, 16);
	assert_int_equal(a.port, port);
}

static void test_addresses(void **state)
{
	uint8_t b[VSA_COPY_LEN];

	(void)state;
	sa_make(b, AF_INET, "10.1.0.66", 8443);
	expect_addr(b, 16, AF_INET, TCP, CONN, 4, "10.1.0.66", 8443);
	/* IPv6, 24 bytes: the length the attack used. */
	sa_make(b, AF_INET6, "fd00::66", 80);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 6, "fd00::66", 80);
	expect_addr(b, 28, AF_INET6, UDP, SEND, 6, "fd00::66", 80);
	/* IPv4-mapped, every operation and length: the IPv4 host. */
	sa_make(b, AF_INET6, "::ffff:127.0.0.2", 7001);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 4, "127.0.0.2", 7001);
	expect_addr(b, 28, AF_INET6, UDP, SEND, 4, "127.0.0.2", 7001);
	expect_addr(b, 24, AF_INET6, UDP, BIND, 4, "127.0.0.2", 7001);
	expect_addr(b, 24, AF_INET6, RAW, SEND, 4, "127.0.0.2", 7001);
	/* Only ::ffff:0:0/96 is mapped: IPv4-compatible and SIIT forms stay IPv6. */
	sa_make(b, AF_INET6, "::127.0.0.1", 1);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 6, "::127.0.0.1", 1);
	sa_make(b, AF_INET6, "::ffff:0:127.0.0.1", 1);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 6, "::ffff:0:127.0.0.1", 1);
	/* An IPv4 address on an IPv6 UDP socket is an IPv4 connect or send. */
	sa_make(b, AF_INET, "10.2.0.9", 53);
	expect_addr(b, 16, AF_INET6, UDP, CONN, 4, "10.2.0.9", 53);
	expect_addr(b, 16, AF_INET6, UDP, SEND, 4, "10.2.0.9", 53);
	/* AF_UNSPEC on a UDP send is AF_INET; on a bind, with 0.0.0.0 only. */
	sa_make(b, AF_UNSPEC, "10.2.0.9", 53);
	b[4] = 10, b[5] = 2, b[6] = 0, b[7] = 9;
	expect_addr(b, 16, AF_INET, UDP, SEND, 4, "10.2.0.9", 53);
	assert_int_equal(vsa_read(b, 16, AF_INET, UDP, BIND, &(struct vsa_addr){0}), REFUSE);
	expect_addr(b, 16, AF_INET, RAW, BIND, 4, "10.2.0.9", 53);
	sa_make(b, AF_UNSPEC, NULL, 8000);
	expect_addr(b, 16, AF_INET, UDP, BIND, 4, "0.0.0.0", 8000);
	/* Unspecified destinations reach the local host; an unspecified bind is every address. */
	sa_make(b, AF_INET, "0.0.0.0", 80);
	expect_addr(b, 16, AF_INET, TCP, CONN, 4, "127.0.0.1", 80);
	expect_addr(b, 16, AF_INET, UDP, SEND, 4, "127.0.0.1", 80);
	expect_addr(b, 16, AF_INET, TCP, BIND, 4, "0.0.0.0", 80);
	sa_make(b, AF_INET6, "::", 80);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 6, "::1", 80);
	expect_addr(b, 24, AF_INET6, UDP, BIND, 6, "::", 80);
	sa_make(b, AF_INET6, "::ffff:0.0.0.0", 80);
	expect_addr(b, 24, AF_INET6, TCP, CONN, 4, "127.0.0.1", 80);
}

/* One answer of the IPv4 fast path, on the first eight bytes of b loaded as the BPF side loads
 * them (the family even when len < 2: the fast path itself must ignore it). */
static int fast4(const uint8_t *b, int len, int type, int proto, int op, struct vsa_addr *a)
{
	uint16_t fam, port_raw;
	uint32_t addr_raw, addr_out = 0xdeadbeef;
	uint16_t port_out = 0xbeef;
	int res;

	memcpy(&fam, b, 2);
	memcpy(&port_raw, b + 2, 2);
	memcpy(&addr_raw, b + 4, 4);
	res = vsa_read4_fields(len, fam, port_raw, addr_raw, type, proto, op, &addr_out, &port_out);
	memset(a, 0, sizeof(*a));
	if (res == VSA_ADDR) {
		a->family = 4;
		memcpy(a->addr, &addr_out, 4);
		a->port = port_out;
	} else {
		/* Nothing is written unless the address is decided. */
		assert_int_equal(addr_out, 0xdeadbeef);
		assert_int_equal(port_out, 0xbeef);
	}
	return res;
}

/*
 * The IPv4 fast path (vsa_read4_fields, on three loads) gives vsa_read's answer, address and
 * port on an AF_INET socket for every length from -1 to 28, every family the kernel treats
 * differently (and a few it refuses), every socket kind and operation, and address classes
 * (unspecified, loopback, other), with junk past the sockaddr_in.
 */
static void test_fast4(void **state)
{
	static const int fams[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX, 0x0200, 0xffff};
	static const char *addrs[] = {"0.0.0.0",         "127.0.0.1", "10.1.0.66",
	                              "255.255.255.255", "0.0.0.1",   "1.0.0.0"};
	static const int kinds[][2] = {{TCP},
	                               {UDP},
	                               {RAW},
	                               {PING4},
	                               {SOCK_STREAM, 262},
	                               {SOCK_DGRAM, IPPROTO_UDPLITE},
	                               {SOCK_RAW, IPPROTO_ICMP}};
	static const int ops[] = {CONN, BIND, SEND};
	struct vsa_addr want, got;
	uint8_t b[VSA_COPY_LEN];
	size_t f, ad, k, o;
	int len, rw, rg, n = 0;

	(void)state;
	for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++)
		for (ad = 0; ad < sizeof(addrs) / sizeof(addrs[0]); ad++)
			for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
				for (o = 0; o < sizeof(ops) / sizeof(ops[0]); o++)
					for (len = -1; len <= VSA_COPY_LEN; len++) {
						sa_make(b, (sa_family_t)fams[f], addrs[ad], 8443);
						memset(b + 8, 0xa5, VSA_COPY_LEN - 8);
						memset(&want, 0, sizeof(want));
						rw = vsa_read(b, len, AF_INET, kinds[k][0],
						              kinds[k][1], ops[o], &want);
						rg = fast4(b, len, kinds[k][0], kinds[k][1], ops[o],
						           &got);
						if (rw != rg ||
						    (rw == VSA_ADDR &&
						     (memcmp(&want, &got, sizeof(got)) != 0)))
							fail_msg("fam %#x addr %s type %d proto %d "
							         "op %d len "
							         "%d: fast %d, reader %d",
							         fams[f], addrs[ad], kinds[k][0],
							         kinds[k][1], ops[o], len, rg, rw);
						n += rw == VSA_ADDR;
					}
	/* The comparison covered decided addresses, not only refusals. */
	assert_true(n > 1000);
}

/* The fast path's own answers, stated: the hot cases and the rewrites. */
static void test_fast4_cases(void **state)
{
	uint8_t b[VSA_COPY_LEN];
	struct vsa_addr a;
	uint8_t lo[4] = {127, 0, 0, 1}, ten[4] = {10, 1, 0, 66}, zero[4] = {0};

	(void)state;
	sa_make(b, AF_INET, "10.1.0.66", 8443);
	assert_int_equal(fast4(b, 16, TCP, CONN, &a), ADDR);
	assert_memory_equal(a.addr, ten, 4);
	assert_int_equal(a.port, 8443);
	assert_int_equal(fast4(b, 15, TCP, CONN, &a), REFUSE);
	assert_int_equal(fast4(b, 1, TCP, CONN, &a), REFUSE);
	assert_int_equal(fast4(b, 0, UDP, SEND, &a), NONE);
	sa_make(b, AF_INET, "0.0.0.0", 80);
	assert_int_equal(fast4(b, 16, TCP, CONN, &a), ADDR);
	assert_memory_equal(a.addr, lo, 4);
	assert_int_equal(fast4(b, 16, TCP, BIND, &a), ADDR);
	assert_memory_equal(a.addr, zero, 4);
	sa_make(b, AF_UNSPEC, "10.1.0.66", 53);
	assert_int_equal(fast4(b, 16, TCP, CONN, &a), NONE);
	assert_int_equal(fast4(b, 16, UDP, BIND, &a), REFUSE);
	assert_int_equal(fast4(b, 16, UDP, SEND, &a), ADDR);
	assert_memory_equal(a.addr, ten, 4);
	assert_int_equal(fast4(b, 16, PING4, SEND, &a), REFUSE);
	sa_make(b, AF_INET6, "10.1.0.66", 53);
	assert_int_equal(fast4(b, 28, TCP, CONN, &a), REFUSE);
	assert_int_equal(fast4(b, 28, RAW, BIND, &a), ADDR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),     cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_addresses),   cmocka_unit_test(test_fast4),
	    cmocka_unit_test(test_fast4_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
