/* Maps, counters and helpers shared by every vigil BPF-LSM program. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"

#define EPERM  1
#define EACCES 13

#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))

#define PROT_EXEC   0x4
#define FMODE_WRITE 0x2
#define S_IFMT      0170000
#define S_IFREG     0100000
#define S_IFCHR     0020000

/* Published by vigild with one aligned store after a policy's maps are complete. */
__u32 active_gen = 0;
/* The running vigild; a restarted agent rewrites it. */
__u32 agent_tgid = 0;
__u32 abi_version = VIGIL_ABI_VERSION;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_CFG_SLOTS);
	__type(key, __u32);
	__type(value, struct vigil_policy_cfg);
} policy_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_SCOPE_CGROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_scope_key);
	__type(value, __u8);
} scope_cgroups SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

/* The policy in force for this decision, or NULL when none is published. */
static __always_inline struct vigil_policy_cfg *current_policy(__u32 *ret_gen)
{
	__u32 gen = READ_ONCE(active_gen);
	__u32 slot = gen & (VIGIL_CFG_SLOTS - 1);
	struct vigil_policy_cfg *cfg;

	*ret_gen = gen;
	if (!gen)
		return NULL;
	cfg = bpf_map_lookup_elem(&policy_cfg, &slot);
	return cfg && cfg->gen == gen ? cfg : NULL;
}

/* True when cgroup id (at one level of a task's ancestry) is one of the scope's cgroups. */
static __always_inline bool scope_has(const struct vigil_policy_cfg *cfg,
                                      struct vigil_scope_key *key)
{
	if (cfg->flags & VIGIL_CFG_SCOPE_INLINE) {
		/*
		 * A few compares instead of a hash lookup per level. Unused slots are 0, which no
		 * cgroup's id is (0 itself never matches): no count to read, and no branch per slot
		 * for the verifier to follow at each of in_scope's 16 levels.
		 */
		_Static_assert(VIGIL_CFG_SCOPE_MAX == 4, "scope_has compares four slots");
		__u64 id = key->cgroup_id;

		return id && (id == cfg->scope_id[0] || id == cfg->scope_id[1] ||
		              id == cfg->scope_id[2] || id == cfg->scope_id[3]);
	}
	return bpf_map_lookup_elem(&scope_cgroups, key) != NULL;
}

/* True when the current task's cgroup or one of its ancestors is in the scope. Inlined: it runs
 * on every decision, where a BPF call would cost more than its verification saves. */
static __always_inline bool in_scope(const struct vigil_policy_cfg *cfg, __u32 gen)
{
	struct vigil_scope_key key = {.gen = gen};
	int level;

	if (cfg->flags & VIGIL_CFG_SCOPE_GUEST)
		return true;
	for (level = 1; level <= VIGIL_MAX_CGROUP_DEPTH; level++) {
		key.cgroup_id = bpf_get_current_ancestor_cgroup_id(level);
		if (!key.cgroup_id)
			return false;
		if (scope_has(cfg, &key))
			return true;
	}
	/* Deeper than we walk: treat as in scope (fail closed). */
	return true;
}

/*
 * The walk of task_in_scope over a cgroup's ancestors (cg_addr: a struct cgroup read through
 * BPF_CORE_READ, a plain number to the verifier). A global function: checked once per program
 * rather than at every call with the caller's state; inlined, this loop was a third of what the
 * verifier processed at a vigild start (with is_agent's copies). One BPF call at run time, on cold
 * paths (signals, ptrace, vigild's identity).
 */
__noinline int vigil_cgroup_in_scope(const struct vigil_policy_cfg *cfg, __u32 gen, __u64 cg_addr)
{
	struct vigil_scope_key key = {.gen = gen};
	struct cgroup *cg = (struct cgroup *)cg_addr, *anc;
	int level, depth;

	if (!cfg || !cg)
		return true; /* cannot tell: fail closed */
	depth = BPF_CORE_READ(cg, level);
	for (level = 1; level <= VIGIL_MAX_CGROUP_DEPTH; level++) {
		if (level > depth)
			return false;
		anc = NULL;
		bpf_core_read(&anc, sizeof(anc), &cg->ancestors[level]);
		key.cgroup_id = BPF_CORE_READ(anc, kn, id);
		if (scope_has(cfg, &key))
			return true;
	}
	return true; /* deeper than we walk: fail closed */
}

