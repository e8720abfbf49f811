/* Applies a policy: fill a pending generation, verify it, publish it with one store, retire the old
 * one. */
#include "agent/agent.h"
#include "agent/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "vigil.skel.h"

void applied_policy_clear(struct applied_policy *ap)
{
	policy_free(ap->policy);
	free(ap->exec);
	free(ap->cgroup_ids);
	agent_sections_clear(ap);
	*ap = (struct applied_policy){0};
}

/* cgroup v2 ids are the cgroup directory's inode number; missing scope cgroups are created. */
static int resolve_cgroups(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	const char *root = a->opt.cgroup_root;
	struct statfs sfs;
	size_t i;

	if (p->scope_guest)
		return 0;
	if (statfs(root, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return policy_errorf(err, -ENOTDIR, "%s: scope: %s is not a cgroup2 mount",
		                     p->origin, root);
	ap->cgroup_ids = calloc(p->n_cgroups, sizeof(*ap->cgroup_ids));
	if (!ap->cgroup_ids)
		return -ENOMEM;
	for (i = 0; i < p->n_cgroups; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", root, p->cgroups[i]);
		if (mkdir(path, 0755) == 0)
			log_info("created scope cgroup %s", p->cgroups[i]);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			return policy_errorf(err, -errno ?: -ENOTDIR,
			                     "%s: scope.cgroups[%zu]: %s: cannot create or open",
			                     p->origin, i, path);
		ap->cgroup_ids[i] = st.st_ino;
		ap->n_cgroups++;
	}
	return 0;
}

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static struct vigil_exec_key exec_key(const struct applied_policy *ap, size_t i)
{
	return (struct vigil_exec_key){
	    .dev = ap->exec[i].dev, .ino = ap->exec[i].ino, .gen = ap->gen};
}

static int insert_exec(struct agent *a, const struct applied_policy *ap, struct policy_error *err)
{
	int fd = map_fd(a->skel->maps.exec_allow);
	size_t i;

	for (i = 0; i < ap->n_exec; i++) {
		const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];
		struct vigil_exec_key key = exec_key(ap, i);
		struct vigil_exec_val val = {
		    .rule_id = ap->exec[i].rule_id,
		    .flags = rule->audit ? VIGIL_RULE_AUDIT : 0,
		};

		if (bpf_map_update_elem(fd, &key, &val, BPF_ANY) < 0)
			return policy_errorf(err, -errno,
			                     "%s: exec rules: map insert failed at %zu: %s",
			                     ap->policy->origin, i, strerror(errno));
	}
	return 0;
}

/* After hashing: any file written since its entry went in has revoked set by the kernel. */
static int check_unrevoked(struct agent *a, const struct applied_policy *ap,
                           struct policy_error *err)
{
	int fd = map_fd(a->skel->maps.exec_allow);
	size_t i;

	for (i = 0; i < ap->n_exec; i++) {
		struct vigil_exec_key key = exec_key(ap, i);
		struct vigil_exec_val val;
		const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];

		if (bpf_map_lookup_elem(fd, &key, &val) < 0)
			return policy_errorf(err, -errno, "%s: exec rules: map lookup failed: %s",
			                     ap->policy->origin, strerror(errno));
		if (val.revoked)
			return policy_errorf(err, -ESTALE,
			                     "%s: exec.allow[%u]: rule '%s': %s was written while "
			                     "the policy loaded",
			                     ap->policy->origin, ap->exec[i].rule_id, rule->name,
			                     rule->path);
	}
	return 0;
}

