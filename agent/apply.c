/* Applies a policy: fill a pending generation, verify it, publish it with one store, retire the old
 * one. */
#include "agent/agent.h"
#include "lib/log.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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
	int r;

	if (p->scope_guest)
		return 0;
	if (statfs(root, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return policy_errorf(err, -ENOTDIR, "%s: scope: %s is not a cgroup2 mount",
		                     p->origin, root);
	ap->cgroup_ids = calloc(p->n_cgroups, sizeof(*ap->cgroup_ids));
	if (!ap->cgroup_ids)
		return -ENOMEM;
	for (i = 0; i < p->n_cgroups; i++) {
		r = agent_cgroup_id(root, p->cgroups[i], "scope", &ap->cgroup_ids[i]);
		if (r < 0)
			return policy_errorf(err, r,
			                     "%s: scope.cgroups[%zu]: %s%s: cannot create or open",
			                     p->origin, i, root, p->cgroups[i]);
		ap->n_cgroups++;
	}
	return 0;
}

int agent_cgroup_id(const char *root, const char *cgroup, const char *what, uint64_t *ret)
{
	char path[4096];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s%s", root, cgroup) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0755) == 0)
		log_info("created %s cgroup %s", what, cgroup);
	/* errno read right after this stat: mkdir's EEXIST must not become the reason. */
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*ret = st.st_ino;
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

static void exec_key_at(const void *ctx, size_t i, void *out)
{
	*(struct vigil_exec_key *)out = exec_key(ctx, i);
}

static int insert_exec(struct agent *a, const struct applied_policy *ap, struct policy_error *err)
{
	struct vigil_exec_key *keys = calloc(ap->n_exec + 1, sizeof(*keys));
	struct vigil_exec_val *vals = calloc(ap->n_exec + 1, sizeof(*vals));
	size_t i;
	int r = -ENOMEM;

	if (!keys || !vals)
		goto out;
	for (i = 0; i < ap->n_exec; i++) {
		const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];

		keys[i] = exec_key(ap, i);
		vals[i] = (struct vigil_exec_val){
		    .rule_id = ap->exec[i].rule_id,
		    .flags = rule->audit ? VIGIL_RULE_AUDIT : 0,
		};
	}
	r = agent_map_update_batch(a->skel->maps.exec_allow, keys, vals, ap->n_exec);
	if (r < 0)
		policy_errorf(err, r, "%s: exec rules: map insert failed: %s", ap->policy->origin,
		              strerror(-r));
out:
	free(keys);
	free(vals);
	return r;
}

static uint64_t revocations(struct agent *a)
{
	return __atomic_load_n(&a->skel->bss->exec_revocations, __ATOMIC_ACQUIRE);
}

/* Every exec_allow entry, sorted by key: revocation checks of 100,000 entries in a few
 * syscalls instead of one lookup each. Not taken: the checks look entries up one by one. */
struct exec_snapshot {
	struct snap_entry {
		struct vigil_exec_key key;
		struct vigil_exec_val val;
	} * v;
	size_t n;
	bool taken;
};

static int key_cmp(const void *a, const void *b)
{
	const struct vigil_exec_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Best effort: without a snapshot (old kernel, no memory) the checks look entries up one by
 * one, as correct and slower. */
static void snapshot_take(struct agent *a, struct exec_snapshot *s)
{
	const struct bpf_map *map = a->skel->maps.exec_allow;
	size_t cap = bpf_map__max_entries(map), i;
	struct vigil_exec_key *keys = malloc(cap * sizeof(*keys));
	struct vigil_exec_val *vals = malloc(cap * sizeof(*vals));
	ssize_t n = keys && vals ? agent_map_dump(map, keys, vals, cap) : -ENOMEM;

	*s = (struct exec_snapshot){0};
	if (n >= 0)
		s->v = malloc(((size_t)n + 1) * sizeof(*s->v));
	if (s->v) {
		for (i = 0; i < (size_t)n; i++)
			s->v[i] = (struct snap_entry){.key = keys[i], .val = vals[i]};
		qsort(s->v, (size_t)n, sizeof(*s->v), key_cmp);
		s->n = (size_t)n;
		s->taken = true;
	}
	free(keys);
	free(vals);
}

static void snapshot_clear(struct exec_snapshot *s)
{
	free(s->v);
	*s = (struct exec_snapshot){0};
}

/* True when gen's entry for the file of ap's entry i is revoked; a missing entry counts as
 * revoked (fail closed: nothing vouches for the file then). */
static bool entry_revoked(struct agent *a, const struct exec_snapshot *s,
                          const struct applied_policy *ap, size_t i, uint32_t gen)
{
	struct vigil_exec_key key = exec_key(ap, i);
	const struct snap_entry *found;
	struct vigil_exec_val val;

	key.gen = gen;
	if (s->taken) {
		found = bsearch(&key, s->v, s->n, sizeof(*s->v), key_cmp);
		return !found || found->val.revoked;
	}
	return bpf_map_lookup_elem(map_fd(a->skel->maps.exec_allow), &key, &val) < 0 || val.revoked;
}

/*
 * Marks the files the active generation vouches for: same (dev, ino), digest, ctime and size,
 * and its entry not revoked. Its entry went in before its digest check and every write-open or
 * truncate since has revoked it, so unrevoked means the content is still the one checked.
 * Called after the pending entries are in: a write from here on revokes both generations'
 * entries, and revoke_written_during_load sees it.
 */
static int reuse_verified(struct agent *a, struct applied_policy *next)
{
	const struct applied_policy *cur = &a->cur;
	/* Unmoved since cur was known clean: no entry of any generation was revoked. */
	bool clean = cur->revocations == revocations(a);
	struct exec_snapshot snap;
	ssize_t n;
	size_t i;

	/* Nothing we verified is enforcing yet: a first load, or adopting an earlier vigild's. */
	if (!cur->gen || !cur->policy)
		return 0;
	n = policy_exec_mark_unchanged(cur->policy, cur->exec, cur->n_exec, next->policy,
	                               next->exec, next->n_exec);
	if (n <= 0 || clean)
		return n < 0 ? (int)n : 0;
	snapshot_take(a, &snap);
	for (i = 0; i < next->n_exec; i++)
		if ((next->exec[i].flags & POLICY_EXEC_UNCHANGED) &&
		    entry_revoked(a, &snap, next, i, cur->gen))
			next->exec[i].flags &= ~POLICY_EXEC_UNCHANGED;
	snapshot_clear(&snap);
	return 0;
}

/* The value of entry i of the pending generation, revoked: its file is denied as modified. */
static struct vigil_exec_val revoked_val(const struct applied_policy *ap, size_t i)
{
	const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];

	return (struct vigil_exec_val){
	    .rule_id = ap->exec[i].rule_id,
	    .flags = rule->audit ? VIGIL_RULE_AUDIT : 0,
	    .revoked = VIGIL_R_MODIFIED,
	};
}

/* Entry i of the pending generation failed its digest check: installed revoked, recorded. */
static int revoke_bad(struct agent *a, const struct applied_policy *ap, size_t i, const char *why)
{
	const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];
	struct vigil_exec_key key = exec_key(ap, i);
	struct vigil_exec_val val = revoked_val(ap, i);
	int r;

	r = bpf_map_update_elem(map_fd(a->skel->maps.exec_allow), &key, &val, BPF_EXIST);
	if (r < 0)
		return r;
	log_info("warning: %s: rule '%s' stays denied; the rest of the policy applies", why,
	         rule->name);
	agent_event_write(a, "exec_invalidated",
	                  json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "reason",
	                            vigil_reason_name(VIGIL_R_MODIFIED), "rule", rule->name, "path",
	                            rule->path, "dev", (json_int_t)ap->exec[i].dev, "ino",
	                            (json_int_t)ap->exec[i].ino, "policy_serial",
	                            (json_int_t)ap->policy->serial, "check", "digest_at_load",
	                            "error", why));
	return 0;
}

