/* Fills and removes a generation's key rule entries. */
#include "agent/agent.h"

int agent_apply_keys(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	return 0;
}

void agent_remove_keys(struct agent *a, const struct applied_policy *ap)
{
}
