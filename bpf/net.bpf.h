/* Network enforcement: connect, bind, listen and sendmsg with a destination, IPv4 and IPv6. */
#ifndef VIGIL_NET_BPF_H
#define VIGIL_NET_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "sockaddr.h"
#include <bpf/bpf_endian.h>

#define AF_UNIX         1
#define AF_INET         2
#define AF_INET6        10
#define AF_NETLINK      16
#define AF_PACKET       17
#define AF_RDS          21
#define AF_RXRPC        33
#define AF_ALG          38
#define AF_SMC          43
#define IPPROTO_ICMPV6_ 58 /* not in vmlinux.h's enum */

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2 * VIGIL_MAX_NET_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_net_key);
	__type(value, struct vigil_net_val);
} net_rules SEC(".maps");

/* What one socket operation is about; filled from the sockaddr or the socket. */
struct net_req {
	struct vigil_net_key key;
	__u16 port;
	__u8 proto;
	__u8 op;
};

/*
 * sk_protocol is 16 bits, the rules' and events' protocol 8: a protocol above 255 reads as 255
 * (matched by "any" rules only), never as its low byte (MPTCP, 262, is not TCP, 6).
 */
static __always_inline __u8 net_proto8(__u32 proto)
{
	return proto > 255 ? 255 : (__u8)proto;
}

/* The socket's bound local address and port (for listen). */
static __always_inline bool net_req_from_local(struct net_req *r, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct in6_addr a6;
	__be32 a4;

	r->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (family == AF_INET) {
		a4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		r->key.family = 4;
		__builtin_memcpy(r->key.addr, &a4, 4);
		return true;
	}
	if (family != AF_INET6)
		return false;
	a6 = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
	if (a6.in6_u.u6_addr32[0] == 0 && a6.in6_u.u6_addr32[1] == 0 &&
	    a6.in6_u.u6_addr32[2] == bpf_htonl(0xffff)) {
		r->key.family = 4;
		__builtin_memcpy(r->key.addr, &a6.in6_u.u6_addr32[3], 4);
		return true;
	}
	r->key.family = 6;
	__builtin_memcpy(r->key.addr, &a6, 16);
	return true;
}

/* First rule in the longest matching prefix's list that covers op, protocol and port. */
static __always_inline void net_judge(struct net_req *r, const struct vigil_policy_cfg *cfg,
                                      __u32 gen, struct decision *d)
{
	struct vigil_net_val *val;
	int i;

	/* The lookup key is r's own (no copy): its address bytes are already in place. */
	r->key.gen = gen;
	r->key.prefixlen = VIGIL_NET_KEY_HDR_BITS + (r->key.family == 4 ? 32 : 128);
	val = bpf_map_lookup_elem(&net_rules, &r->key);
	if (val) {
		for (i = 0; i < VIGIL_NET_RULES_PER_PREFIX; i++) {
			struct vigil_net_rule *rule = &val->rules[i];

			if (i >= val->count)
				break;
			if (!(rule->ops & (1u << r->op)))
				continue;
			if (rule->proto != VIGIL_PROTO_ANY && rule->proto != r->proto)
				continue;
			if (r->port < rule->port_lo || r->port > rule->port_hi)
				continue;
			decision_from_action(d, rule->action, rule->rule_id, VIGIL_R_RULE);
			return;
		}
	}
	decision_from_action(d, cfg_default(cfg, VIGIL_CFG_NET_DEFAULT_SHIFT), 0, VIGIL_R_DEFAULT);
}

/* Logs (and for a deny, counts) a decision; without an address, dev and ino carry the socket's
 * family, type and protocol (NET_KIND_INO). */