/*
 * After hashing: any file written since its pending entry went in has revoked set by the kernel
 * (which also emitted its exec_invalidated event), and a file not re-read must also still be
 * unrevoked in the generation that vouched for it. Such a file stays denied until a later load
 * reads it again; the rest of the policy applies. (Refusing the whole policy here let any
 * writer of a listed file veto every update.) The snapshot is read after hashing.
 */
static int revoke_written_during_load(struct agent *a, const struct applied_policy *ap)
{
	struct exec_snapshot snap;
	size_t i;
	int r = 0;

	snapshot_take(a, &snap);
	for (i = 0; i < ap->n_exec && r == 0; i++) {
		const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];
		struct vigil_exec_key key = exec_key(ap, i);
		struct vigil_exec_val val = revoked_val(ap, i);

		if (entry_revoked(a, &snap, ap, i, ap->gen)) {
			log_info(
			    "warning: exec.allow[%u]: rule '%s': %s was written while the policy "
			    "loaded: denied until a reload reads it again",
			    ap->exec[i].rule_id, rule->name, rule->path);
			continue;
		}
		if (!((ap->exec[i].flags & POLICY_EXEC_UNCHANGED) &&
		      entry_revoked(a, &snap, ap, i, a->cur.gen)))
			continue;
		/* Vouched for by an entry revoked since: the pending one must not allow it. */
		r = bpf_map_update_elem(map_fd(a->skel->maps.exec_allow), &key, &val, BPF_EXIST);
		log_info("warning: exec.allow[%u]: rule '%s': %s was written while the policy "
		         "loaded: denied until a reload reads it again",
		         ap->exec[i].rule_id, rule->name, rule->path);
	}
	snapshot_clear(&snap);
	return r;
}

