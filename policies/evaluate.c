/* Offline evaluation of accesses against a policy, mirroring the BPF programs' decisions. */
#include "policies/evaluate.h"
#include "bpf/vigil_abi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An explanation longer than policy_verdict.why is cut: it names paths of up to PATH_MAX. */
#ifndef __clang__ /* clang has no such warning (the fuzz build) */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

struct policy_eval {
	const struct policy *p;
	struct policy_net_entry *net; /* as agent/apply_net.c installs them */
	size_t n_net;
	char **file_paths; /* files.rules[i].path, normalized */
	bool *file_is_dir; /* known (under root) to be a directory */
	bool any_dir;      /* VIGIL_CFG_FILE_TREES, as far as root tells */
};

static const char *const file_access_names[] = {"read",   "write", "create",   "unlink",
                                                "rename", "link",  "exec_map", NULL};
static const char *const net_op_names[] = {"connect", "bind", "listen", "sendmsg", NULL};
static const char *const key_perm_names[] = {
    [VIGIL_KEY_VIEW] = "view",     [VIGIL_KEY_READ] = "read",     [VIGIL_KEY_WRITE] = "write",
    [VIGIL_KEY_SEARCH] = "search", [VIGIL_KEY_LINK] = "link",     [VIGIL_KEY_SETATTR] = "setattr",
    [VIGIL_KEY_UNLINK] = "unlink", [VIGIL_KEY_UNLINK + 1] = NULL,
};

static int index_of(const char *const *table, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (table[i] && name && strcmp(table[i], name) == 0)
			return (int)i;
	return -1;
}

int policy_file_access_from_name(const char *name)
{
	return index_of(file_access_names, POLICY_FA_COUNT, name);
}

const char *policy_file_access_name(unsigned int access)
{
	return access < POLICY_FA_COUNT ? file_access_names[access] : "unknown";
}

int policy_net_op_from_name(const char *name)
{
	return index_of(net_op_names, 4, name);
}

const char *policy_net_op_name(unsigned int op)
{
	return op < 4 ? net_op_names[op] : "unknown";
}

int policy_key_perm_from_name(const char *name)
{
	return index_of(key_perm_names, VIGIL_KEY_UNLINK + 1, name);
}

const char *policy_key_perm_name(unsigned int perm)
{
	return perm >= VIGIL_KEY_VIEW && perm <= VIGIL_KEY_UNLINK ? key_perm_names[perm]
	                                                          : "unknown";
}

const char *policy_eval_verdict_name(unsigned int verdict)
{
	return verdict == VIGIL_ALLOW ? "allow" : verdict == VIGIL_DENY ? "deny" : "audit";
}

int policy_net_addr(const char *s, unsigned int op, uint8_t *family, uint8_t addr[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16];

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
	} else if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		if (memcmp(addr, mapped, 12) == 0) { /* only ::ffff:0:0/96 is IPv4 to the kernel */
			memmove(addr, addr + 12, 4);
			memset(addr + 4, 0, 12);
			*family = 4;
		}
	} else {
		return -EINVAL;
	}
	/* A connect or send to the unspecified address reaches the local host (bpf/sockaddr.h). */
	if ((op == VIGIL_NET_CONNECT || op == VIGIL_NET_SENDMSG) && memcmp(addr, zero, 16) == 0) {
		if (*family == 4) {
			addr[0] = 127;
			addr[3] = 1;
		} else {
			addr[15] = 1;
		}
	}
	return 0;
}

/* Copies path without repeated or trailing slashes; -EINVAL unless absolute without . or ..
 */
static int normalize(const char *path, char *out, size_t size)
{
	size_t n = 0;
	const char *p = path;

	if (!path || path[0] != '/' || strlen(path) >= size)
		return -EINVAL;
	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		out[n++] = '/';
		memcpy(out + n, p, len);
		n += len;
		p = end;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = 0;
	return 0;
}

int policy_eval_new(const struct policy *p, const char *root, struct policy_eval **ret,
                    struct policy_error *err)
{
	struct policy_eval *e = calloc(1, sizeof(*e));
	char full[4096 + 256];
	struct stat st;
	size_t i;
	int r;

