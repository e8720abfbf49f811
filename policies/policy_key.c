/* The "keys" section of policy v1: which workloads may use which kernel keys. */
#include "policies/policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Index = the kernel's enum key_need_perm; 0 (unspecified) is not a permission. */
static const char *const key_perms[] = {"",     "view",    "read",   "write", "search",
                                        "link", "setattr", "unlink", NULL};
#define KEY_DESC_MAX 63 /* VIGIL_KEY_DESC_LEN - 1: the kernel side compares 64 bytes */

static int parse_key_exe(struct policy *p, const vjson *v, const char *where,
                         struct policy_key_rule *rule, struct policy_error *err)
{
	static const char *const keys[] = {"path", "sha256", NULL};
	const vjson *exe = vjson_object_get(v, "exe");
	const char *path, *digest;
	char w[96];
	int r;

	if (!exe)
		return 0;
	snprintf(w, sizeof(w), "%s.exe", where);
	if (!vjson_is_object(exe))
		return policy_errorf(err, -EINVAL,
		                     "%s: %s: expected {\"path\", \"sha256\"}, rule '%s'",
		                     p->origin, w, rule->name);
	if ((r = policy_check_keys(exe, keys, p->origin, w, err)) < 0 ||
	    (r = policy_get_string(exe, "path", true, p->origin, w, &path, err)) < 0 ||
	    (r = policy_get_string(exe, "sha256", true, p->origin, w, &digest, err)) < 0)
		return r;
	if (path[0] != '/' || strlen(path) >= 4096)
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.path: '%s' is not an absolute path, rule '%s'",
		                     p->origin, w, path, rule->name);
	if (policy_parse_hex256(digest, rule->exe_sha256) < 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.sha256: expected 64 lower-case hex digits, rule '%s'",
		                     p->origin, w, rule->name);
	rule->exe_path = strdup(path);
	return rule->exe_path ? 0 : -ENOMEM;
}

static int parse_key_who(struct policy *p, const vjson *v, const char *where,
                         struct policy_key_rule *rule, struct policy_error *err)
{
	const vjson *uid = vjson_object_get(v, "uid");
	const char *cgroup;
	int r;

	rule->uid = UINT32_MAX;
	if (uid) {
		if (!vjson_is_integer(uid) || vjson_integer_value(uid) < 0 ||
		    vjson_integer_value(uid) >= UINT32_MAX)
			return policy_errorf(
			    err, -EINVAL,
			    "%s: %s.uid: expected an integer 0..4294967294, rule '%s'", p->origin,
			    where, rule->name);
		rule->uid = (uint32_t)vjson_integer_value(uid);
	}
	r = policy_get_string(v, "cgroup", false, p->origin, where, &cgroup, err);
	if (r < 0)
		return r;
	if (cgroup) {
		if (cgroup[0] != '/' || strstr(cgroup, "/..") || strcmp(cgroup, "/") == 0)
			return policy_errorf(
			    err, -EINVAL,
			    "%s: %s.cgroup: expected an absolute cgroup path other "
			    "than /, rule '%s'",
			    p->origin, where, rule->name);
		rule->cgroup = strdup(cgroup);
		if (!rule->cgroup)
			return -ENOMEM;
	}
	return parse_key_exe(p, v, where, rule, err);
}