/*
 * Digests, rule by rule. A listed file is the workload's to write, so a file that fails its
 * check (content changed, replaced, unreadable) costs only its own rule: its pending entry is
 * revoked (denied, reason modified), with an exec_invalidated event and audit record naming the
 * rule, and the rest of the policy applies. Only what no workload controls (no memory) fails
 * the load. policy_verify_exec stops at the first bad file (flagged POLICY_EXEC_BAD, every
 * entry before it checked), so each bad file costs one more call from the entry after it.
 */
static int verify_exec(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	size_t off = 0, i;
	int r;

	ap->n_hashed = 0;
	for (;;) {
		struct policy_error e = {0};
		size_t hashed = 0;

		r = policy_verify_exec(ap->policy, a->opt.root, ap->exec + off, ap->n_exec - off,
		                       &hashed, &e);
		if (r == 0) {
			ap->n_hashed += hashed;
			return 0;
		}
		for (i = off; i < ap->n_exec && !(ap->exec[i].flags & POLICY_EXEC_BAD); i++)
			;
		if (r == -ENOMEM || i == ap->n_exec) {
			*err = e; /* not a file's fault, or no file to blame: fail the load */
			return r;
		}
		ap->n_hashed += i + 1 - off;
		r = revoke_bad(a, ap, i, e.msg);
		if (r < 0)
			return policy_errorf(err, r, "%s: revoking exec.allow[%u]: %s",
			                     ap->policy->origin, ap->exec[i].rule_id, strerror(-r));
		off = i + 1;
	}
}

/*
 * Files a writer held open at their digest check (POLICY_EXEC_WRITER): the writer can change
 * them unseen (file_open saw its open before any entry existed), so their pending entries are
 * revoked before they take effect, as a write-open would; the exec is refused until a later
 * load re-checks the file with no writer. Same record as the kernel's invalidations.
 */
static int revoke_written(struct agent *a, const struct applied_policy *ap)
{
	size_t i;

	for (i = 0; i < ap->n_exec; i++) {
		const struct policy_exec_rule *rule = &ap->policy->exec[ap->exec[i].rule_id];
		struct vigil_exec_key key = exec_key(ap, i);
		struct vigil_exec_val val = {
		    .rule_id = ap->exec[i].rule_id,
		    .flags = rule->audit ? VIGIL_RULE_AUDIT : 0,
		    .revoked = VIGIL_R_WRITER_AT_LOAD,
		};

		if (!(ap->exec[i].flags & POLICY_EXEC_WRITER))
			continue;
		int r =
		    bpf_map_update_elem(map_fd(a->skel->maps.exec_allow), &key, &val, BPF_EXIST);

		if (r < 0)
			return r; /* libbpf returns -errno */
		log_info(
		    "warning: exec.allow[%u]: rule '%s': %s %s: it will not run until a reload "
		    "finds no writer",
		    ap->exec[i].rule_id, rule->name, rule->path,
		    (ap->exec[i].flags & POLICY_EXEC_UNPROVEN)
		        ? "cannot be proved free of writers (no lease on this file system)"
		        : "is open for writing");
		agent_event_write(a, "exec_invalidated",
		                  json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "reason",
		                            vigil_reason_name(VIGIL_R_WRITER_AT_LOAD), "rule",
		                            rule->name, "path", rule->path, "dev",
		                            (json_int_t)ap->exec[i].dev, "ino",
		                            (json_int_t)ap->exec[i].ino, "policy_serial",
		                            (json_int_t)ap->policy->serial));
	}
	return 0;
}

