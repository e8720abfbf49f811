/* The "keys" section of policy v1: which workloads may use which kernel keys. */
#include "policies/policy_internal.h"

int policy_parse_keys(struct policy *p, json_t *root, struct policy_error *err)
{
	return 0;
}

void policy_free_keys(struct policy *p)
{
}
