/* Field readers shared by the file, network and key sections of policy v1. */
#include "policies/policy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void policy_where(char *buf, size_t len, const char *section, size_t i)
{
	char digits[24];
	size_t n = 0, s = strlen(section);

	do
		digits[n++] = (char)('0' + i % 10);
	while ((i /= 10) && n < sizeof(digits));
	if (s + n + 3 > len) {
		snprintf(buf, len, "%s[?]", section);
		return;
	}
	memcpy(buf, section, s);
	buf[s++] = '[';
	while (n)
		buf[s++] = digits[--n];
	buf[s++] = ']';
	buf[s] = 0;
}

int policy_get_action(const vjson *obj, const char *key, bool required, const char *origin,
                      const char *where, uint8_t *ret, struct policy_error *err)
{
	const char *s;
	int r;

	r = policy_get_string(obj, key, required, origin, where, &s, err);
	if (r < 0 || !s)
		return r;
	if (strcmp(s, "allow") == 0)
		*ret = POLICY_ACT_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*ret = POLICY_ACT_DENY;
	else if (strcmp(s, "audit") == 0)
		*ret = POLICY_ACT_AUDIT;
	else
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.%s: '%s' is not an action (allow | deny | audit)",
		                     origin, where, key, s);
	return 0;
}

int policy_get_mask(const vjson *obj, const char *key, const char *const *table, uint32_t all_mask,
                    const char *origin, const char *where, uint32_t *ret, struct policy_error *err)
{
	const vjson *list = vjson_object_get(obj, key), *v;
	uint32_t mask = 0;
	size_t i;

	if (!list) {
		*ret = all_mask;
		return 0;
	}
	if (!vjson_is_array(list) || vjson_array_size(list) == 0)
		return policy_errorf(err, -EINVAL, "%s: %s.%s: expected a non-empty array of names",
		                     origin, where, key);
	vjson_array_foreach(list, i, v)
	{
		const char *s = vjson_string_value(v);
		unsigned int bit;

		for (bit = 0; s && table[bit]; bit++)
			if (*table[bit] && strcmp(table[bit], s) == 0)
				break;
		if (!s || !table[bit]) {
			char names[256] = "";

			for (bit = 0; table[bit]; bit++)
				if (*table[bit])
					snprintf(names + strlen(names),
					         sizeof(names) - strlen(names), "%s%s",
					         *names ? " | " : "", table[bit]);
			return policy_errorf(err, -EINVAL, "%s: %s.%s[%zu]: '%s' is not one of %s",
			                     origin, where, key, i, s ? s : "(not a string)",
			                     names);
		}
		mask |= 1u << bit;
	}
	*ret = mask;
	return 0;
}

int policy_rule_name(const vjson *obj, const char *fallback, const char *origin, const char *where,
                     char **ret, struct policy_error *err)
{
	const char *name;
	int r;

	r = policy_get_string(obj, "name", false, origin, where, &name, err);
	if (r < 0)
		return r;
	if (name && strlen(name) > POLICY_NAME_MAX)
		return policy_errorf(err, -EINVAL, "%s: %s.name: longer than %d bytes", origin,
		                     where, POLICY_NAME_MAX);
	*ret = strdup(name ? name : fallback);
	return *ret ? 0 : -ENOMEM;
}

int policy_section(const vjson *root, const char *key, const char *const *allowed,
                   const char *origin, const vjson **ret, struct policy_error *err)
{
	const vjson *v = vjson_object_get(root, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!vjson_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", origin, key);
	*ret = v;
	return policy_check_keys(v, allowed, origin, key, err);
}

int policy_json_load(const char *buf, size_t len, size_t max, const char *origin, const char *what,
                     struct vjson_doc **ret, struct policy_error *err)
{
	char msg[192];
	int r;

	if (len > max)
		return vigil_reasonf(err, -EFBIG, "too_large", "%s: %s larger than %zu bytes",
		                     origin, what, max);
	r = vjson_parse(buf, len, ret, msg, sizeof(msg));
	if (r < 0)
		return policy_errorf(err, r, "%s:%s", origin, msg);
	return 0;
}
