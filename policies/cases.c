/* Case files of `vigil policy test`: strict JSON lines, one access and its expected verdict. */
#include "policies/cases.h"
#include "policies/policy_internal.h"
#include "bpf/vigil_abi.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_MAX_BYTES (16u << 20)

/* One line naming the file, the line and the field. */
#define BAD(fmt, field, ...)                                                                       \
	policy_errorf(err, -EINVAL, "%s:%u: %s: " fmt, origin, line, field, ##__VA_ARGS__)

static int dup_str(const char *s, char **ret)
{
	*ret = s ? strdup(s) : NULL;
	return s && !*ret ? -ENOMEM : 0;
}

/* A string member; absent is NULL unless required. */
static int get_str(const vjson *obj, const char *key, bool required, const char *origin,
                   unsigned int line, const char **ret, struct policy_error *err)
{
	const vjson *v = vjson_object_get(obj, key);

	*ret = NULL;
	if (!v) {
		if (required)
			return policy_errorf(err, -EINVAL, "%s:%u: %s: missing", origin, line, key);
		return 0;
	}
	if (!vjson_is_string(v))
		return policy_errorf(err, -EINVAL, "%s:%u: %s: expected a string", origin, line,
		                     key);
	*ret = vjson_string_value(v);
	return 0;
}

static int check_path(const char *s, const char *field, const char *origin, unsigned int line,
                      struct policy_error *err)
{
	const char *p;

	if (s[0] != '/' || strlen(s) >= 4096)
		return BAD("'%s' is not an absolute path: no process can reach it", field, s);
	for (p = s; (p = strstr(p, "/.")); p++)
		if (p[2] == 0 || p[2] == '/' || (p[2] == '.' && (p[3] == 0 || p[3] == '/')))
			return BAD("'%s' has a . or .. component: the kernel reports resolved "
			           "paths",
			           field, s);
	return 0;
}

static int check_keys(const vjson *obj, const char *const *allowed, const char *origin,
                      unsigned int line, const char *kind, struct policy_error *err)
{
	const char *key;

	vjson_object_foreach_key(obj, key)
	{
		size_t i;

		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (!allowed[i])
			return policy_errorf(err, -EINVAL, "%s:%u: %s: unknown field for %s case",
			                     origin, line, key, kind);
	}
	return 0;
}

static int parse_exec(const vjson *o, const char *origin, unsigned int line, struct policy_case *c,
                      struct policy_error *err)
{
	static const char *const keys[] = {"case", "expect", "rule",     "reason",
	                                   "exec", "sha256", "fileless", NULL};
	const vjson *fl = vjson_object_get(o, "fileless");
	const char *path, *sha;
	int r;

	if ((r = check_keys(o, keys, origin, line, "an exec", err)) < 0)
		return r;
	c->access.kind = POLICY_EVAL_EXEC;
	if (fl && !vjson_is_boolean(fl))
		return BAD("expected true or false", "fileless");
	c->access.fileless = vjson_is_true(fl);
	if ((r = get_str(o, "exec", !c->access.fileless, origin, line, &path, err)) < 0 ||
	    (r = get_str(o, "sha256", false, origin, line, &sha, err)) < 0)
		return r;
	if (c->access.fileless && (path || sha))
		return BAD("a fileless exec has no path or digest", path ? "exec" : "sha256");
	if (path && (r = check_path(path, "exec", origin, line, err)) < 0)
		return r;
	if (sha && policy_parse_hex256(sha, c->access.sha256) < 0)
		return BAD("'%s' is not 64 lower-case hex digits", "sha256", sha);
	c->access.has_sha256 = sha != NULL;
	if ((r = dup_str(path, (char **)&c->access.path)) < 0)
		return r;
	return asprintf(&c->text, "exec %s", path ? path : "(fileless)") < 0 ? -ENOMEM : 0;
}

static int parse_file(const vjson *o, const char *origin, unsigned int line, struct policy_case *c,
                      struct policy_error *err)
{
	static const char *const keys[] = {"case", "expect", "rule", "reason",
	                                   "file", "access", NULL};
	const char *path, *access;
	int r, a;

	if ((r = check_keys(o, keys, origin, line, "a file", err)) < 0 ||
	    (r = get_str(o, "file", true, origin, line, &path, err)) < 0 ||
	    (r = get_str(o, "access", true, origin, line, &access, err)) < 0 ||
	    (r = check_path(path, "file", origin, line, err)) < 0)
		return r;
	a = policy_file_access_from_name(access);
	if (a < 0)
		return BAD("'%s' is not read | write | create | unlink | rename | link | exec_map",
		           "access", access);
	c->access.kind = POLICY_EVAL_FILE;
	c->access.access = (unsigned int)a;
	if ((r = dup_str(path, (char **)&c->access.path)) < 0)
		return r;
	return asprintf(&c->text, "%s %s", access, path) < 0 ? -ENOMEM : 0;
}

static int get_port(const vjson *o, const char *origin, unsigned int line, uint16_t *ret,
                    struct policy_error *err)
{
	const vjson *v = vjson_object_get(o, "port");

	if (!v)
		return policy_errorf(err, -EINVAL, "%s:%u: port: missing", origin, line);
	if (!vjson_is_integer(v) || vjson_integer_value(v) < 0 || vjson_integer_value(v) > 65535)
		return policy_errorf(err, -EINVAL, "%s:%u: port: expected an integer 0-65535",
		                     origin, line);
	*ret = (uint16_t)vjson_integer_value(v);
	return 0;
}

static int parse_net(const vjson *o, const char *origin, unsigned int line, struct policy_case *c,
                     struct policy_error *err)
{
	static const char *const keys[] = {"case", "expect", "rule",     "reason", "net",
	                                   "addr", "port",   "protocol", NULL};
	const char *op, *addr, *proto;
	int r, n;

	if ((r = check_keys(o, keys, origin, line, "a network", err)) < 0 ||
	    (r = get_str(o, "net", true, origin, line, &op, err)) < 0 ||
	    (r = get_str(o, "addr", true, origin, line, &addr, err)) < 0 ||
	    (r = get_str(o, "protocol", true, origin, line, &proto, err)) < 0 ||
	    (r = get_port(o, origin, line, &c->access.port, err)) < 0)
		return r;
	n = policy_net_op_from_name(op);
	if (n < 0)
		return BAD("'%s' is not connect | bind | listen | sendmsg", "net", op);
	c->access.kind = POLICY_EVAL_NET;
	c->access.access = (unsigned int)n;
	if (strcmp(proto, "tcp") == 0)
		c->access.proto = IPPROTO_TCP;
	else if (strcmp(proto, "udp") == 0)
		c->access.proto = IPPROTO_UDP;
	else
		return BAD("'%s': a socket has one transport, tcp or udp", "protocol", proto);
	if (n == VIGIL_NET_LISTEN && c->access.proto == IPPROTO_UDP)
		return BAD("listen on a udp socket is not an access the kernel checks", "protocol");
	if (policy_net_addr(addr, (unsigned int)n, &c->access.family, c->access.addr) < 0)
		return BAD("'%s' is not an IPv4 or IPv6 address", "addr", addr);
	return asprintf(&c->text, "%s %s port %u %s", op, addr, c->access.port, proto) < 0 ? -ENOMEM
	                                                                                   : 0;
}

static int parse_key(const vjson *o, const char *origin, unsigned int line, struct policy_case *c,
                     struct policy_error *err)
{
	static const char *const keys[] = {"case", "expect",     "rule", "reason", "key", "perm",
	                                   "exe",  "exe_sha256", "uid",  "cgroup", NULL};
	const char *desc, *perm, *exe, *sha, *cg;
	const vjson *uid = vjson_object_get(o, "uid");
	int r, n;

	if ((r = check_keys(o, keys, origin, line, "a key", err)) < 0 ||
	    (r = get_str(o, "key", true, origin, line, &desc, err)) < 0 ||
	    (r = get_str(o, "perm", true, origin, line, &perm, err)) < 0 ||
	    (r = get_str(o, "exe", false, origin, line, &exe, err)) < 0 ||
	    (r = get_str(o, "exe_sha256", false, origin, line, &sha, err)) < 0 ||
	    (r = get_str(o, "cgroup", false, origin, line, &cg, err)) < 0)
		return r;
	n = policy_key_perm_from_name(perm);
	if (n < 0)
		return BAD("'%s' is not view | read | write | search | link | setattr | unlink",
		           "perm", perm);
	if (!*desc || strlen(desc) >= VIGIL_KEY_DESC_LEN)
		return BAD("a key description has 1-%d bytes", "key", VIGIL_KEY_DESC_LEN - 1);
	if (exe && (r = check_path(exe, "exe", origin, line, err)) < 0)
		return r;
	if (sha && !exe)
		return BAD("a digest without an executable", "exe_sha256");
	if (sha && policy_parse_hex256(sha, c->access.exe_sha256) < 0)
		return BAD("'%s' is not 64 lower-case hex digits", "exe_sha256", sha);
	if (cg && (r = check_path(cg, "cgroup", origin, line, err)) < 0)
		return r;
	if (uid && (!vjson_is_integer(uid) || vjson_integer_value(uid) < 0 ||
	            vjson_integer_value(uid) >= UINT32_MAX))
		return BAD("expected a uid 0-%u", "uid", UINT32_MAX - 1);
	c->access.kind = POLICY_EVAL_KEY;
	c->access.access = (unsigned int)n;
	c->access.uid = (uint32_t)vjson_integer_value(uid);
	c->access.has_exe_sha256 = sha != NULL;
	if ((r = dup_str(desc, (char **)&c->access.key)) < 0 ||
	    (r = dup_str(exe, (char **)&c->access.exe)) < 0 ||
	    (r = dup_str(cg, (char **)&c->access.cgroup)) < 0)
		return r;
	return asprintf(&c->text, "key '%s' %s by %s uid %u", desc, perm, exe ? exe : "any exe",
	                c->access.uid) < 0
	           ? -ENOMEM
	           : 0;
}

static const char *const reasons[] = {"rule",      "default",  "not_listed", "fileless", "modified",
                                      "not_named", "too_deep", "unchecked",  NULL};

int policy_case_parse(const char *buf, size_t len, const char *origin, unsigned int line,
                      struct policy_case *c, struct policy_error *err)
{
	static const char *const kinds[] = {"exec", "fileless", "file", "net", "key"};
	struct vjson_doc *doc = NULL;
	const vjson *o, *rule;
	const char *expect, *reason, *name;
	char msg[256];
	size_t i, found = 0, kind = 0;
	int r;

	memset(c, 0, sizeof(*c));
	c->line = line;
	r = vjson_parse(buf, len, &doc, msg, sizeof(msg));
	if (r < 0)
		return r == -ENOMEM ? r
		                    : policy_errorf(err, -EINVAL, "%s:%u: not a JSON object (%s)",
		                                    origin, line, msg);
	o = doc->root;
	r = -EINVAL;
	if (!vjson_is_object(o)) {
		policy_errorf(err, r, "%s:%u: not a JSON object", origin, line);
		goto out;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (vjson_object_get(o, kinds[i])) {
			found += i != 1 || !vjson_object_get(o, "exec");
			kind = i;
		}
	if (found != 1) {
		policy_errorf(err, r,
		              "%s:%u: %s: a case has exactly one access: exec, fileless, file, net "
		              "or key",
		              origin, line, found ? kinds[kind] : "(none)");
		goto out;
	}
	if ((r = get_str(o, "expect", true, origin, line, &expect, err)) < 0 ||
	    (r = get_str(o, "reason", false, origin, line, &reason, err)) < 0 ||
	    (r = get_str(o, "case", false, origin, line, &name, err)) < 0)
		goto out;
	r = -EINVAL;
	if (strcmp(expect, "allow") == 0)
		c->expect = VIGIL_ALLOW;
	else if (strcmp(expect, "deny") == 0)
		c->expect = VIGIL_DENY;
	else if (strcmp(expect, "audit") == 0)
		c->expect = VIGIL_AUDIT;
	else {
		BAD("'%s' is not allow | deny | audit", "expect", expect);
		goto out;
	}
	for (i = 0; reason && reasons[i]; i++)
		if (strcmp(reasons[i], reason) == 0)
			break;
	if (reason && !reasons[i]) {
		BAD("'%s' is not a reason (rule | default | not_listed | fileless | modified | "
		    "not_named | too_deep | unchecked)",
		    "reason", reason);
		goto out;
	}
	rule = vjson_object_get(o, "rule");
	if (rule && !vjson_is_string(rule) && !vjson_is(rule, VJSON_NULL)) {
		BAD("expected a rule name or null", "rule");
		goto out;
	}
	c->has_rule = rule != NULL;
	if ((r = dup_str(vjson_string_value(rule), &c->rule)) < 0 ||
	    (r = dup_str(reason, &c->reason)) < 0 || (r = dup_str(name, &c->name)) < 0)
		goto out;
	switch (kind) {
	case 0:
	case 1:
		r = parse_exec(o, origin, line, c, err);
		break;
	case 2:
		r = parse_file(o, origin, line, c, err);
		break;
	case 3:
		r = parse_net(o, origin, line, c, err);
		break;
	default:
		r = parse_key(o, origin, line, c, err);
		break;
	}
out:
	vjson_doc_free(doc);
	if (r < 0)
		policy_case_clear(c);
	return r;
}

void policy_case_clear(struct policy_case *c)
{
	free(c->name);
	free(c->rule);
	free(c->reason);
	free(c->text);
	free((char *)c->access.path);
	free((char *)c->access.key);
	free((char *)c->access.exe);
	free((char *)c->access.cgroup);
	memset(c, 0, sizeof(*c));
}

void policy_cases_free(struct policy_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		policy_case_clear(&cases[i]);
	free(cases);
}

int policy_cases_load(const char *path, struct policy_case **ret, size_t *ret_n,
                      struct policy_error *err)
{
	struct policy_case *cases = NULL, *grown;
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, alloc = 0, total = 0;
	unsigned int line = 0;
	ssize_t len;
	int r = 0;

	if (!f)
		return policy_errorf(err, -errno, "%s: %s", path, strerror(errno));
	while ((len = getline(&buf, &cap, f)) >= 0) {
		const char *p = buf;

		line++;
		total += (size_t)len;
		if (total > CASES_MAX_BYTES) {
			r = policy_errorf(err, -EFBIG, "%s:%u: larger than %u bytes", path, line,
			                  CASES_MAX_BYTES);
			break;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == 0 || *p == '#')
			continue;
		if (n == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			grown = realloc(cases, alloc * sizeof(*cases));
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			cases = grown;
		}
		r = policy_case_parse(buf, (size_t)len, path, line, &cases[n], err);
		if (r < 0)
			break;
		n++;
	}
	if (r == 0 && ferror(f))
		r = policy_errorf(err, -EIO, "%s:%u: read error", path, line + 1);
	if (r == 0 && n == 0)
		r = policy_errorf(err, -EINVAL, "%s: no cases", path);
	fclose(f);
	free(buf);
	if (r < 0) {
		policy_cases_free(cases, n);
		return r;
	}
	*ret = cases;
	*ret_n = n;
	return 0;
}