/* in_scope for any task (the target of a signal, a ptrace, a /proc write): its cgroup's ancestors.
 */
static __always_inline bool task_in_scope(const struct vigil_policy_cfg *cfg, __u32 gen,
                                          struct task_struct *task)
{
	if (cfg->flags & VIGIL_CFG_SCOPE_GUEST)
		return true;
	return vigil_cgroup_in_scope(cfg, gen, (__u64)BPF_CORE_READ(task, cgroups, dfl_cgrp)) != 0;
}

/*
 * vigild's identity: one predicate, used by every self-protection decision and (through
 * is_agent) by the policy's exemption of vigild.
 *
 * A task is vigild when it runs the vigild binary, (dev, ino) of mm->exe_file, AND either its
 * tgid is the registered agent_tgid or it was started by the platform. The binary alone is not
 * enough: a process whose exe_file was set by prctl(PR_SET_MM_EXE_FILE / PR_SET_MM_MAP) would
 * pass (vigil_self_prctl refuses both outside the platform). The pid alone is not enough: after
 * a crash the pinned agent_tgid names a dead process whose pid the workload may get.
 *
 * "Started by the platform" is how a restarted vigild passes the bpf() gate before it has
 * written agent_tgid: self_check_exec (exec.bpf.h) lets only the platform (or vigild) exec the
 * binary, and the task still sits where the platform put it: outside a cgroup scope, or, under a
 * guest-wide scope, a child of PID 1 (the service manager). A workload process reparented to PID 1
 * looks the same under a guest scope, which is why a cgroup scope does not accept that form.
 */
__u64 agent_exe_dev = 0;
__u64 agent_exe_ino = 0;

static __always_inline bool task_runs_vigild(struct task_struct *task)
{
	struct inode *exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
	__u64 ino = READ_ONCE(agent_exe_ino);

	/* No identity published yet: nobody is vigild (no program runs before it is). */
	return ino && exe && BPF_CORE_READ(exe, i_ino) == ino &&
	       BPF_CORE_READ(exe, i_sb, s_dev) == READ_ONCE(agent_exe_dev);
}

/*
 * The platform: PID 1 (the service manager) and, under a cgroup-scoped policy, every task
 * outside the scope. The workload is the scope.
 */
static __always_inline bool task_is_platform(struct task_struct *task)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (BPF_CORE_READ(task, tgid) == 1)
		return true;
	cfg = current_policy(&gen);
	return cfg && !(cfg->flags & VIGIL_CFG_SCOPE_GUEST) && !task_in_scope(cfg, gen, task);
}

/*
 * Under a guest-wide scope every process but PID 1 is the workload, so "the service manager
 * started it" is read from exec counters: a child of PID 1 that has run exactly execs_since
 * execs since PID 1 forked it was forked by PID 1's own code (its parent_exec_id is PID 1's
 * self_exec_id). An orphan the workload left to PID 1 fails: a workload process forked it (its
 * count is above PID 1's, since the workload runs an exec'd program), or it has exec'd since.
 * Residual: after PID 1 re-executes itself (daemon-reexec) its count can equal the count of an
 * orphan's original parent (docs/THREAT-MODEL.md).
 */
static __always_inline bool task_forked_by_init(struct task_struct *task, __u64 execs_since)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	__u64 pexec = BPF_CORE_READ(task, parent_exec_id);

	return BPF_CORE_READ(parent, tgid) == 1 && pexec == BPF_CORE_READ(parent, self_exec_id) &&
	       BPF_CORE_READ(task, self_exec_id) == pexec + execs_since;
}

/*
 * Not inlined: vigild's identity is asked on cold paths only (a secret, a protected device, bpffs,
 * a signal or ptrace of vigild, vigild's own calls), from dozens of places. One subprogram per
 * program instead of a copy at every call site keeps the programs small (file_open held about
 * twenty copies); the hot paths return before any call.
 */
static __noinline bool task_is_vigild(struct task_struct *task)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (!task_runs_vigild(task))
		return false;
	if (BPF_CORE_READ(task, tgid) == READ_ONCE(agent_tgid))
		return true;
	if (task_is_platform(task))
		return true;
	cfg = current_policy(&gen);
	/* vigild has run one exec (its own) since PID 1 forked it. */
	return (!cfg || (cfg->flags & VIGIL_CFG_SCOPE_GUEST)) && task_forked_by_init(task, 1);
}