static __always_inline int net_finish(const struct vigil_policy_cfg *cfg, __u32 gen,
                                      struct decision *d, const struct net_req *r, __u64 dev,
                                      __u64 ino)
{
	struct vigil_event *e;
	int err;

	if (!d->log)
		return 0;
	if (cfg)
		decision_apply_mode(d, cfg);
	err = d->verdict == VIGIL_DENY ? -EPERM : 0;
	if (err)
		stat_inc(VIGIL_STAT_NET_DENY);
	if (learning(cfg) && learn_repeat(gen, VIGIL_EV_NET, d, r->op, dev, ino,
	                                  r->key.family ? r->key.addr : NULL, r->port, r->proto))
		return lsm_ret(err);
	e = decision_event(VIGIL_EV_NET, gen, cfg, d, err, r->op);
	if (!e)
		return lsm_ret(err);
	e->port = r->port;
	e->family = r->key.family;
	e->proto = r->proto;
	e->dev = dev;
	e->ino = ino;
	/* A socket refused by its kind has no address; clang 14's BPF backend also drops the
	 * stores above when this copies from a constant-initialized net_req. */
	if (r->key.family)
		__builtin_memcpy(e->addr, r->key.addr, sizeof(e->addr));
	event_submit(e);
	return lsm_ret(err);
}

static __always_inline bool net_raw_allowed(const struct vigil_policy_cfg *cfg)
{
	return cfg->flags & VIGIL_CFG_NET_RAW;
}

/*
 * The general reader: the 28 bytes at sa copied, then vsa_read (IPv6, and sendmsg's name). A
 * subprogram of its own: its buffers stay off the callers' frames (sendmsg's five-deep call chain
 * is near the verifier's 512 bytes of stack).
 */
static __noinline int net_read_copy(const void *sa, int len, __u32 family_type, int proto,
                                    struct net_req *r)
{
	__u8 b[VSA_COPY_LEN] = {};
	struct vsa_addr a = {};
	int res;

	if (len > 0 && bpf_probe_read_kernel(b, sizeof(b), sa) < 0)
		return VSA_UNKNOWN;
	/* family_type: the socket's family, and its type above bit 16 (five arguments at most) */
	res = vsa_read(b, len, family_type & 0xffff, family_type >> 16, proto, r->op, &a);
	if (res == VSA_ADDR) {
		r->key.family = a.family;
		__builtin_memcpy(r->key.addr, a.addr, sizeof(a.addr));
		r->port = a.port;
	}
	return res;
}

enum net_kind {
	NET_KIND_OK = 0,    /* TCP, UDP and UDP-Lite over IPv4 or IPv6: the rules decide */
	NET_KIND_RAW,       /* raw, packet and ping sockets: the policy's "raw" */
	NET_KIND_TRANSPORT, /* SCTP, MPTCP, DCCP, SMC, RDS, RxRPC: traffic the hooks never see */
	NET_KIND_FAMILY,    /* a family the rules cannot name: the section's default */
};

/*
 * The kind of a socket in use, from what the kernel made of socket()'s arguments (a protocol 0
 * is TCP or UDP by now). AF_UNIX, AF_NETLINK and AF_ALG (local IPC and crypto) are the caller's
 * to leave out. Decided at use, not at socket(): a socket nobody connects, binds, listens on or
 * sends from reaches nothing, and the sockets that receive without any of these (raw IP and
 * packet sockets) need CAP_NET_RAW, which a network section that refuses raw sockets withdraws
 * (policies/policy_cap.c). socket() itself runs no vigil program: its LSM hook would cost every
 * socket() in the guest a trampoline (docs/BENCHMARKS.md).
 */
static __always_inline int net_sock_kind(__u16 family, __u32 type, __u16 proto)
{
	if (family == AF_INET || family == AF_INET6) {
		if (type == SOCK_STREAM)
			return proto == IPPROTO_TCP ? NET_KIND_OK : NET_KIND_TRANSPORT;
		if (type == SOCK_DGRAM) {
			if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
				return NET_KIND_OK;
			return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6_
			           ? NET_KIND_RAW
			           : NET_KIND_TRANSPORT;
		}
		/*
		 * SCTP (SOCK_SEQPACKET, or SOCK_STREAM above: connectx and bindx multihoming),
		 * MPTCP (subflows the path manager opens) and DCCP reach addresses the hooks
		 * never see: refused.
		 */
		return type == SOCK_RAW ? NET_KIND_RAW : NET_KIND_TRANSPORT;
	}
	/*
	 * Families that carry IP through sockets of the kernel's own: SMC (TCP underneath, and its
	 * fallback to TCP), RDS (over TCP to port 16385 of the peer's address) and RxRPC (over
	 * UDP). kernel_connect asks no LSM hook, and their sends run in kernel threads or carry no
	 * name, so no rule ever sees the destination: refused as the transports above, whatever
	 * the section's default. (SMC by IPPROTO_SMC on AF_INET, 6.11 on, is a transport above;
	 * the "smc" TCP ULP turns a socket into an AF_SMC one before its connect.)
	 */
	if (family == AF_SMC || family == AF_RDS || family == AF_RXRPC)
		return NET_KIND_TRANSPORT;
	return family == AF_PACKET ? NET_KIND_RAW : NET_KIND_FAMILY;
}

