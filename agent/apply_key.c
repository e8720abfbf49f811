/* Fills and removes a generation's key rule entries and the executables they name. */
#include "agent/agent.h"
#include "lib/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vigil.skel.h"

/* A key rule's cgroup: its id is the directory's inode; created when missing, like a scope's. */
static int cgroup_id(struct agent *a, const struct policy *p, size_t i, uint64_t *ret,
                     struct policy_error *err)
{
	int r = agent_cgroup_id(a->opt.cgroup_root, p->keys[i].cgroup, "key rule", ret);

	if (r < 0)
		return policy_errorf(err, r,
		                     "%s: keys.rules[%zu].cgroup: rule '%s': %s%s: cannot "
		                     "create or open",
		                     p->origin, i, p->keys[i].name, a->opt.cgroup_root,
		                     p->keys[i].cgroup);
	return 0;
}

/*
 * The executable's identity goes into key_exes before its digest is checked, and the kernel
 * marks it on any write, so a change during or after the check is never trusted.
 */
static int key_exe(struct agent *a, const struct applied_policy *ap, size_t i,
                   struct vigil_key_grant *g, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	int fd = bpf_map__fd(a->skel->maps.key_exes);
	struct vigil_file_key key = {.gen = ap->gen};
	char full[4096 + 256];
	uint32_t revoked = 0;
	uint64_t dev, ino;
	struct stat st;
	int r;

	snprintf(full, sizeof(full), "%s%s", a->opt.root, p->keys[i].exe_path);
	if (stat(full, &st) < 0)
		return policy_errorf(err, -errno, "%s: keys.rules[%zu].exe.path: rule '%s': %s: %s",
		                     p->origin, i, p->keys[i].name, full, strerror(errno));
	key.dev = policy_kdev(st.st_dev);
	key.ino = st.st_ino;
	if (bpf_map_update_elem(fd, &key, &revoked, BPF_ANY) < 0)
		return policy_errorf(err, -errno, "%s: key rules: map insert failed: %s", p->origin,
		                     strerror(errno));
	r = policy_resolve_key_exe(p, i, a->opt.root, &dev, &ino, err);
	if (r < 0)
		return r;
	g->exe_dev = dev;
	g->exe_ino = ino;
	if (g->exe_dev != key.dev || g->exe_ino != key.ino ||
	    bpf_map_lookup_elem(fd, &key, &revoked) < 0 || revoked)
		return policy_errorf(
		    err, -ESTALE,
		    "%s: keys.rules[%zu].exe: rule '%s': %s changed while the policy "
		    "loaded",
		    p->origin, i, p->keys[i].name, full);
	return 0;
}

static int key_grant(struct agent *a, const struct applied_policy *ap, uint32_t rule_id,
                     struct vigil_key_grant *g, struct policy_error *err)
{
	const struct policy_key_rule *rule = &ap->policy->keys[rule_id];
	uint64_t cg = 0;
	int r;

	*g = (struct vigil_key_grant){.uid = rule->uid, .perms = rule->perms, .rule_id = rule_id};
	if (rule->cgroup && (r = cgroup_id(a, ap->policy, rule_id, &cg, err)) < 0)
		return r;
	g->cgroup_id = cg;
	if (rule->exe_path && (r = key_exe(a, ap, rule_id, g, err)) < 0)
		return r;
	return 0;
}

static struct vigil_key_key key_key(const struct policy_key_entry *e, uint32_t gen)
{
	struct vigil_key_key k;

	memset(&k, 0, sizeof(k));
	k.gen = gen;
	strncpy(k.desc, e->desc, sizeof(k.desc) - 1);
	return k;
}

int agent_apply_keys(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	int fd = bpf_map__fd(a->skel->maps.key_rules);
	size_t i, j;
	int r;

	r = policy_compile_keys(p, VIGIL_KEY_GRANTS, &ap->keys, &ap->n_keys, err);
	if (r < 0)
		return r;
	if (ap->n_keys > VIGIL_MAX_KEY_NAMES)
		return policy_errorf(err, -E2BIG, "%s: keys.rules: %zu keys named, at most %d",
		                     p->origin, ap->n_keys, VIGIL_MAX_KEY_NAMES);
	for (i = 0; i < ap->n_keys; i++) {
		struct vigil_key_key key = key_key(&ap->keys[i], ap->gen);
		struct vigil_key_val val;

		memset(&val, 0, sizeof(val));
		val.count = ap->keys[i].n_rules;
		for (j = 0; j < ap->keys[i].n_rules; j++) {
			r = key_grant(a, ap, ap->keys[i].rules[j], &val.grants[j], err);
			if (r < 0)
				return r;
		}
		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) < 0)
			return policy_errorf(err, -errno, "%s: key rules: map insert failed: %s",
			                     p->origin, strerror(errno));
	}
	return 0;
}

void agent_remove_keys(struct agent *a, const struct applied_policy *ap)
{
	int exes = bpf_map__fd(a->skel->maps.key_exes);
	size_t i, j;

	for (i = 0; i < ap->n_keys; i++) {
		struct vigil_key_key key = key_key(&ap->keys[i], ap->gen);
		struct vigil_key_val val;

		if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.key_rules), &key, &val) == 0)
			for (j = 0; j < val.count && j < VIGIL_KEY_GRANTS; j++) {
				struct vigil_file_key ek = {.dev = val.grants[j].exe_dev,
				                            .ino = val.grants[j].exe_ino,
				                            .gen = ap->gen};

				if (val.grants[j].exe_ino)
					bpf_map_delete_elem(exes, &ek);
			}
		bpf_map_delete_elem(bpf_map__fd(a->skel->maps.key_rules), &key);
	}
}
