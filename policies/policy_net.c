/* The "network" section of policy v1: CIDR, port and protocol rules, and their LPM compilation. */
#include "policies/policy_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const net_ops[] = {"connect", "bind", "listen", "sendmsg", NULL};
#define NET_ALL_OPS 0xfu

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* True when addr has no bit set past prefix (of bits bytes). */
static bool host_bits_clear(const uint8_t *addr, unsigned int prefix, unsigned int bits)
{
	unsigned int i;

	for (i = prefix; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* "a.b.c.d[/n]" or "ipv6[/n]"; ::ffff:a.b.c.d/n (n >= 96) becomes the IPv4 rule it means. */
static int parse_cidr(const char *s, struct policy_net_rule *rule)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	unsigned int bits;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	memset(rule->addr, 0, sizeof(rule->addr));
	if (inet_pton(AF_INET, buf, rule->addr) == 1) {
		rule->family = 4;
	} else if (inet_pton(AF_INET6, buf, rule->addr) == 1) {
		rule->family = 6;
	} else {
		return -EINVAL;
	}
	bits = rule->family == 4 ? 32 : 128;
	len = bits;
	if (slash) {
		if (!slash[1] || slash[1] == '+' || slash[1] == '-' || slash[1] == ' ')
			return -EINVAL;
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || *end || len > bits)
			return -EINVAL;
	}
	if (!host_bits_clear(rule->addr, (unsigned int)len, bits))
		return -EDOM;
	rule->prefix = (uint8_t)len;
	if (rule->family == 6 && len >= 96 && memcmp(rule->addr, mapped_prefix, 12) == 0) {
		memmove(rule->addr, rule->addr + 12, 4);
		memset(rule->addr + 4, 0, 12);
		rule->family = 4;
		rule->prefix = (uint8_t)(len - 96);
	}
	return 0;
}