/*
 * The decision on a socket of kind (not NET_KIND_OK) into d; false when its addresses decide
 * instead (a ping socket where raw sockets are allowed).
 */
static __always_inline bool net_kind_decision(const struct vigil_policy_cfg *cfg, int kind,
                                              struct decision *d)
{
	if (kind == NET_KIND_RAW) {
		if (net_raw_allowed(cfg))
			return false;
		decision_from_action(d, VIGIL_ACT_DENY, 0, VIGIL_R_RAW_SOCKET);
	} else if (kind == NET_KIND_TRANSPORT) {
		decision_from_action(d, VIGIL_ACT_DENY, 0, VIGIL_R_SOCKET_KIND);
	} else {
		decision_from_action(d, cfg_default(cfg, VIGIL_CFG_NET_DEFAULT_SHIFT), 0,
		                     VIGIL_R_SOCKET_KIND);
	}
	return true;
}

/* A socket's family, type and protocol as a network event's dev and ino carry them. */
#define NET_KIND_INO(type, proto) ((__u64)(__u32)(type) | (__u64)(__u32)(proto) << 32)

/*
 * A socket operation with an address (connect, bind, sendmsg): the address is read exactly as
 * the protocol code will read it, for the socket's own family. connect and bind on an IPv4
 * socket (the hot case) take the fast path: family, port and address by three direct loads of
 * the hook's struct sockaddr, decided by vsa_read4_fields (the same rules as vsa_read), the
 * address written straight into the lookup key. Everything else is copied and read whole.
 */
static __always_inline int net_check_sockaddr(struct socket *sock, const void *sa,
                                              struct sockaddr *typed, int len, __u8 op)
{
	struct sock *sk = sock->sk;
	struct vigil_policy_cfg *cfg;
	struct net_req r = {.op = op};
	struct decision d = {};
	__u16 family, proto;
	bool broken;
	__u32 gen;
	int res, kind;

	if (!sk)
		return 0;
	family = sk->__sk_common.skc_family;
	if (family == AF_UNIX || family == AF_NETLINK || family == AF_ALG)
		return 0; /* local IPC and crypto: not network access */
	/* connect (the hot case): vigild's exemption tested below, before a refusal or an event
	 * only. Not for sendmsg: its stack with the later call is above the verifier's 512 bytes.
	 */
	if (op == VIGIL_NET_CONNECT)
		cfg = governing_policy_agent_later(VIGIL_CFG_NET_RULES, &gen, &broken);
	else
		cfg = governing_policy(VIGIL_CFG_NET_RULES, &gen, &broken);
	if (!cfg && !broken)
		return 0;
	proto = sk->sk_protocol;
	r.proto = proto > 255 ? 255 : (__u8)proto; /* MPTCP (262) must not read as TCP (6) */
	kind = net_sock_kind(family, sock->type, proto);
	if (broken) {
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	} else if (kind == NET_KIND_RAW && (family == AF_PACKET || sock->type == SOCK_RAW)) {
		/* A raw or packet socket (made where CAP_NET_RAW was granted, before the policy,
		 * or passed in): its header is its own, its addresses are not read. */
		if (net_raw_allowed(cfg))
			return 0;
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_RAW_SOCKET);
	} else if (kind != NET_KIND_OK && net_kind_decision(cfg, kind, &d)) {
		/* decided by its kind: no address read */
	} else {
		if (typed && family == AF_INET) {
			/* The hook's struct sockaddr read as the sockaddr_in it holds: the verifier
			 * checks these loads against struct sockaddr (offsets 0, 2 and 4 of its 16
			 * bytes: sa_family and sa_data), so no copy is needed. */
			struct sockaddr_in *in = (struct sockaddr_in *)typed;
			__u16 fam = in->sin_family;
			__u16 port = in->sin_port;
			__u32 a4 = in->sin_addr.s_addr;

			res = vsa_read4_fields(len, fam, port, a4, sock->type, proto, op, &a4,
			                       &r.port);
			if (res == VSA_ADDR) {
				r.key.family = 4;
				__builtin_memcpy(r.key.addr, &a4, 4);
			}
		} else {
			res = net_read_copy(sa, len, family | (__u32)sock->type << 16, proto, &r);
		}
		if (res == VSA_NONE)
			return 0; /* disconnect, or the connected peer, checked at connect */
		if (res == VSA_ADDR)
			net_judge(&r, cfg, gen, &d);
		else /* refused by the kernel or unreadable: fail closed rather than guess */
			decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_BAD_ADDR);
	}
	if (op == VIGIL_NET_CONNECT && d.log && is_agent())
		return 0;
	/* Without an address (refused by kind, or unreadable), the event names the socket. */
	if (r.key.family)
		return net_finish(cfg, gen, &d, &r, 0, 0);
	return net_finish(cfg, gen, &d, &r, family, NET_KIND_INO(sock->type, proto));
}

