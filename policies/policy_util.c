/* Field readers shared by the file, network and key sections of policy v1. */
#include "policies/policy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int policy_get_action(json_t *obj, const char *key, bool required, const char *origin,
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

int policy_get_mask(json_t *obj, const char *key, const char *const *table, uint32_t all_mask,
                    const char *origin, const char *where, uint32_t *ret, struct policy_error *err)
{
	json_t *list = json_object_get(obj, key), *v;
	uint32_t mask = 0;
	size_t i;

	if (!list) {
		*ret = all_mask;
		return 0;
	}
	if (!json_is_array(list) || json_array_size(list) == 0)
		return policy_errorf(err, -EINVAL, "%s: %s.%s: expected a non-empty array of names",
		                     origin, where, key);
	json_array_foreach(list, i, v)
	{
		const char *s = json_string_value(v);
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

int policy_rule_name(json_t *obj, const char *fallback, const char *origin, const char *where,
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

int policy_section(json_t *root, const char *key, const char *const *allowed, const char *origin,
                   json_t **ret, struct policy_error *err)
{
	json_t *v = json_object_get(root, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", origin, key);
	*ret = v;
	return policy_check_keys(v, allowed, origin, key, err);
}

int policy_json_load(const char *buf, size_t len, size_t max, const char *origin, const char *what,
                     json_t **ret, struct policy_error *err)
{
	json_error_t jerr;

	if (len > max)
		return policy_errorf(err, -EFBIG, "%s: %s larger than %zu bytes", origin, what,
		                     max);
	*ret = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*ret)
		return policy_errorf(err, -EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
		                     jerr.text);
	return 0;
}
