/* Policy v1 parser and validator: strict JSON, unknown fields rejected, errors name their place. */
#include "policies/policy.h"
#include "policies/policy_internal.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fails with -EINVAL when obj has a key outside allowed (NULL-terminated). */
int policy_check_keys(const vjson *obj, const char *const *allowed, const char *origin,
                      const char *where, struct policy_error *err)
{
	const char *key;

	vjson_object_foreach_key(obj, key)
	{
		const char *const *a;

		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			return policy_errorf(err, -EINVAL, "%s: %s%s%s: unknown field", origin,
			                     where, *where ? "." : "", key);
	}
	return 0;
}

int policy_get_string(const vjson *obj, const char *key, bool required, const char *origin,
                      const char *where, const char **ret, struct policy_error *err)
{
	const vjson *v = vjson_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return policy_errorf(err, -EINVAL, "%s: %s%s%s: missing required field",
			                     origin, where, *where ? "." : "", key);
		return 0;
	}
	if (!vjson_is_string(v))
		return policy_errorf(err, -EINVAL, "%s: %s%s%s: expected a string", origin, where,
		                     *where ? "." : "", key);
	if (vjson_string_length(v) == 0 || strlen(vjson_string_value(v)) != vjson_string_length(v))
		return policy_errorf(err, -EINVAL, "%s: %s%s%s: empty or contains NUL", origin,
		                     where, *where ? "." : "", key);
	*ret = vjson_string_value(v);
	return 0;
}

/* ret_learn: NULL where "learn" is no mode (a rule); set for the policy's own mode. */
static int parse_mode(const vjson *obj, const char *origin, const char *where, bool *ret_audit,
                      bool *ret_learn, struct policy_error *err)
{
	const char *mode;
	int r;

	r = policy_get_string(obj, "mode", false, origin, where, &mode, err);
	if (r < 0)
		return r;
	if (!mode)
		return 0;
	if (strcmp(mode, "enforce") == 0)
		*ret_audit = false;
	else if (strcmp(mode, "audit") == 0)
		*ret_audit = true;
	else if (ret_learn && strcmp(mode, "learn") == 0)
		*ret_audit = *ret_learn = true; /* audit, each distinct access logged once */
	else
		return policy_errorf(err, -EINVAL,
		                     "%s: %s%smode: '%s' is not a mode (enforce | audit%s)", origin,
		                     where, *where ? "." : "", mode, ret_learn ? " | learn" : "");
	return 0;
}

/* 64 lower-case hex digits (lib's one rule on case), decoded by lib's table-driven vigil_unhex. */
int policy_parse_hex256(const char *s, uint8_t out[POLICY_SHA256_LEN])
{
	if (strnlen(s, 2 * POLICY_SHA256_LEN + 1) != 2 * POLICY_SHA256_LEN)
		return -EINVAL;
	return vigil_unhex(s, POLICY_SHA256_LEN, out) < 0 ? -EINVAL : 0;
}

static int parse_scope(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"cgroups", NULL};
	const vjson *scope = vjson_object_get(root, "scope"), *list, *v;
	size_t i;
	int r;

	if (!scope)
		return policy_errorf(err, -EINVAL,
		                     "%s: scope: missing required field (\"guest\" or "
		                     "{\"cgroups\": [...]})",
		                     p->origin);
	if (vjson_is_string(scope)) {
		if (strcmp(vjson_string_value(scope), "guest") != 0)
			return policy_errorf(
			    err, -EINVAL, "%s: scope: '%s' is not a scope (\"guest\" or an object)",
			    p->origin, vjson_string_value(scope));
		p->scope_guest = true;
		return 0;
	}
	if (!vjson_is_object(scope))
		return policy_errorf(err, -EINVAL, "%s: scope: expected \"guest\" or an object",
		                     p->origin);
	r = policy_check_keys(scope, keys, p->origin, "scope", err);
	if (r < 0)
		return r;
	list = vjson_object_get(scope, "cgroups");
	if (!vjson_is_array(list) || vjson_array_size(list) == 0)
		return policy_errorf(err, -EINVAL, "%s: scope.cgroups: expected a non-empty array",
		                     p->origin);
	p->cgroups = calloc(vjson_array_size(list), sizeof(*p->cgroups));
	if (!p->cgroups)
		return -ENOMEM;
	vjson_array_foreach(list, i, v)
	{
		const char *s = vjson_string_value(v);

		if (!s || s[0] != '/' || strstr(s, "/..") || strcmp(s, "/") == 0)
			return policy_errorf(
			    err, -EINVAL,
			    "%s: scope.cgroups[%zu]: expected an absolute cgroup path "
			    "other than / (use \"scope\": \"guest\" for all)",
			    p->origin, i);
		p->cgroups[i] = strdup(s);
		if (!p->cgroups[i])
			return -ENOMEM;
		p->n_cgroups++;
	}
	return 0;
}

