/* Network enforcement: connect, bind, listen and sendmsg with a destination, IPv4 and IPv6. */
#ifndef VIGIL_NET_BPF_H
#define VIGIL_NET_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include <bpf/bpf_endian.h>

#define AF_INET  2
#define AF_INET6 10

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

/* Reads a sockaddr the kernel already copied in, through copies; false if not inet. */
static __always_inline bool net_req_from_sockaddr(struct net_req *r, const void *sa, int len)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	__u16 family;

	if (!sa || len < (int)sizeof(family) ||
	    bpf_probe_read_kernel(&family, sizeof(family), sa) < 0)
		return false;
	if (family == AF_INET) {
		if (len < (int)sizeof(a4) || bpf_probe_read_kernel(&a4, sizeof(a4), sa) < 0)
			return false;
		r->key.family = 4;
		__builtin_memcpy(r->key.addr, &a4.sin_addr.s_addr, 4);
		r->port = bpf_ntohs(a4.sin_port);
		return true;
	}
	if (family != AF_INET6)
		return false;
	if (len < (int)sizeof(a6) || bpf_probe_read_kernel(&a6, sizeof(a6), sa) < 0)
		return false;
	r->port = bpf_ntohs(a6.sin6_port);
	/* ::ffff:a.b.c.d reaches an IPv4 host: the IPv4 rules decide. */
	if (a6.sin6_addr.in6_u.u6_addr32[0] == 0 && a6.sin6_addr.in6_u.u6_addr32[1] == 0 &&
	    a6.sin6_addr.in6_u.u6_addr32[2] == bpf_htonl(0xffff)) {
		r->key.family = 4;
		__builtin_memcpy(r->key.addr, &a6.sin6_addr.in6_u.u6_addr32[3], 4);
		return true;
	}
	r->key.family = 6;
	__builtin_memcpy(r->key.addr, &a6.sin6_addr, 16);
	return true;
}

/*
 * The same from the hook's own (typed) sockaddr argument: the family and an IPv4 address are
 * direct loads (connect runs this per call); an IPv6 address, longer than struct sockaddr, is
 * copied.
 */
static __always_inline bool net_req_from_sockaddr_btf(struct net_req *r, struct sockaddr *sa,
                                                      int len)
{
	__u16 family;

	if (!sa || len < (int)sizeof(family))
		return false;
	family = sa->sa_family;
	if (family == AF_INET) {
		/* sockaddr_in: sa_data holds the port (2 bytes) then the address (4 bytes). */
		if (len < (int)sizeof(struct sockaddr_in))
			return false;
		r->key.family = 4;
		r->key.addr[0] = sa->sa_data[2];
		r->key.addr[1] = sa->sa_data[3];
		r->key.addr[2] = sa->sa_data[4];
		r->key.addr[3] = sa->sa_data[5];
		r->port = (__u16)((__u8)sa->sa_data[0] << 8 | (__u8)sa->sa_data[1]);
		return true;
	}
	return family == AF_INET6 && net_req_from_sockaddr(r, sa, len);
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
static __always_inline void net_judge(const struct net_req *r, const struct vigil_policy_cfg *cfg,
                                      __u32 gen, struct decision *d)
{
	struct vigil_net_key key = r->key;
	struct vigil_net_val *val;
	int i;

	key.gen = gen;
	key.prefixlen = VIGIL_NET_KEY_HDR_BITS + (r->key.family == 4 ? 32 : 128);
	val = bpf_map_lookup_elem(&net_rules, &key);
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

static __always_inline int net_check(struct socket *sock, struct net_req *r)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	struct decision d;
	bool broken;
	__u32 gen;
	int err;

	cfg = governing_policy(VIGIL_CFG_NET_RULES, &gen, &broken);
	r->proto = sock->sk ? sock->sk->sk_protocol : 0;
	if (broken)
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	else if (!cfg)
		return 0;
	else
		net_judge(r, cfg, gen, &d);
	if (!d.log)
		return 0;
	if (cfg)
		decision_apply_mode(&d, cfg);
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	if (err)
		stat_inc(VIGIL_STAT_NET_DENY);
	e = decision_event(VIGIL_EV_NET, gen, cfg, &d, err, r->op);
	if (!e)
		return err;
	e->port = r->port;
	e->family = r->key.family;
	e->proto = r->proto;
	__builtin_memcpy(e->addr, r->key.addr, sizeof(e->addr));
	event_submit(e);
	return err;
}

static __always_inline int net_check_sockaddr(struct socket *sock, struct sockaddr *address,
                                              int addrlen, __u8 op)
{
	struct net_req r = {.op = op};

	if (!net_req_from_sockaddr_btf(&r, address, addrlen))
		return 0; /* AF_UNIX, AF_UNSPEC (disconnect), AF_NETLINK...: not network access */
	return net_check(sock, &r);
}

SEC("lsm/socket_connect")
int BPF_PROG(vigil_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen,
             int ret)
{
	if (ret)
		return ret;
	return net_check_sockaddr(sock, address, addrlen, VIGIL_NET_CONNECT);
}

SEC("lsm/socket_bind")
int BPF_PROG(vigil_socket_bind, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	return net_check_sockaddr(sock, address, addrlen, VIGIL_NET_BIND);
}

SEC("lsm/socket_listen")
int BPF_PROG(vigil_socket_listen, struct socket *sock, int backlog, int ret)
{
	struct net_req r = {.op = VIGIL_NET_LISTEN};

	if (ret)
		return ret;
	if (!net_req_from_local(&r, BPF_CORE_READ(sock, sk)))
		return 0;
	return net_check(sock, &r);
}

/*
 * An explicit destination (sendto, sendmsg with msg_name, TCP fast open) is checked like a
 * connect; without one the socket's connect was already checked.
 */
SEC("lsm/socket_sendmsg")
int BPF_PROG(vigil_socket_sendmsg, struct socket *sock, struct msghdr *msg, int size, int ret)
{
	struct net_req r = {.op = VIGIL_NET_SENDMSG};

	if (ret)
		return ret;
	/* msg_name is a void pointer: no type to load through, so copies. */
	if (!net_req_from_sockaddr(&r, BPF_CORE_READ(msg, msg_name),
	                           BPF_CORE_READ(msg, msg_namelen)))
		return 0;
	return net_check(sock, &r);
}

#endif /* VIGIL_NET_BPF_H */