SEC("lsm/socket_connect")
int BPF_PROG(vigil_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
             int ret)
{
	if (ret)
		return ret;
	return net_check_sockaddr(sock, address, address, addrlen, VIGIL_NET_CONNECT);
}

SEC("lsm/socket_bind")
int BPF_PROG(vigil_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	return net_check_sockaddr(sock, address, address, addrlen, VIGIL_NET_BIND);
}

SEC("lsm/socket_listen")
int BPF_PROG(vigil_socket_listen, struct socket *sock, int backlog, int ret)
{
	struct net_req r = {.op = VIGIL_NET_LISTEN};
	struct vigil_policy_cfg *cfg;
	struct decision d = {};
	/* Read through the probe: 6.12's verifier types sock->sk as trusted-or-NULL. */
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family), proto;
	__u32 type = BPF_CORE_READ(sock, type);
	bool broken;
	__u32 gen;
	int kind;

	if (ret)
		return ret;
	if (family == AF_UNIX || family == AF_NETLINK || family == AF_ALG)
		return 0;
	proto = BPF_CORE_READ(sk, sk_protocol);
	kind = net_sock_kind(family, type, proto);
	cfg = governing_policy(VIGIL_CFG_NET_RULES, &gen, &broken);
	r.proto = net_proto8(proto);
	if (broken)
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	else if (!cfg)
		return 0;
	else if (kind != NET_KIND_OK && net_kind_decision(cfg, kind, &d))
		return net_finish(cfg, gen, &d, &r, family, NET_KIND_INO(type, proto));
	else if (net_req_from_local(&r, sk))
		net_judge(&r, cfg, gen, &d);
	else
		return 0;
	return net_finish(cfg, gen, &d, &r, 0, 0);
}

/*
 * An explicit destination (sendto, sendmsg with msg_name, sendmmsg, io_uring, TCP fast open)
 * is checked like a connect; without one the socket's connect was already checked.
 */
#define SOL_IPV6_            41
#define IPV6_2292RTHDR_      5
#define IPV6_2292PKTOPTIONS_ 6
#define IPV6_RTHDR_          57
#define NET_CMSG_MAX         16 /* control messages read per sendmsg; more: fail closed */

/*
 * An IPv6 routing header (segment routing type 4, Mobile IPv6 type 2) set on a socket or sent
 * with a datagram: the packet goes to the header's addresses, while connect/sendmsg saw the
 * final destination. No capability is needed for these (hop-by-hop and destination options
 * need CAP_NET_RAW, refused by default). Refused to the scope: reason socket_kind, op sendmsg,
 * the socket's family and transport.
 */
static __noinline int net_refuse_rthdr(struct socket *sock)
{
	struct net_req r = {.op = VIGIL_NET_SENDMSG};
	struct vigil_policy_cfg *cfg;
	struct decision d = {};
	bool broken;
	__u32 gen;

	cfg = governing_policy(VIGIL_CFG_SECTION_ALWAYS, &gen, &broken);
	if (!cfg && !broken)
		return 0;
	decision_from_action(&d, VIGIL_ACT_DENY, 0,
	                     broken ? VIGIL_R_NO_POLICY : VIGIL_R_SOCKET_KIND);
	r.key.family = 6;
	r.proto = net_proto8(BPF_CORE_READ(sock, sk, sk_protocol));
	return net_finish(cfg, gen, &d, &r, SOL_IPV6_, IPV6_RTHDR_);
}