static int parse_exec_rule(struct policy *p, const vjson *v, size_t i, struct policy_error *err)
{
	static const char *const keys[] = {"name", "path", "sha256", "mode", NULL};
	struct policy_exec_rule *rule = &p->exec[i];
	const char *name, *path, *digest;
	char where[64];
	int r;

	policy_where(where, sizeof(where), "exec.allow", i);
	if (!vjson_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", p->origin, where);
	r = policy_check_keys(v, keys, p->origin, where, err);
	if (r < 0)
		return r;
	if ((r = policy_get_string(v, "name", false, p->origin, where, &name, err)) < 0 ||
	    (r = policy_get_string(v, "path", true, p->origin, where, &path, err)) < 0 ||
	    (r = policy_get_string(v, "sha256", true, p->origin, where, &digest, err)) < 0)
		return r;
	if (path[0] != '/')
		return policy_errorf(err, -EINVAL, "%s: %s.path: '%s' is not an absolute path",
		                     p->origin, where, path);
	if (strlen(path) >= 4096)
		return policy_errorf(err, -EINVAL, "%s: %s.path: longer than PATH_MAX", p->origin,
		                     where);
	if (policy_parse_hex256(digest, rule->sha256) < 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.sha256: expected 64 lower-case hex digits (rule '%s')",
		                     p->origin, where, name ? name : path);
	rule->audit = p->audit;
	r = parse_mode(v, p->origin, where, &rule->audit, NULL, err);
	if (r < 0)
		return r;
	rule->path = strdup(path);
	/* An unnamed rule is named by its path: one string, not two (policy_free knows). */
	rule->name = name ? strdup(name) : rule->path;
	if (!rule->path || !rule->name)
		return -ENOMEM;
	return 0;
}

static int parse_exec(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"allow", "allow_fileless", NULL};
	const vjson *exec = vjson_object_get(root, "exec"), *allow, *v;
	size_t i;
	int r;

	if (!exec)
		return 0; /* no exec rules: every exec in scope is denied */
	if (!vjson_is_object(exec))
		return policy_errorf(err, -EINVAL, "%s: exec: expected an object", p->origin);
	r = policy_check_keys(exec, keys, p->origin, "exec", err);
	if (r < 0)
		return r;
	v = vjson_object_get(exec, "allow_fileless");
	if (v && !vjson_is_boolean(v))
		return policy_errorf(err, -EINVAL,
		                     "%s: exec.allow_fileless: expected true or false", p->origin);
	p->allow_fileless = vjson_is_true(v);
	allow = vjson_object_get(exec, "allow");
	if (!allow)
		return 0;
	if (!vjson_is_array(allow))
		return policy_errorf(err, -EINVAL, "%s: exec.allow: expected an array", p->origin);
	p->exec = calloc(vjson_array_size(allow) + 1, sizeof(*p->exec));
	if (!p->exec)
		return -ENOMEM;
	vjson_array_foreach(allow, i, v)
	{
		r = parse_exec_rule(p, v, i, err);
		p->n_exec = i + 1; /* so policy_free releases the partial rule too */
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_root(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"version", "name",         "serial", "mode",
	                                   "scope",   "exec",         "files",  "network",
	                                   "keys",    "capabilities", NULL};
	const char *name;
	const vjson *v;
	int r;

	if (!vjson_is_object(root))
		return policy_errorf(err, -EINVAL, "%s: expected a JSON object at the top level",
		                     p->origin);
	r = policy_check_keys(root, keys, p->origin, "", err);
	if (r < 0)
		return r;
	v = vjson_object_get(root, "version");
	if (!vjson_is_integer(v) || vjson_integer_value(v) != POLICY_VERSION)
		return policy_errorf(err, -EINVAL, "%s: version: expected %d", p->origin,
		                     POLICY_VERSION);
	r = policy_get_string(root, "name", true, p->origin, "", &name, err);
	if (r < 0)
		return r;
	if (strlen(name) > POLICY_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	                                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                                   "0123456789._-") != strlen(name))
		return policy_errorf(err, -EINVAL, "%s: name: use at most %d of [A-Za-z0-9._-]",
		                     p->origin, POLICY_NAME_MAX);
	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	v = vjson_object_get(root, "serial");
	if (!vjson_is_integer(v) || vjson_integer_value(v) < 1)
		return policy_errorf(err, -EINVAL, "%s: serial: expected an integer >= 1",
		                     p->origin);
	p->serial = (uint64_t)vjson_integer_value(v);
	r = parse_mode(root, p->origin, "", &p->audit, &p->learn, err);
	if (r < 0)
		return r;
	if (!vjson_object_get(root, "mode"))
		return policy_errorf(err, -EINVAL,
		                     "%s: mode: missing required field (enforce | audit | learn)",
		                     p->origin);
	r = parse_scope(p, root, err);
	if (r < 0)
		return r;
	if ((r = parse_exec(p, root, err)) < 0 || (r = policy_parse_files(p, root, err)) < 0 ||
	    (r = policy_parse_network(p, root, err)) < 0)
		return r;
	if ((r = policy_parse_keys(p, root, err)) < 0)
		return r;
	return policy_parse_capabilities(p, root, err);
}

int policy_parse(const char *buf, size_t len, const char *origin, struct policy **ret,
                 struct policy_error *err)
{
	struct vjson_doc *doc;
	struct policy *p;
	int r;

	r = policy_json_load(buf, len, POLICY_MAX_BYTES, origin, "policy", &doc, err);
	if (r < 0)
		goto refused;
	p = calloc(1, sizeof(*p));
	if (!p) {
		vjson_doc_free(doc);
		return -ENOMEM;
	}
	p->origin = strdup(origin);
	r = p->origin ? parse_root(p, doc->root, err) : -ENOMEM;
	vjson_doc_free(doc);
	if (r < 0) {
		if (r == -ENOMEM)
			policy_errorf(err, r, "%s: out of memory", origin);
		policy_free(p);
		goto refused;
	}
	*ret = p;
	return 0;
refused:
	/* The refusal's reason, set here: out of memory is no verdict on the policy. */
	if (err && r != -ENOMEM)
		err->reason = "invalid_policy";
	return r;
}

void policy_free(struct policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_cgroups; i++)
		free(p->cgroups[i]);
	free(p->cgroups);
	for (i = 0; i < p->n_exec; i++) {
		if (p->exec[i].name != p->exec[i].path)
			free(p->exec[i].name);
		free(p->exec[i].path);
	}
	free(p->exec);
	policy_free_files(p);
	policy_free_network(p);
	policy_free_keys(p);
	free(p->name);
	free(p->origin);
	free(p);
}