/*
 * Global functions: the verifier checks each once, not at every call site (they take no pointer,
 * which 6.1's global functions could not type).
 */
__noinline int vigil_current_is_vigild(void)
{
	return task_is_vigild(bpf_get_current_task_btf());
}

__noinline int vigil_current_is_platform(void)
{
	return task_is_platform(bpf_get_current_task_btf());
}

#define current_is_vigild()   (vigil_current_is_vigild() != 0)
#define current_is_platform() (vigil_current_is_platform() != 0)

/*
 * task_is_vigild for the hot paths (the policy's exemption of vigild): one compare rejects every
 * process but the registered vigild, which then must also run the binary. A restarting vigild
 * is subject to the policy until it has registered, as it was before.
 */
static __always_inline bool is_agent(void)
{
	if ((bpf_get_current_pid_tgid() >> 32) != READ_ONCE(agent_tgid))
		return false;
	/* The global function: task_is_vigild's scope walk (task_in_scope, 16 levels) verified
	 * once per program, not at each of these call sites (300,000 of the 2 million
	 * instructions a vigild start verified when it was). */
	return current_is_vigild();
}

/* Reserves an event and fills the fields every hook shares; counts the drop on failure. */
static __always_inline struct vigil_event *event_start(__u16 type, __u32 gen,
                                                       const struct vigil_policy_cfg *cfg)
{
	struct vigil_event *e;
	struct task_struct *task;
	__u64 id;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(VIGIL_STAT_RB_DROPS);
		return NULL;
	}
	id = bpf_get_current_pid_tgid();
	task = bpf_get_current_task_btf();
	e->ts_boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->policy_serial = cfg ? cfg->serial : 0;
	e->abi_version = VIGIL_ABI_VERSION;
	e->gen = gen;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	id = bpf_get_current_uid_gid();
	e->uid = (__u32)id;
	e->gid = id >> 32;
	e->type = type;
	e->rule_id = 0;
	e->err = 0;
	e->dev = 0;
	e->ino = 0;
	e->path[0] = 0;
	/* The per-kind tail (network peer, key description, ...): zero unless a hook sets it. */
	__builtin_memset(&e->access, 0,
	                 sizeof(*e) - __builtin_offsetof(struct vigil_event, access));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* Reserves the event of a refusal that no policy decides (self-protection, the scope's bounds:
 * enum vigil_self_kind in kind) and counts it; NULL when the ring is full (counted too). */
static __always_inline struct vigil_event *self_event_start(__u32 kind, __u32 gen,
                                                            const struct vigil_policy_cfg *cfg)
{
	struct vigil_event *e;

	stat_inc(VIGIL_STAT_SELF_DENY);
	e = event_start(VIGIL_EV_SELF, gen, cfg);
	if (!e)
		return NULL;
	e->verdict = VIGIL_DENY;
	e->reason = VIGIL_R_SELF;
	e->err = -EPERM;
	e->access = kind;
	return e;
}

/*
 * bpf_d_path is only allowed in hooks of the kernel's sleepable set (bprm_check_security,
 * mmap_file, file_open, ...); elsewhere with_path must be false and the event has dev/ino only.
 */
static __always_inline void event_set_file(struct vigil_event *e, struct file *file, bool with_path)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->ino = BPF_CORE_READ(inode, i_ino);
	if (with_path && bpf_d_path((struct path *)&file->f_path, e->path, sizeof(e->path)) < 0)
		e->path[0] = 0;
}

/*
 * Publishes an event reserved by event_start. An allowed decision (every allowed exec is one)
 * does not wake vigild: a wakeup and a consumer pass per exec were most of what vigild added
 * to an exec (docs/BENCHMARKS.md). vigild still reads it within its drain interval (at most
 * 500 ms: its main loop drains the ring on every turn), or at once when something else wakes
 * it. Anything else (deny, audit, invalidation) wakes vigild, even with allow events queued
 * in front of it (the kernel's default wakes only a consumer that has caught up), and so does
 * a ring more than a quarter full, so a burst of allowed decisions is drained before the ring
 * fills.
 */
static __always_inline void event_submit(struct vigil_event *e)
{
	__u64 flags = BPF_RB_FORCE_WAKEUP;

	if (e->verdict == VIGIL_ALLOW && e->type != VIGIL_EV_EXEC_INVALIDATED &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) <
	        bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4)
		flags = BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

#endif /* VIGIL_COMMON_BPF_H */