SEC("lsm/socket_setsockopt")
int BPF_PROG(vigil_socket_setsockopt, struct socket *sock, int level, int optname, int ret)
{
	if (ret)
		return ret;
	if (level != SOL_IPV6_ || (optname != IPV6_RTHDR_ && optname != IPV6_2292RTHDR_ &&
	                           optname != IPV6_2292PKTOPTIONS_))
		return 0;
	return net_refuse_rthdr(sock);
}

/* True when the kernel copy of msg's control messages holds an IPv6 routing header (or more
 * messages than we read). */
static __noinline bool net_cmsg_rthdr(struct msghdr *msg)
{
	struct cmsghdr c;
	__u64 len = BPF_CORE_READ(msg, msg_controllen), off = 0;
	char *base = BPF_CORE_READ(msg, msg_control);
	int i;

	if (BPF_CORE_READ_BITFIELD_PROBED(msg, msg_control_is_user))
		return true; /* not the kernel copy sendmsg makes: cannot tell, fail closed */
	for (i = 0; i < NET_CMSG_MAX; i++) {
		if (off + sizeof(c) > len)
			return false;
		if (bpf_probe_read_kernel(&c, sizeof(c), base + off))
			return true;
		if (c.cmsg_len < sizeof(c) || c.cmsg_len > len - off)
			return false; /* the kernel stops here too (EINVAL) */
		if (c.cmsg_level == SOL_IPV6_ &&
		    (c.cmsg_type == IPV6_RTHDR_ || c.cmsg_type == IPV6_2292RTHDR_))
			return true;
		off += (c.cmsg_len + 7) & ~7ull;
	}
	return off < len;
}

SEC("lsm/socket_sendmsg")
int BPF_PROG(vigil_socket_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	void *name;

	if (ret)
		return ret;
	/* Control messages on an IPv6 socket: one load and a compare on every other sendmsg. The
	 * family is read through the probe: 6.12's verifier types sock->sk as trusted-or-NULL. */
	if (msg->msg_controllen && BPF_CORE_READ(sock, sk, __sk_common.skc_family) == AF_INET6 &&
	    net_cmsg_rthdr(msg)) {
		ret = net_refuse_rthdr(sock);
		if (ret)
			return ret;
	}
	name = msg->msg_name;
	return net_check_sockaddr(sock, name, NULL, name ? msg->msg_namelen : 0, VIGIL_NET_SENDMSG);
}

#define SCTP_SOCKOPT_BINDX_ADD_ 100

/*
 * SCTP's own routes to addresses: bindx and connectx (setsockopt, and getsockopt's CONNECTX3),
 * sendmsg's implicit connect and primary-address changes, which never pass socket_connect or
 * socket_bind. An SCTP socket is a transport the rules cannot express: refused to the scope
 * under a network section, as its connect, bind, listen and sendmsg are (net_sock_kind).
 */
SEC("lsm/sctp_bind_connect")
int BPF_PROG(vigil_sctp_bind_connect, struct sock *sk, int optname, struct sockaddr *address,
             int addrlen, int ret)
{
	struct net_req r = {.op = optname == SCTP_SOCKOPT_BINDX_ADD_ ? VIGIL_NET_BIND
	                                                             : VIGIL_NET_CONNECT};
	struct vigil_policy_cfg *cfg;
	struct decision d = {};
	bool broken;
	__u32 gen;
	__u16 family;

	if (ret)
		return ret;
	cfg = governing_policy(VIGIL_CFG_NET_RULES, &gen, &broken);
	if (!cfg && !broken)
		return 0;
	decision_from_action(&d, VIGIL_ACT_DENY, 0,
	                     broken ? VIGIL_R_NO_POLICY : VIGIL_R_SOCKET_KIND);
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r.proto = net_proto8(BPF_CORE_READ(sk, sk_protocol));
	return net_finish(cfg, gen, &d, &r, family,
	                  (__u64)BPF_CORE_READ(sk, sk_type) | (__u64)r.proto << 32);
}

#endif /* VIGIL_NET_BPF_H */
