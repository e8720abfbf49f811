/* Fills and removes a generation's network LPM entries. */
#include "agent/agent.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
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
	struct vigil_net_key *keys = NULL;
	struct vigil_net_val *vals = NULL;
	size_t i, j;
	int r;

	r = policy_compile_net(p, VIGIL_NET_RULES_PER_PREFIX, &ap->net, &ap->n_net, err);
	if (r < 0)
		return r;
	if (ap->n_net > VIGIL_MAX_NET_PREFIXES)
		return policy_errorf(err, -E2BIG,
		                     "%s: network.rules: %zu distinct CIDRs, at most %d", p->origin,
		                     ap->n_net, VIGIL_MAX_NET_PREFIXES);
	keys = calloc(ap->n_net + 1, sizeof(*keys));
	vals = calloc(ap->n_net + 1, sizeof(*vals));
	r = -ENOMEM;
	if (!keys || !vals)
		goto out;
	for (i = 0; i < ap->n_net; i++) {
		const struct policy_net_entry *e = &ap->net[i];

		keys[i] = net_key(e, ap->gen);
		vals[i].count = e->n_rules;
		for (j = 0; j < e->n_rules; j++) {
			const struct policy_net_rule *rule = &p->net[e->rules[j]];

			vals[i].rules[j] = (struct vigil_net_rule){
			    .rule_id = e->rules[j],
			    .port_lo = rule->port_lo,
			    .port_hi = rule->port_hi,
			    .proto = rule->proto,
			    .ops = rule->ops,
			    .action = rule->action,
			};
		}
	}
	r = agent_map_update_batch(a->skel->maps.net_rules, keys, vals, ap->n_net);
	if (r < 0)
		policy_errorf(err, r, "%s: network rules: map insert failed: %s", p->origin,
		              strerror(-r));
out:
	free(keys);
	free(vals);
	return r;
}

static void net_key_at(const void *ctx, size_t i, void *out)
{
	const struct applied_policy *ap = ctx;

	*(struct vigil_net_key *)out = net_key(&ap->net[i], ap->gen);
}

void agent_remove_net(struct agent *a, const struct applied_policy *ap)
{
	agent_map_delete_keys(a->skel->maps.net_rules, ap->n_net, net_key_at, ap);
}
