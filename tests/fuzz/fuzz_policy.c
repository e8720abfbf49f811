/* libFuzzer target: the policy v1 parser must reject or accept any input without crashing. */
#include <stddef.h>
#include <stdint.h>

#include "policies/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy *p = NULL;

	if (policy_parse((const char *)data, size, "fuzz", &p, &err) == 0)
		policy_free(p);
	return 0;
}