/*
 * Paths, rule by rule: a listed file the workload deleted or replaced by a non-file has no
 * identity to allow; its rule installs no entry (whatever now sits at the path is not listed),
 * is recorded like a failed digest, and the rest of the policy applies.
 */
static int resolve_exec(struct agent *a, struct applied_policy *ap, struct policy_error *err)
{
	const struct policy *p = ap->policy;
	size_t i, n = 0;
	int r;

	r = policy_resolve_exec_lenient(p, a->opt.root, &ap->exec, &ap->n_exec, err);
	if (r < 0)
		return r;
	for (i = 0; i < ap->n_exec; i++) {
		const struct policy_exec_rule *rule = &p->exec[ap->exec[i].rule_id];

		if (!(ap->exec[i].flags & POLICY_EXEC_BAD)) {
			ap->exec[n++] = ap->exec[i];
			continue;
		}
		log_info("warning: %s: exec.allow[%u]: rule '%s': %s is not a regular file (or is "
		         "gone): nothing at that path runs; the rest of the policy applies",
		         p->origin, ap->exec[i].rule_id, rule->name, rule->path);
		agent_event_write(a, "exec_invalidated",
		                  json_pack("{s:s, s:s, s:s, s:I, s:s}", "reason",
		                            vigil_reason_name(VIGIL_R_NOT_LISTED), "rule",
		                            rule->name, "path", rule->path, "policy_serial",
		                            (json_int_t)p->serial, "check", "resolve_at_load"));
	}
	ap->n_exec = n;
	return 0;
}

static int insert_scope_and_cfg(struct agent *a, const struct applied_policy *ap)
{
	const struct policy *p = ap->policy;
	uint32_t slot = ap->gen % VIGIL_CFG_SLOTS;
	struct vigil_policy_cfg cfg = {
	    .serial = p->serial,
	    .gen = ap->gen,
	    .rule_count = (uint32_t)p->n_exec,
	    .flags = (p->scope_guest ? VIGIL_CFG_SCOPE_GUEST : 0) |
	             (p->audit ? VIGIL_CFG_AUDIT : 0) | (p->learn ? VIGIL_CFG_LEARN : 0) |
	             (p->allow_fileless ? VIGIL_CFG_ALLOW_FILELESS : 0) |
	             agent_sections_cfg_flags(p),
	    .cap_allow = agent_cap_allow(p),
	};
	uint8_t one = 1;
	size_t i;

	/* Without a directory among the entries the kernel looks up only the file itself. */
	for (i = 0; i < ap->n_files; i++)
		if (ap->files[i].dir) {
			cfg.flags |= VIGIL_CFG_FILE_TREES;
			break;
		}
	if (ap->n_cgroups <= VIGIL_CFG_SCOPE_MAX) {
		cfg.flags |= VIGIL_CFG_SCOPE_INLINE;
		cfg.n_scope = (uint32_t)ap->n_cgroups;
		for (i = 0; i < ap->n_cgroups; i++)
			cfg.scope_id[i] = ap->cgroup_ids[i];
	}
	for (i = 0; i < ap->n_cgroups; i++) {
		struct vigil_scope_key key = {.cgroup_id = ap->cgroup_ids[i], .gen = ap->gen};

		int r =
		    bpf_map_update_elem(map_fd(a->skel->maps.scope_cgroups), &key, &one, BPF_ANY);

		if (r < 0)
			return r;
	}
	/* The slot last held generation gen - SLOTS, long unpublished: no program reads it. */
	return bpf_map_update_elem(map_fd(a->skel->maps.policy_cfg), &slot, &cfg, BPF_ANY);
}

/* Removes a generation's entries; missing entries are fine (a partial insert). */
static void remove_generation(struct agent *a, const struct applied_policy *ap)
{
	size_t i;

	if (!ap->gen)
		return;
	agent_remove_sections(a, ap);
	agent_map_delete_keys(a->skel->maps.exec_allow, ap->n_exec, exec_key_at, ap);
	for (i = 0; i < ap->n_cgroups; i++) {
		struct vigil_scope_key key = {.cgroup_id = ap->cgroup_ids[i], .gen = ap->gen};

		bpf_map_delete_elem(map_fd(a->skel->maps.scope_cgroups), &key);
	}
	agent_cfg_clear(a, ap->gen);
}