static int insert_scope_and_cfg(struct agent *a, const struct applied_policy *ap)
{
	const struct policy *p = ap->policy;
	struct vigil_policy_cfg cfg = {
	    .serial = p->serial,
	    .rule_count = (uint32_t)p->n_exec,
	    .flags =
	        (p->scope_guest ? VIGIL_CFG_SCOPE_GUEST : 0) | (p->audit ? VIGIL_CFG_AUDIT : 0) |
	        (p->allow_fileless ? VIGIL_CFG_ALLOW_FILELESS : 0) | agent_sections_cfg_flags(p),
	};
	uint8_t one = 1;
	size_t i;

	for (i = 0; i < ap->n_cgroups; i++) {
		struct vigil_scope_key key = {.cgroup_id = ap->cgroup_ids[i], .gen = ap->gen};

		if (bpf_map_update_elem(map_fd(a->skel->maps.scope_cgroups), &key, &one, BPF_ANY))
			return -errno;
	}
	if (bpf_map_update_elem(map_fd(a->skel->maps.policy_cfg), &ap->gen, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

/* Removes a generation's entries; missing entries are fine (a partial insert). */
static void remove_generation(struct agent *a, const struct applied_policy *ap)
{
	size_t i;

	if (!ap->gen)
		return;
	agent_remove_sections(a, ap);
	for (i = 0; i < ap->n_exec; i++) {
		struct vigil_exec_key key = exec_key(ap, i);

		bpf_map_delete_elem(map_fd(a->skel->maps.exec_allow), &key);
	}
	for (i = 0; i < ap->n_cgroups; i++) {
		struct vigil_scope_key key = {.cgroup_id = ap->cgroup_ids[i], .gen = ap->gen};

		bpf_map_delete_elem(map_fd(a->skel->maps.scope_cgroups), &key);
	}
	bpf_map_delete_elem(map_fd(a->skel->maps.policy_cfg), &ap->gen);
}

int agent_apply_policy(struct agent *a, struct policy *p, struct policy_error *err)
{
	uint32_t active = __atomic_load_n(&a->skel->bss->active_gen, __ATOMIC_ACQUIRE);
	struct applied_policy next = {.policy = p, .gen = active + 1};
	int r;

	r = policy_resolve_exec(p, a->opt.root, &next.exec, &next.n_exec, err);
	if (r < 0)
		goto fail;
	r = resolve_cgroups(a, &next, err);
	if (r < 0)
		goto fail;
	/* Entries first, hashing second: a write in between is caught by check_unrevoked. */
	r = insert_exec(a, &next, err);
	if (r < 0)
		goto fail;
	r = policy_verify_exec(p, a->opt.root, next.exec, next.n_exec, err);
	if (r < 0)
		goto fail;
	r = check_unrevoked(a, &next, err);
	if (r < 0)
		goto fail;
	r = agent_apply_sections(a, &next, err);
	if (r < 0)
		goto fail;
	r = insert_scope_and_cfg(a, &next);
	if (r < 0) {
		policy_errorf(err, r, "%s: filling the policy maps: %s", p->origin, strerror(-r));
		goto fail;
	}
	/* Measured before enforced: a relying party never sees a policy in force it cannot name. */
	if (a->before_publish) {
		r = a->before_publish(a, p);
		if (r < 0) {
			policy_errorf(err, r, "%s: measuring the policy failed: %s", p->origin,
			              strerror(-r));
			goto fail;
		}
	}
	/* The switch: programs read active_gen once per decision, so each sees old or new. */
	__atomic_store_n(&a->skel->bss->active_gen, next.gen, __ATOMIC_RELEASE);

	remove_generation(a, &a->cur);
	if (a->adopting) {
		/* An earlier vigild's generations: we know them only by their keys. */
		agent_sweep_generations(a, next.gen);
		a->adopting = false;
	}
	/* Only the policy is still needed, to name rules in events decided under it. */
	applied_policy_clear(&a->prev);
	a->prev = a->cur;
	a->cur = next;
	log_info("policy '%s' serial %llu enforcing (%s, %zu exec rules, generation %u)", p->name,
	         (unsigned long long)p->serial, p->audit ? "audit" : "enforce", p->n_exec,
	         next.gen);
	return 0;

fail:
	remove_generation(a, &next);
	next.policy = NULL; /* the caller keeps p on failure */
	applied_policy_clear(&next);
	return r;
}
