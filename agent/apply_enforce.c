/* Applies the file, network and key sections of a policy into its pending generation. */
#include "agent/agent.h"

#include <stdlib.h>

uint32_t agent_sections_cfg_flags(const struct policy *p)
{
	uint32_t flags = 0;

	/* A section with only an allow default costs nothing in the kernel: its hooks return early.
	 */
	if (p->n_files || (p->file_default && p->file_default != POLICY_ACT_ALLOW))
		flags |= VIGIL_CFG_FILE_RULES | (uint32_t)p->file_default
		                                    << VIGIL_CFG_FILE_DEFAULT_SHIFT;
	/* A network section refuses raw sockets unless it says "raw": "allow". */
	if (p->n_net || (p->net_default && (p->net_default != POLICY_ACT_ALLOW || !p->net_raw)))
		flags |= VIGIL_CFG_NET_RULES | (uint32_t)p->net_default
		                                   << VIGIL_CFG_NET_DEFAULT_SHIFT;
	if (p->net_raw)
		flags |= VIGIL_CFG_NET_RAW;
	/* Capabilities are bounded in every policy: without the section, the ordinary set. */
	if (p->cap_audit)
		flags |= VIGIL_CFG_CAP_AUDIT;
	if (p->userns)
		flags |= VIGIL_CFG_USERNS;
	return flags;
}

uint64_t agent_cap_allow(const struct policy *p)
{
	return policy_cap_allow(p);
}

int agent_apply_sections(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	int r;

	if ((r = agent_apply_net(a, ap, err)) < 0 || (r = agent_apply_files(a, ap, err)) < 0)
		return r;
	return agent_apply_keys(a, ap, err);
}

void agent_remove_sections(struct agent *a, const struct applied_policy *ap)
{
	agent_remove_net(a, ap);
	agent_remove_files(a, ap);
	agent_remove_keys(a, ap);
}

void agent_sections_clear(struct applied_policy *ap)
{
	free(ap->net);
	free(ap->files);
	free(ap->keys);
}

_Static_assert((int)POLICY_ACT_DENY == VIGIL_ACT_DENY && (int)POLICY_ACT_AUDIT == VIGIL_ACT_AUDIT &&
                   (int)POLICY_ACT_ALLOW == VIGIL_ACT_ALLOW,
               "policy and BPF actions");
_Static_assert(POLICY_CAP_LAST < VIGIL_CAP_USERNS, "capability bits and the user-namespace value");
_Static_assert((int)POLICY_FA_EXEC_MAP == VIGIL_FA_EXEC_MAP && (int)POLICY_FA_LINK == VIGIL_FA_LINK,
               "policy and BPF file access kinds");