static int parse_key_rule(struct policy *p, const vjson *v, size_t i, struct policy_error *err)
{
	static const char *const keys[] = {"name", "key", "perms", "exe", "cgroup", "uid", NULL};
	struct policy_key_rule *rule = &p->keys[i];
	const char *desc, *c;
	char where[64];
	int r;

	policy_where(where, sizeof(where), "keys.rules", i);
	if (!vjson_is_object(v))
		return policy_errorf(err, -EINVAL, "%s: %s: expected an object", p->origin, where);
	if ((r = policy_check_keys(v, keys, p->origin, where, err)) < 0 ||
	    (r = policy_get_string(v, "key", true, p->origin, where, &desc, err)) < 0 ||
	    (r = policy_rule_name(v, desc, p->origin, where, &rule->name, err)) < 0)
		return r;
	for (c = desc; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			break;
	if (*c || strlen(desc) > KEY_DESC_MAX)
		return policy_errorf(
		    err, -EINVAL,
		    "%s: %s.key: expected a key description of 1-%d printable ASCII "
		    "characters, rule '%s'",
		    p->origin, where, KEY_DESC_MAX, rule->name);
	if (!vjson_object_get(v, "perms"))
		return policy_errorf(err, -EINVAL,
		                     "%s: %s.perms: missing required field, rule '%s'", p->origin,
		                     where, rule->name);
	if ((r = policy_get_mask(v, "perms", key_perms, 0, p->origin, where, &rule->perms, err)) <
	        0 ||
	    (r = parse_key_who(p, v, where, rule, err)) < 0)
		return r;
	rule->key = strdup(desc);
	return rule->key ? 0 : -ENOMEM;
}

/* keys.release[i].revoke_after_denials: {"kind": "exec|file|net|key|cap|self|any", "count": N}.
 * The kinds are the event types' names (enum vigil_event_type). */
static int parse_revoke_denials(struct policy *p, const vjson *v, const char *where,
                                struct policy_key_release *rel, struct policy_error *err)
{
	static const char *const keys[] = {"kind", "count", NULL};
	static const struct {
		const char *name;
		uint16_t type;
	} kinds[] = {{"any", 0}, {"exec", 1}, {"file", 5}, {"net", 6},
	             {"key", 7}, {"self", 8}, {"cap", 9}};
	const vjson *r = vjson_object_get(v, "revoke_after_denials"), *count;
	const char *kind;
	char w[96];
	size_t i;
	int e;

	if (!r)
		return 0;
	snprintf(w, sizeof(w), "%s.revoke_after_denials", where);
	if (!vjson_is_object(r))
		return policy_errorf(err, -EINVAL, "%s: %s: expected {\"kind\", \"count\"}",
		                     p->origin, w);
	if ((e = policy_check_keys(r, keys, p->origin, w, err)) < 0 ||
	    (e = policy_get_string(r, "kind", true, p->origin, w, &kind, err)) < 0)
		return e;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].name, kind) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return policy_errorf(
		    err, -EINVAL,
		    "%s: %s.kind: '%s' is not one of any | exec | file | net | key "
		    "| self | cap",
		    p->origin, w, kind);
	count = vjson_object_get(r, "count");
	if (!count || !vjson_is_integer(count) || vjson_integer_value(count) < 1 ||
	    vjson_integer_value(count) > 1000000)
		return policy_errorf(err, -EINVAL, "%s: %s.count: expected 1 to 1000000", p->origin,
		                     w);
	rel->revoke_type = kinds[i].type;
	rel->revoke_denials = (uint32_t)vjson_integer_value(count);
	return 0;
}

/* keys.release[i]: {"resource": "repo/type/tag", "key": "description"[,
 * "revoke_after_denials"]}. */
