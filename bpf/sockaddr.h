/* One reading of a socket address, as Linux 6.1's inet code reads it; for BPF and user space. */
#ifndef VIGIL_SOCKADDR_H
#define VIGIL_SOCKADDR_H

/*
 * The LSM hooks run before the protocol code looks at the address, so a check that reads it
 * differently from the kernel (a shorter IPv6 length, AF_UNSPEC, an AF_INET address on an IPv6
 * socket) decides about another destination than the one reached. vsa_read() mirrors, per
 * socket family, type and operation, what net/ipv4/af_inet.c, udp.c, raw.c, ping.c,
 * tcp_ipv4.c, datagram.c and their ipv6/ counterparts (6.1) accept:
 *
 * IPv4 socket:
 *   connect  len < 2: EINVAL; AF_UNSPEC: disconnect; len < 16: EINVAL; not AF_INET: EAFNOSUPPORT
 *   bind     len < 16: EINVAL; AF_INET; AF_UNSPEC only with 0.0.0.0 (raw: any family)
 *   sendmsg  no name: the connected peer; len < 16: EINVAL; AF_INET; AF_UNSPEC as AF_INET
 *            (UDP, raw), EAFNOSUPPORT (ping); TCP reads it only for fast open (as connect)
 * IPv6 socket:
 *   connect  len < 2: EINVAL; AF_UNSPEC: disconnect; UDP: AF_INET is an IPv4 connect;
 *            len < 24 (SIN6_LEN_RFC2133, no scope id): EINVAL; not AF_INET6: EAFNOSUPPORT
 *   bind     len < 24: EINVAL; not AF_INET6: EAFNOSUPPORT (raw: EINVAL)
 *   sendmsg  UDP: len < 2 EINVAL, AF_INET an IPv4 send, AF_UNSPEC the connected peer, AF_INET6
 *            from len 24; raw: len >= 24, family 0 or AF_INET6; ping: len >= 28, AF_INET6
 * Both: ::ffff:a.b.c.d is the IPv4 host a.b.c.d; a connect or send to 0.0.0.0 or :: reaches
 * the local host (the kernel routes it to loopback), so it is read as 127.0.0.1 or ::1.
 */

#ifndef __VIGIL_BPF__
#include <linux/types.h>
#define VSA_INLINE static inline
#else
#define VSA_INLINE static __always_inline
#endif

#define VSA_AF_UNSPEC      0
#define VSA_AF_INET        2
#define VSA_AF_INET6       10
#define VSA_SOCK_STREAM    1
#define VSA_SOCK_DGRAM     2
#define VSA_SOCK_RAW       3
#define VSA_IPPROTO_ICMP   1
#define VSA_IPPROTO_ICMPV6 58
#define VSA_SIN_LEN        16
#define VSA_SIN6_LEN_RFC   24 /* sockaddr_in6 without sin6_scope_id */
#define VSA_SIN6_LEN       28
#define VSA_COPY_LEN       28 /* bytes vsa_read may look at */

/* Operations; the same numbers as enum vigil_net_op. */
#define VSA_OP_CONNECT 0
#define VSA_OP_BIND    1
#define VSA_OP_SENDMSG 3

enum vsa_result {
	VSA_ADDR = 0,    /* the kernel uses this address: decide it */
	VSA_NONE = 1,    /* no new destination: a disconnect, or a send to the connected peer */
	VSA_REFUSED = 2, /* the kernel refuses it (length, family) */
	VSA_UNKNOWN = 3, /* a socket family this reader does not model */
};

struct vsa_addr {
	__u8 family; /* 4 (IPv4 and IPv4-mapped IPv6) or 6 */
	__u8 addr[16];
	__u16 port; /* host order */
};

VSA_INLINE __u16 vsa_be16(const __u8 *b)
{
	return (__u16)(b[0] << 8 | b[1]);
}

/* sockaddr_in at b (len already checked): port, address; 0.0.0.0 as a destination is local. */
VSA_INLINE int vsa_in4(const __u8 *b, int dest, struct vsa_addr *a)
{
	int i;

	a->family = 4;
	a->port = vsa_be16(b + 2);
	for (i = 0; i < 16; i++)
		a->addr[i] = i < 4 ? b[4 + i] : 0;
	if (dest && !(b[4] | b[5] | b[6] | b[7])) {
		a->addr[0] = 127;
		a->addr[3] = 1;
	}
	return VSA_ADDR;
}