/*
 * A program that read the old active_gen just before the switch is still deciding with the old
 * generation's entries; removing them under it would turn its verdict into "not listed". The
 * programs run inside RCU read-side sections, so one grace period (MEMBARRIER_CMD_GLOBAL is
 * synchronize_rcu) ends every such decision. Without membarrier, a pause far longer than any
 * program run.
 */
static void wait_for_readers(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) < 0)
		usleep(20 * 1000);
}

/* Where apply spends its time, logged per swap (bench/swap-guest.sh reads it). */
enum { PH_RESOLVE, PH_INSERT, PH_HASH, PH_REST, PH_REMOVE, PH_COUNT };

static void phase_mark(double t[PH_COUNT], double *last, int phase)
{
	double now = vigil_now_ms();

	t[phase] += now - *last;
	*last = now;
}

int agent_apply_policy(struct agent *a, struct policy *p, struct policy_error *err)
{
	uint32_t active = __atomic_load_n(&a->skel->bss->active_gen, __ATOMIC_ACQUIRE);
	struct applied_policy next = {.policy = p, .gen = active + 1};
	double t[PH_COUNT] = {0}, last = vigil_now_ms();
	uint64_t seq;
	int r;

	r = resolve_exec(a, &next, err);
	if (r < 0)
		goto fail;
	r = resolve_cgroups(a, &next, err);
	if (r < 0)
		goto fail;
	phase_mark(t, &last, PH_RESOLVE);
	/* Entries first, hashing second: a write in between revokes the pending entry too. */
	seq = revocations(a);
	r = insert_exec(a, &next, err);
	if (r < 0)
		goto fail;
	phase_mark(t, &last, PH_INSERT);
	r = reuse_verified(a, &next);
	if (r < 0)
		goto fail;
	r = verify_exec(a, &next, err);
	if (r < 0)
		goto fail;
	phase_mark(t, &last, PH_HASH);
	/* Unmoved: no entry was revoked since before ours went in, so none of ours is. */
	next.revocations = revocations(a);
	if (next.revocations != seq) {
		r = revoke_written_during_load(a, &next);
		if (r < 0) {
			policy_errorf(err, r, "%s: revoking files written during the load: %s",
			              p->origin, strerror(-r));
			goto fail;
		}
	}
	r = revoke_written(a, &next);
	if (r < 0) {
		policy_errorf(err, r, "%s: revoking files open for writing: %s", p->origin,
		              strerror(-r));
		goto fail;
	}
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
		r = a->before_publish(a, p, err);
		if (r < 0)
			goto fail;
	}
	/* The switch: programs read active_gen once per decision, so each sees old or new. */
	__atomic_store_n(&a->skel->bss->active_gen, next.gen, __ATOMIC_RELEASE);
	phase_mark(t, &last, PH_REST);
	wait_for_readers();

	remove_generation(a, &a->cur);
	if (a->adopting) {
		/* An earlier vigild's generations: we know them only by their keys. */
		agent_sweep_generations(a, next.gen);
		a->adopting = false;
	}
	phase_mark(t, &last, PH_REMOVE);
	log_info("apply phases (ms): resolve %.1f, insert %.1f, reuse+hash %.1f, sections+measure "
	         "%.1f, remove old %.1f",
	         t[PH_RESOLVE], t[PH_INSERT], t[PH_HASH], t[PH_REST], t[PH_REMOVE]);
	/* Only the policy is still needed, to name rules in events decided under it. */
	applied_policy_clear(&a->prev);
	a->prev = a->cur;
	a->cur = next;
	log_info("policy '%s' serial %llu enforcing (%s, %zu exec rules, %zu files hashed, "
	         "generation %u)",
	         p->name, (unsigned long long)p->serial,
	         p->learn   ? "learn"
	         : p->audit ? "audit"
	                    : "enforce",
	         p->n_exec, next.n_hashed, next.gen);
	return 0;

fail:
	remove_generation(a, &next);
	next.policy = NULL; /* the caller keeps p on failure */
	applied_policy_clear(&next);
	return r;
}
