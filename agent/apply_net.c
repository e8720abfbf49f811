/* Fills and removes a generation's network LPM entries. */
#include "agent/agent.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>

#include "vigil.skel.h"

static struct vigil_net_key net_key(const struct policy_net_entry *e, uint32_t gen)
{
	struct vigil_net_key key = {
	    .prefixlen = VIGIL_NET_KEY_HDR_BITS + e->prefix,
	    .gen = gen,
	    .family = e->family,
	};

	memcpy(key.addr, e->addr, sizeof(key.addr));
	return key;
}

int agent_apply_net(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	int fd = bpf_map__fd(a->skel->maps.net_rules);
	size_t i, j;
	int r;

	r = policy_compile_net(p, VIGIL_NET_RULES_PER_PREFIX, &ap->net, &ap->n_net, err);
	if (r < 0)
		return r;
	if (ap->n_net > VIGIL_MAX_NET_PREFIXES)
		return policy_errorf(err, -E2BIG,
		                     "%s: network.rules: %zu distinct CIDRs, at most %d", p->origin,
		                     ap->n_net, VIGIL_MAX_NET_PREFIXES);
	for (i = 0; i < ap->n_net; i++) {
		const struct policy_net_entry *e = &ap->net[i];
		struct vigil_net_key key = net_key(e, ap->gen);
		struct vigil_net_val val = {.count = e->n_rules};

		for (j = 0; j < e->n_rules; j++) {
			const struct policy_net_rule *rule = &p->net[e->rules[j]];

			val.rules[j] = (struct vigil_net_rule){
			    .rule_id = e->rules[j],
			    .port_lo = rule->port_lo,
			    .port_hi = rule->port_hi,
			    .proto = rule->proto,
			    .ops = rule->ops,
			    .action = rule->action,
			};
		}
		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) < 0)
			return policy_errorf(err, -errno,
			                     "%s: network rules: map insert failed: %s", p->origin,
			                     strerror(errno));
	}
	return 0;
}

void agent_remove_net(struct agent *a, const struct applied_policy *ap)
{
	int fd = bpf_map__fd(a->skel->maps.net_rules);
	size_t i;

	for (i = 0; i < ap->n_net; i++) {
		struct vigil_net_key key = net_key(&ap->net[i], ap->gen);

		bpf_map_delete_elem(fd, &key);
	}
}