/* sockaddr_in6 at b (len >= 24 checked): ::ffff:a.b.c.d is IPv4; :: as a destination is ::1. */
VSA_INLINE int vsa_in6(const __u8 *b, int dest, struct vsa_addr *a)
{
	const __u8 *s = b + 8;
	__u8 any = 0, zero10 = 0;
	int i;

	a->port = vsa_be16(b + 2);
	for (i = 0; i < 10; i++)
		zero10 |= s[i];
	if (!zero10 && s[10] == 0xff && s[11] == 0xff) {
		a->family = 4;
		for (i = 0; i < 16; i++)
			a->addr[i] = i < 4 ? s[12 + i] : 0;
		if (dest && !(s[12] | s[13] | s[14] | s[15])) {
			a->addr[0] = 127; /* ::ffff:0.0.0.0 is an IPv4 connect to 0.0.0.0 */
			a->addr[3] = 1;
		}
		return VSA_ADDR;
	}
	a->family = 6;
	for (i = 0; i < 16; i++) {
		a->addr[i] = s[i];
		any |= s[i];
	}
	if (dest && !any)
		a->addr[15] = 1;
	return VSA_ADDR;
}

/*
 * vsa_read4's answer from the only fields it depends on: the length, the family (0xffff when
 * shorter than sa_family_t) and whether the address (bytes 4-7) is 0.0.0.0. For VSA_ADDR, *dest
 * tells whether the address is a destination (0.0.0.0 then reads as 127.0.0.1). The BPF side's
 * IPv4 fast path calls this on three direct loads instead of copying the sockaddr.
 */
VSA_INLINE int vsa_judge4(int len, __u16 fam, int zero4, int type, int proto, int op, int *dest)
{
	if (len < 0)
		return VSA_REFUSED;
	*dest = 1;
	if (op == VSA_OP_BIND) {
		*dest = 0;
		if (len < VSA_SIN_LEN)
			return VSA_REFUSED;
		if (fam == VSA_AF_INET || type == VSA_SOCK_RAW || (fam == VSA_AF_UNSPEC && zero4))
			return VSA_ADDR;
		return VSA_REFUSED;
	}
	if (op == VSA_OP_SENDMSG && type != VSA_SOCK_STREAM) {
		if (len == 0)
			return VSA_NONE;
		if (len < VSA_SIN_LEN)
			return VSA_REFUSED;
		if (fam == VSA_AF_INET || (fam == VSA_AF_UNSPEC &&
		                           !(type == VSA_SOCK_DGRAM && proto == VSA_IPPROTO_ICMP)))
			return VSA_ADDR;
		return VSA_REFUSED;
	}
	/* connect, and a TCP send's name (used only by fast open, which connects with it) */
	if (len < 2)
		return op == VSA_OP_SENDMSG ? VSA_NONE : VSA_REFUSED;
	if (fam == VSA_AF_UNSPEC)
		return VSA_NONE;
	if (len < VSA_SIN_LEN || fam != VSA_AF_INET)
		return op == VSA_OP_SENDMSG ? VSA_NONE : VSA_REFUSED;
	return VSA_ADDR;
}

VSA_INLINE int vsa_read4(const __u8 *b, int len, __u16 fam, int type, int proto, int op,
                         struct vsa_addr *a)
{
	int dest = 0,
	    res = vsa_judge4(len, fam, !(b[4] | b[5] | b[6] | b[7]), type, proto, op, &dest);

	return res == VSA_ADDR ? vsa_in4(b, dest, a) : res;
}

/*
 * The IPv4-socket fast path: vsa_read's answer for an AF_INET socket from the sockaddr's first
 * eight bytes as loaded from memory: fam (ignored when len < 2), port_raw and addr_raw (network
 * order, as stored). For VSA_ADDR, *addr_out is the address decided (network order, 0.0.0.0 as
 * a destination read as 127.0.0.1) and *port_out the port in host order. Three loads and no
 * copy; tests/unit/test_sockaddr.c checks it against vsa_read on every length, family,
 * socket type, operation and address class.
 */
