/* Fills and removes a generation's file rule entries. */
#include "agent/agent.h"

int agent_apply_files(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	return 0;
}

void agent_remove_files(struct agent *a, const struct applied_policy *ap)
{
}