static int parse_port(const char *s, uint16_t *ret)
{
	unsigned long v;
	char *end;

	if (!*s || !strchr("0123456789", *s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* "ports": 443, "443" or "1024-65535"; absent is every port. */
static int parse_ports(const vjson *obj, const char *origin, const char *where,
                       struct policy_net_rule *rule, struct policy_error *err)
{
	const vjson *v = vjson_object_get(obj, "ports");
	char buf[32], *dash;

	rule->port_lo = 0;
	rule->port_hi = 65535;
	if (!v)
		return 0;
	if (vjson_is_integer(v)) {
		if (vjson_integer_value(v) < 0 || vjson_integer_value(v) > 65535)
			goto bad;
		rule->port_lo = rule->port_hi = (uint16_t)vjson_integer_value(v);
		return 0;
	}
	if (!vjson_is_string(v) || vjson_string_length(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, vjson_string_value(v));
	dash = strchr(buf, '-');
	if (dash)
		*dash = 0;
	if (parse_port(buf, &rule->port_lo) < 0)
		goto bad;
	rule->port_hi = rule->port_lo;
	if (dash && parse_port(dash + 1, &rule->port_hi) < 0)
		goto bad;
	if (rule->port_lo > rule->port_hi)
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.ports: range '%s' is empty (low > high), rule '%s'",
		                     origin, where, vjson_string_value(v), rule->name);
	return 0;
bad:
	return policy_errorf(
	    err, -EINVAL,
	    "%s: %s.ports: expected a port 0-65535 or a range \"LOW-HIGH\", rule '%s'", origin,
	    where, rule->name);
}

static int parse_net_rule(struct policy *p, const vjson *v, size_t i, struct policy_error *err)
{
	static const char *const keys[] = {"name", "cidr",   "ports", "protocol",
	                                   "ops",  "action", NULL};
	struct policy_net_rule *rule = &p->net[i];
	const char *cidr, *proto;
	uint32_t ops;
	char where[64];
	int r;

	policy_where(where, sizeof(where), "network.rules", i);
	if (!vjson_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", p->origin, where);
	if ((r = policy_check_keys(v, keys, p->origin, where, err)) < 0 ||
	    (r = policy_get_string(v, "cidr", true, p->origin, where, &cidr, err)) < 0 ||
	    (r = policy_rule_name(v, cidr, p->origin, where, &rule->name, err)) < 0)
		return r;
	r = parse_cidr(cidr, rule);
	if (r < 0)
		return policy_errorf(err, -EINVAL, "%s: %s.cidr: '%s' is not %s, rule '%s'",
		                     p->origin, where, cidr,
		                     r == -EDOM ? "a network address (bits set past the prefix)"
		                                : "an IPv4 or IPv6 address with an optional /LEN",
		                     rule->name);
	if ((r = parse_ports(v, p->origin, where, rule, err)) < 0 ||
	    (r = policy_get_string(v, "protocol", false, p->origin, where, &proto, err)) < 0 ||
	    (r = policy_get_mask(v, "ops", net_ops, NET_ALL_OPS, p->origin, where, &ops, err)) <
	        0 ||
	    (r = policy_get_action(v, "action", true, p->origin, where, &rule->action, err)) < 0)
		return r;
	rule->ops = (uint8_t)ops;
	if (!proto || strcmp(proto, "any") == 0)
		rule->proto = POLICY_PROTO_ANY;
	else if (strcmp(proto, "tcp") == 0)
		rule->proto = IPPROTO_TCP;
	else if (strcmp(proto, "udp") == 0)
		rule->proto = IPPROTO_UDP;
	else
		return policy_errorf(
		    err, -EINVAL,
		    "%s: %s.protocol: '%s' is not a protocol (tcp | udp | any), rule '%s'",
		    p->origin, where, proto, rule->name);
	return 0;
}

int policy_parse_network(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"default", "raw", "rules", NULL};
	const vjson *net, *rules, *v;
	const char *raw;
	size_t i;
	int r;

	r = policy_section(root, "network", keys, p->origin, &net, err);
	if (r < 0 || !net)
		return r;
	p->net_default = POLICY_ACT_ALLOW;
	r = policy_get_action(net, "default", false, p->origin, "network", &p->net_default, err);
	if (r < 0 ||
	    (r = policy_get_string(net, "raw", false, p->origin, "network", &raw, err)) < 0)
		return r;
	/* Raw, packet and ping sockets write their own headers past every rule: off unless named.
	 */
	if (raw && strcmp(raw, "allow") != 0 && strcmp(raw, "deny") != 0)
		return policy_errorf(err, -EINVAL, "%s: network.raw: '%s' is not allow or deny",
		                     p->origin, raw);
	p->net_raw = raw && strcmp(raw, "allow") == 0;
	rules = vjson_object_get(net, "rules");
	if (!rules)
		return 0;
	if (!vjson_is_array(rules))
		return policy_errorf(err, -EINVAL, "%s: network.rules: expected an array",
		                     p->origin);
	p->net = calloc(vjson_array_size(rules) + 1, sizeof(*p->net));
	if (!p->net)
		return -ENOMEM;
	vjson_array_foreach(rules, i, v)
	{
		r = parse_net_rule(p, v, i, err);
		p->n_net = i + 1; /* so the partial rule is freed too */
		if (r < 0)
			return r;
	}
	return 0;
}

void policy_free_network(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n_net; i++)
		free(p->net[i].name);
	free(p->net);
}

/* Precedence, most specific first: longer prefix, narrower port range, a named protocol, fewer
 * operations; at equal specificity deny, then audit, then allow; then policy order. */
static const struct policy *sort_policy;

static int rule_cmp(const void *a, const void *b)
{
	const struct policy_net_rule *x = &sort_policy->net[*(const uint32_t *)a];
	const struct policy_net_rule *y = &sort_policy->net[*(const uint32_t *)b];
	static const int action_rank[] = {
	    [POLICY_ACT_DENY] = 0, [POLICY_ACT_AUDIT] = 1, [POLICY_ACT_ALLOW] = 2};

	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	if (x->port_hi - x->port_lo != y->port_hi - y->port_lo)
		return x->port_hi - x->port_lo < y->port_hi - y->port_lo ? -1 : 1;
	if ((x->proto == POLICY_PROTO_ANY) != (y->proto == POLICY_PROTO_ANY))
		return x->proto != POLICY_PROTO_ANY ? -1 : 1;
	if (__builtin_popcount(x->ops) != __builtin_popcount(y->ops))
		return __builtin_popcount(x->ops) < __builtin_popcount(y->ops) ? -1 : 1;
	if (action_rank[x->action] != action_rank[y->action])
		return action_rank[x->action] - action_rank[y->action];
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct policy_net_entry *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	if (x->prefix != y->prefix)
		return x->prefix - y->prefix;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void mask_addr(uint8_t *addr, unsigned int prefix)
{
	unsigned int i;

	for (i = prefix; i < 128; i++)
		addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

/* Appends the rules whose CIDR is exactly *cidr (rules sorted by CIDR, n of them) to e. */
static int add_rules_of(const struct policy *p, const struct policy_net_entry *sorted, size_t n,
                        const struct policy_net_entry *cidr, struct policy_net_entry *e, size_t max,
                        struct policy_error *err)
{
	const struct policy_net_entry *hit = bsearch(cidr, sorted, n, sizeof(*sorted), entry_cmp);
	size_t k;

	if (!hit)
		return 0;
	while (hit > sorted && entry_cmp(hit - 1, cidr) == 0)
		hit--;
	for (k = (size_t)(hit - sorted); k < n && entry_cmp(&sorted[k], cidr) == 0; k++) {
		uint32_t rule = sorted[k].rules[0];

		if (e->n_rules >= max)
			return policy_errorf(
			    err, -E2BIG,
			    "%s: network.rules[%u]: rule '%s': more than %zu rules "
			    "apply to one CIDR (its own and the CIDRs containing it)",
			    p->origin, rule, p->net[rule].name, max);
		e->rules[e->n_rules++] = rule;
	}
	return 0;
}

int policy_compile_net(const struct policy *p, size_t max, struct policy_net_entry **ret,
                       size_t *ret_n, struct policy_error *err)
{
	struct policy_net_entry *sorted, *e = NULL;
	bool lens[2][129] = {{false}};
	size_t n = 0, i, j;
	unsigned int len;
	int r = -ENOMEM;

	if (max > sizeof(e->rules) / sizeof(e->rules[0]))
		max = sizeof(e->rules) / sizeof(e->rules[0]);
	/* Every rule as a one-rule entry, sorted by CIDR: a lookup table from CIDR to rules. */
	sorted = calloc(p->n_net + 1, sizeof(*sorted));
	e = calloc(p->n_net + 1, sizeof(*e));
	if (!sorted || !e)
		goto fail;
	for (i = 0; i < p->n_net; i++) {
		memcpy(sorted[i].addr, p->net[i].addr, 16);
		sorted[i].family = p->net[i].family;
		sorted[i].prefix = p->net[i].prefix;
		sorted[i].rules[0] = (uint32_t)i;
		lens[p->net[i].family == 6][p->net[i].prefix] = true;
	}
	qsort(sorted, p->n_net, sizeof(*sorted), entry_cmp);
	for (i = 0; i < p->n_net; i++) {
		if (n && entry_cmp(&e[n - 1], &sorted[i]) == 0)
			continue;
		e[n] = sorted[i];
		e[n].n_rules = 0;
		n++;
	}
	/* Each CIDR's entry takes the rules of every CIDR containing it, its own included. */
	for (j = 0; j < n; j++) {
		struct policy_net_entry cidr = e[j];

		for (len = 0; len <= e[j].prefix; len++) {
			if (!lens[e[j].family == 6][len])
				continue;
			memcpy(cidr.addr, e[j].addr, 16);
			mask_addr(cidr.addr, len);
			cidr.prefix = (uint8_t)len;
			r = add_rules_of(p, sorted, p->n_net, &cidr, &e[j], max, err);
			if (r < 0)
				goto fail;
		}
	}
	sort_policy = p;
	for (j = 0; j < n; j++)
		qsort(e[j].rules, e[j].n_rules, sizeof(e[j].rules[0]), rule_cmp);
	sort_policy = NULL;
	free(sorted);
	*ret = e;
	*ret_n = n;
	return 0;
fail:
	free(sorted);
	free(e);
	return r;
}