static int parse_key_release(struct policy *p, const vjson *sect, struct policy_error *err)
{
	static const char *const keys[] = {"resource", "key", "revoke_after_denials", NULL};
	const vjson *rel = vjson_object_get(sect, "release"), *v;
	const char *res, *desc;
	char where[64];
	size_t i;
	int r;

	if (!rel)
		return 0;
	if (!vjson_is_array(rel))
		return policy_errorf(err, -EINVAL, "%s: keys.release: expected an array",
		                     p->origin);
	p->key_release = calloc(vjson_array_size(rel) + 1, sizeof(*p->key_release));
	if (!p->key_release)
		return -ENOMEM;
	vjson_array_foreach(rel, i, v)
	{
		policy_where(where, sizeof(where), "keys.release", i);
		if (!vjson_is_object(v))
			return policy_errorf(err, -EINVAL, "%s: %s: expected an object", p->origin,
			                     where);
		if ((r = policy_check_keys(v, keys, p->origin, where, err)) < 0 ||
		    (r = policy_get_string(v, "resource", true, p->origin, where, &res, err)) < 0 ||
		    (r = policy_get_string(v, "key", true, p->origin, where, &desc, err)) < 0)
			return r;
		/* Exactly repository/type/tag, no empty part, no path tricks. */
		if (strlen(res) > 255 || res[0] == '/' || strstr(res, "//") || strstr(res, "..") ||
		    strspn(res,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") !=
		        strlen(res) ||
		    !strchr(res, '/') || strchr(strchr(res, '/') + 1, '/') == NULL ||
		    strchr(strchr(strchr(res, '/') + 1, '/') + 1, '/') ||
		    res[strlen(res) - 1] == '/')
			return policy_errorf(err, -EINVAL,
			                     "%s: %s.resource: '%s' is not repository/type/tag",
			                     p->origin, where, res);
		if (desc[0] == 0 || strlen(desc) > KEY_DESC_MAX)
			return policy_errorf(err, -EINVAL,
			                     "%s: %s.key: expected 1 to %d characters", p->origin,
			                     where, KEY_DESC_MAX);
		p->key_release[i].resource = strdup(res);
		p->key_release[i].key = strdup(desc);
		p->n_key_release = i + 1;
		if (!p->key_release[i].resource || !p->key_release[i].key)
			return -ENOMEM;
		r = parse_revoke_denials(p, v, where, &p->key_release[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int policy_parse_keys(struct policy *p, const vjson *root, struct policy_error *err)
{
	static const char *const keys[] = {"rules", "release", NULL};
	const vjson *sect, *rules, *v;
	size_t i;
	int r;

	r = policy_section(root, "keys", keys, p->origin, &sect, err);
	if (r < 0 || !sect)
		return r;
	rules = vjson_object_get(sect, "rules");
	if (!vjson_is_array(rules))
		return policy_errorf(err, -EINVAL, "%s: keys.rules: expected an array", p->origin);
	p->keys = calloc(vjson_array_size(rules) + 1, sizeof(*p->keys));
	if (!p->keys)
		return -ENOMEM;
	vjson_array_foreach(rules, i, v)
	{
		r = parse_key_rule(p, v, i, err);
		p->n_keys = i + 1; /* so the partial rule is freed too */
		if (r < 0)
			return r;
	}
	return parse_key_release(p, sect, err);
}

void policy_free_keys(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->n_key_release; i++) {
		free(p->key_release[i].resource);
		free(p->key_release[i].key);
	}
	free(p->key_release);
	for (i = 0; i < p->n_keys; i++) {
		free(p->keys[i].name);
		free(p->keys[i].key);
		free(p->keys[i].exe_path);
		free(p->keys[i].cgroup);
	}
	free(p->keys);
}

int policy_compile_keys(const struct policy *p, size_t max, struct policy_key_entry **ret,
                        size_t *ret_n, struct policy_error *err)
{
	struct policy_key_entry *e = calloc(p->n_keys + 1, sizeof(*e));
	size_t n = 0, i, j;

	if (!e)
		return -ENOMEM;
	if (max > sizeof(e->rules) / sizeof(e->rules[0]))
		max = sizeof(e->rules) / sizeof(e->rules[0]);
	/* Quadratic, but bounded by the key count a policy can carry. */
	for (i = 0; i < p->n_keys; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(e[j].desc, p->keys[i].key) == 0)
				break;
		if (j == n)
			e[n++].desc = p->keys[i].key;
		if (e[j].n_rules >= max) {
			free(e);
			return policy_errorf(
			    err, -E2BIG,
			    "%s: keys.rules[%zu]: rule '%s': more than %zu rules name "
			    "key '%s'",
			    p->origin, i, p->keys[i].name, max, p->keys[i].key);
		}
		e[j].rules[e[j].n_rules++] = (uint32_t)i;
	}
	*ret = e;
	*ret_n = n;
	return 0;
}

int policy_resolve_key_exe(const struct policy *p, size_t i, const char *root, uint64_t *ret_dev,
                           uint64_t *ret_ino, struct policy_error *err)
{
	const struct policy_key_rule *rule = &p->keys[i];
	uint8_t digest[POLICY_SHA256_LEN];
	char full[4096 + 256];
	struct stat st;
	int fd, r;

	snprintf(full, sizeof(full), "%s%s", root ? root : "", rule->exe_path);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return policy_errorf(err, -errno, "%s: keys.rules[%zu].exe.path: rule '%s': %s: %s",
		                     p->origin, i, rule->name, full, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return policy_errorf(
		    err, -EINVAL,
		    "%s: keys.rules[%zu].exe.path: rule '%s': %s is not a regular file", p->origin,
		    i, rule->name, full);
	}
	r = vigil_sha256_fd(fd, digest);
	close(fd);
	if (r < 0)
		return policy_errorf(err, r, "%s: keys.rules[%zu].exe: rule '%s': reading %s: %s",
		                     p->origin, i, rule->name, full, strerror(-r));
	if (memcmp(digest, rule->exe_sha256, sizeof(digest)) != 0)
		return policy_errorf(
		    err, -EBADMSG,
		    "%s: keys.rules[%zu].exe.sha256: rule '%s': %s does not have the "
		    "SHA-256 the policy names",
		    p->origin, i, rule->name, full);
	*ret_dev = policy_kdev(st.st_dev);
	*ret_ino = st.st_ino;
	return 0;
}