	if (!e)
		return -ENOMEM;
	e->p = p;
	r = policy_compile_net(p, VIGIL_NET_RULES_PER_PREFIX, &e->net, &e->n_net, err);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	e->file_paths = calloc(p->n_files + 1, sizeof(*e->file_paths));
	e->file_is_dir = calloc(p->n_files + 1, sizeof(*e->file_is_dir));
	if (!e->file_paths || !e->file_is_dir)
		goto fail;
	for (i = 0; i < p->n_files; i++) {
		e->file_paths[i] = malloc(strlen(p->files[i].path) + 2);
		if (!e->file_paths[i])
			goto fail;
		if (normalize(p->files[i].path, e->file_paths[i], strlen(p->files[i].path) + 2) < 0)
			strcpy(e->file_paths[i],
			       p->files[i].path); /* "." or ".." inside: verbatim */
		snprintf(full, sizeof(full), "%s%s", root ? root : "", p->files[i].path);
		if (root && stat(full, &st) == 0 && S_ISDIR(st.st_mode))
			e->file_is_dir[i] = e->any_dir = true;
	}
	*ret = e;
	return 0;
fail:
	policy_eval_free(e);
	return r;
}

void policy_eval_free(struct policy_eval *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; e->file_paths && i < e->p->n_files; i++)
		free(e->file_paths[i]);
	free(e->file_paths);
	free(e->file_is_dir);
	free(e->net);
	free(e);
}

/* decision_from_action, decision_apply_mode (bpf/decide.bpf.h). */
static void set_action(struct policy_verdict *v, uint8_t action, const char *reason)
{
	v->verdict = action == VIGIL_ACT_DENY    ? VIGIL_DENY
	             : action == VIGIL_ACT_AUDIT ? VIGIL_AUDIT
	                                         : VIGIL_ALLOW;
	v->reason = reason;
	v->checked = true;
}

static void apply_mode(const struct policy_eval *e, struct policy_verdict *v)
{
	if (v->verdict == VIGIL_DENY && e->p->audit) {
		v->verdict = VIGIL_AUDIT;
		strncat(v->why, " The policy's mode is audit: logged and allowed.",
		        sizeof(v->why) - strlen(v->why) - 1);
	}
}

static const char *action_name(uint8_t action)
{
	return action == VIGIL_ACT_DENY ? "deny" : action == VIGIL_ACT_AUDIT ? "audit" : "allow";
}

static void decide_exec(const struct policy_eval *e, const struct policy_access *a,
                        struct policy_verdict *v)
{
	const struct policy *p = e->p;
	bool rule_audit = false;
	size_t i;

	v->section = "exec.allow";
	if (a->fileless) {
		set_action(v, p->allow_fileless ? VIGIL_ACT_ALLOW : VIGIL_ACT_DENY, "fileless");
		snprintf(v->why, sizeof(v->why),
		         "A memfd or unlinked file has no identity to list; "
		         "exec.allow_fileless is %s.",
		         p->allow_fileless ? "true" : "false");
		goto out;
	}
	for (i = 0; i < p->n_exec; i++)
		if (strcmp(p->exec[i].path, a->path) == 0)
			break;
	if (i == p->n_exec) {
		set_action(v, VIGIL_ACT_DENY, "not_listed");
		snprintf(v->why, sizeof(v->why), "No exec.allow rule names %s.", a->path);
		goto out;
	}
	v->rule = (long)i;
	v->rule_name = p->exec[i].name;
	rule_audit = p->exec[i].audit;
	if (a->has_sha256 && memcmp(a->sha256, p->exec[i].sha256, POLICY_SHA256_LEN) != 0) {
		/* Loaded with the listed digest, then written: revoked (bpf/exec.bpf.h). */
		set_action(v, VIGIL_ACT_DENY, "modified");
		snprintf(v->why, sizeof(v->why),
		         "exec.allow[%zu] '%s' lists %s with another SHA-256: the file was written "
		         "since the policy checked it.",
		         i, p->exec[i].name, a->path);
		goto out;
	}
	set_action(v, VIGIL_ACT_ALLOW, "rule");
	snprintf(v->why, sizeof(v->why), "exec.allow[%zu] '%s' lists %s and its SHA-256.", i,
	         p->exec[i].name, a->path);
out:
	apply_mode(e, v);
	if (v->verdict == VIGIL_DENY && rule_audit) {
		v->verdict = VIGIL_AUDIT;
		strncat(v->why, " The rule's mode is audit: logged and allowed.",
		        sizeof(v->why) - strlen(v->why) - 1);
	}
}

