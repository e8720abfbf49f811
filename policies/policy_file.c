/* The "files" section of policy v1: rules on files and directory trees by access kind. */
#include "policies/policy_internal.h"

int policy_parse_files(struct policy *p, json_t *root, struct policy_error *err)
{
	return 0;
}

void policy_free_files(struct policy *p)
{
}