VSA_INLINE int vsa_read4_fields(int len, __u16 fam, __u16 port_raw, __u32 addr_raw, int type,
                                int proto, int op, __u32 *addr_out, __u16 *port_out)
{
	const __u8 loopback[4] = {127, 0, 0, 1};
	__u8 p[2];
	int dest = 0, res;

	if (len < 2)
		fam = 0xffff;
	res = vsa_judge4(len, fam, addr_raw == 0, type, proto, op, &dest);
	if (res != VSA_ADDR)
		return res;
	if (dest && addr_raw == 0)
		__builtin_memcpy(&addr_raw, loopback, 4);
	*addr_out = addr_raw;
	__builtin_memcpy(p, &port_raw, 2);
	*port_out = vsa_be16(p);
	return VSA_ADDR;
}

VSA_INLINE int vsa_read6(const __u8 *b, int len, __u16 fam, int type, int proto, int op,
                         struct vsa_addr *a)
{
	int ping = type == VSA_SOCK_DGRAM && proto == VSA_IPPROTO_ICMPV6;
	int udp = type == VSA_SOCK_DGRAM && !ping;

	if (op == VSA_OP_BIND) {
		if (len < VSA_SIN6_LEN_RFC || fam != VSA_AF_INET6)
			return VSA_REFUSED;
		return vsa_in6(b, 0, a);
	}
	if (op == VSA_OP_SENDMSG && type != VSA_SOCK_STREAM) {
		if (len == 0)
			return VSA_NONE;
		if (udp) {
			if (len < 2)
				return VSA_REFUSED;
			if (fam == VSA_AF_UNSPEC)
				return VSA_NONE;
			if (fam == VSA_AF_INET)
				return len < VSA_SIN_LEN ? VSA_REFUSED : vsa_in4(b, 1, a);
			if (fam != VSA_AF_INET6 || len < VSA_SIN6_LEN_RFC)
				return VSA_REFUSED;
			return vsa_in6(b, 1, a);
		}
		if (ping)
			return len < VSA_SIN6_LEN || fam != VSA_AF_INET6 ? VSA_REFUSED
			                                                 : vsa_in6(b, 1, a);
		/* raw */
		if (len < VSA_SIN6_LEN_RFC || (fam != VSA_AF_UNSPEC && fam != VSA_AF_INET6))
			return VSA_REFUSED;
		return vsa_in6(b, 1, a);
	}
	/* connect, and a TCP send's name (fast open) */
	if (len < 2)
		return op == VSA_OP_SENDMSG ? VSA_NONE : VSA_REFUSED;
	if (fam == VSA_AF_UNSPEC)
		return VSA_NONE;
	if (udp && op == VSA_OP_CONNECT && fam == VSA_AF_INET)
		return len < VSA_SIN_LEN ? VSA_REFUSED : vsa_in4(b, 1, a);
	if (len < VSA_SIN6_LEN_RFC || fam != VSA_AF_INET6)
		return op == VSA_OP_SENDMSG ? VSA_NONE : VSA_REFUSED;
	return vsa_in6(b, 1, a);
}

/*
 * Reads the first VSA_COPY_LEN bytes at b (the caller copies that many, zero-filled past what
 * it has) as the kernel reads a sockaddr of len bytes for op on a socket of family sk_family
 * (AF_INET or AF_INET6), type and protocol. Only VSA_ADDR fills *a.
 */
VSA_INLINE int vsa_read(const __u8 *b, int len, int sk_family, int type, int proto, int op,
                        struct vsa_addr *a)
{
	__u16 fam = 0xffff; /* no family: shorter than sa_family_t */

	if (len >= 2)
		__builtin_memcpy(&fam, b, sizeof(fam));
	if (len < 0)
		return VSA_REFUSED;
	if (sk_family == VSA_AF_INET)
		return vsa_read4(b, len, fam, type, proto, op, a);
	if (sk_family == VSA_AF_INET6)
		return vsa_read6(b, len, fam, type, proto, op, a);
	return VSA_UNKNOWN;
}

#endif /* VIGIL_SOCKADDR_H */