/* True when rule path r is path or a directory above it. */
static bool covers(const char *r, const char *path)
{
	size_t n = strlen(r);

	if (strcmp(r, "/") == 0)
		return true;
	return strncmp(r, path, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static unsigned int depth_of(const char *path)
{
	unsigned int n = 0;

	for (; *path; path++)
		if (*path == '/' && path[1])
			n++;
	return n;
}

static int action_rank(uint8_t action)
{
	return action == VIGIL_ACT_DENY ? 0 : action == VIGIL_ACT_AUDIT ? 1 : 2;
}

static void decide_file(const struct policy_eval *e, const struct policy_access *a,
                        struct policy_verdict *v)
{
	const struct policy *p = e->p;
	char path[4096];
	size_t i, best = SIZE_MAX, best_len = 0;
	bool trees = e->any_dir;

	v->section = "files.rules";
	if (!p->file_default || (p->file_default == POLICY_ACT_ALLOW && p->n_files == 0)) {
		v->verdict = VIGIL_ALLOW;
		v->reason = "unchecked";
		snprintf(v->why, sizeof(v->why),
		         "The policy has no file rules: files are not "
		         "checked.");
		return;
	}
	if (normalize(a->path, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s", a->path);
	/* Nearest rule for the access: the longest covering path; there deny > audit > allow,
	 * then policy order (policies/policy_file.c merge_rule, bpf/file.bpf.h file_walk). */
	for (i = 0; i < p->n_files; i++) {
		const struct policy_file_rule *r = &p->files[i];
		size_t len = strlen(e->file_paths[i]);

		if (!covers(e->file_paths[i], path))
			continue;
		if (strcmp(e->file_paths[i], path) != 0)
			trees = true; /* a rule on a directory above: the kernel walks parents */
		if (!(r->access & (1u << a->access)))
			continue;
		if (best == SIZE_MAX || len > best_len ||
		    (len == best_len &&
		     action_rank(r->action) < action_rank(p->files[best].action))) {
			best = i;
			best_len = len;
		}
	}
	if (trees && depth_of(path) + 1 > VIGIL_FILE_MAX_DEPTH) {
		set_action(v, VIGIL_ACT_DENY, "too_deep");
		snprintf(
		    v->why, sizeof(v->why),
		    "%s is deeper than the %d components the kernel walks: it could be under a "
		    "denied tree, so it fails closed.",
		    path, VIGIL_FILE_MAX_DEPTH);
	} else if (best == SIZE_MAX) {
		set_action(v, p->file_default, "default");
		snprintf(v->why, sizeof(v->why),
		         "No file rule covers %s for %s: the section's default (%s).", path,
		         policy_file_access_name(a->access), action_name(p->file_default));
	} else {
		const char *rp = e->file_paths[best];

		set_action(v, p->files[best].action, "rule");
		v->rule = (long)best;
		v->rule_name = p->files[best].name;
		if (strcmp(rp, path) == 0)
			snprintf(v->why, sizeof(v->why),
			         "files.rules[%zu] '%s' (%s) is on %s itself; it is the nearest "
			         "rule for %s.",
			         best, p->files[best].name, action_name(p->files[best].action),
			         path, policy_file_access_name(a->access));
		else
			snprintf(v->why, sizeof(v->why),
			         "files.rules[%zu] '%s' (%s) on %s is the nearest rule for %s "
			         "above %s (%u level%s up).",
			         best, p->files[best].name, action_name(p->files[best].action), rp,
			         policy_file_access_name(a->access), path,
			         depth_of(path) - depth_of(rp),
			         depth_of(path) - depth_of(rp) == 1 ? "" : "s");
	}
	apply_mode(e, v);
}

static bool in_prefix(const uint8_t *addr, const uint8_t *net, unsigned int prefix)
{
	unsigned int i;

	for (i = 0; i < prefix; i++)
		if ((addr[i / 8] ^ net[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static void decide_net(const struct policy_eval *e, const struct policy_access *a,
                       struct policy_verdict *v)
{
	const struct policy *p = e->p;
	const struct policy_net_entry *hit = NULL;
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	v->section = "network.rules";
	inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, addr, sizeof(addr));
	if (!p->net_default) {
		v->verdict = VIGIL_ALLOW;
		v->reason = "unchecked";
		snprintf(v->why, sizeof(v->why),
		         "The policy has no network section: sockets are "
		         "not checked.");
		return;
	}
	/* The LPM trie's answer: the longest CIDR of the policy containing the address. */
	for (i = 0; i < e->n_net; i++)
		if (e->net[i].family == a->family &&
		    in_prefix(a->addr, e->net[i].addr, e->net[i].prefix) &&
		    (!hit || e->net[i].prefix > hit->prefix))
			hit = &e->net[i];
	for (i = 0; hit && i < hit->n_rules; i++) {
		const struct policy_net_rule *r = &p->net[hit->rules[i]];

		if (!(r->ops & (1u << a->access)) ||
		    (r->proto != POLICY_PROTO_ANY && r->proto != a->proto) ||
		    a->port < r->port_lo || a->port > r->port_hi)
			continue;
		set_action(v, r->action, "rule");
		v->rule = (long)hit->rules[i];
		v->rule_name = r->name;
		snprintf(v->why, sizeof(v->why),
		         "network.rules[%u] '%s' (%s) is the first rule matching %s %s port %u %s "
		         "in the list of the policy's longest CIDR containing the address (/%u): "
		         "longer prefix, narrower ports, a named protocol, fewer operations, then "
		         "deny > audit > allow.",
		         hit->rules[i], r->name, action_name(r->action),
		         policy_net_op_name(a->access), addr, a->port,
		         a->proto == IPPROTO_TCP ? "tcp" : "udp", hit->prefix);
		goto out;
	}
	set_action(v, p->net_default, "default");
	snprintf(v->why, sizeof(v->why),
	         "No network rule matches %s %s port %u %s: the section's default (%s).",
	         policy_net_op_name(a->access), addr, a->port,
	         a->proto == IPPROTO_TCP ? "tcp" : "udp", action_name(p->net_default));
out:
	apply_mode(e, v);
}

/* The task's cgroup is rule's or below it. */
static bool cgroup_under(const char *cg, const char *rule)
{
	size_t n = strlen(rule);

	return cg && strncmp(cg, rule, n) == 0 &&
	       (cg[n] == 0 || cg[n] == '/' || rule[n - 1] == '/');
}

static void decide_key(const struct policy_eval *e, const struct policy_access *a,
                       struct policy_verdict *v)
{
	const struct policy *p = e->p;
	bool managed = false;
	size_t i;

	v->section = "keys.rules";
	/* Grants in policy order (policy_compile_keys); the first that holds allows. */
	for (i = 0; i < p->n_keys; i++) {
		const struct policy_key_rule *r = &p->keys[i];

		if (strcmp(r->key, a->key) != 0)
			continue;
		managed = true;
		if (!(r->perms & (1u << a->access)))
			continue;
		if (r->uid != UINT32_MAX && r->uid != a->uid)
			continue;
		if (r->cgroup && !cgroup_under(a->cgroup, r->cgroup))
			continue;
		if (r->exe_path && (!a->exe || strcmp(a->exe, r->exe_path) != 0 ||
		                    (a->has_exe_sha256 &&
		                     memcmp(a->exe_sha256, r->exe_sha256, POLICY_SHA256_LEN) != 0)))
			continue;
		set_action(v, VIGIL_ACT_ALLOW, "rule");
		v->rule = (long)i;
		v->rule_name = r->name;
		snprintf(v->why, sizeof(v->why),
		         "keys.rules[%zu] '%s' grants %s on '%s' and its conditions (executable, "
		         "cgroup, uid) hold.",
		         i, r->name, policy_key_perm_name(a->access), a->key);
		return;
	}
	if (!managed) {
		v->verdict = VIGIL_ALLOW;
		v->reason = "unchecked";
		snprintf(v->why, sizeof(v->why), "No key rule names '%s': the key is not managed.",
		         a->key);
		return;
	}
	set_action(v, VIGIL_ACT_DENY, "not_named");
	snprintf(v->why, sizeof(v->why),
	         "'%s' is managed and no keys rule grants %s to this executable, cgroup and uid.",
	         a->key, policy_key_perm_name(a->access));
	apply_mode(e, v);
}

void policy_eval_decide(const struct policy_eval *e, const struct policy_access *a,
                        struct policy_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->rule = -1;
	v->reason = "unchecked";
	switch (a->kind) {
	case POLICY_EVAL_EXEC:
		decide_exec(e, a, v);
		break;
	case POLICY_EVAL_FILE:
		decide_file(e, a, v);
		break;
	case POLICY_EVAL_NET:
		decide_net(e, a, v);
		break;
	case POLICY_EVAL_KEY:
		decide_key(e, a, v);
		break;
	}
}
