/* Verdict helpers shared by the file, network and key programs: actions, defaults, modes. */
#ifndef VIGIL_DECIDE_BPF_H
#define VIGIL_DECIDE_BPF_H

#include "common.bpf.h"

struct decision {
	__u32 rule_id;
	__u8 verdict; /* enum vigil_verdict */
	__u8 reason;  /* enum vigil_reason */
	bool log;     /* worth an event: deny, audit */
};

static __always_inline void decision_from_action(struct decision *d, __u8 action, __u32 rule_id,
                                                 __u8 reason)
{
	d->rule_id = rule_id;
	d->reason = reason;
	d->verdict = action == VIGIL_ACT_DENY    ? VIGIL_DENY
	             : action == VIGIL_ACT_AUDIT ? VIGIL_AUDIT
	                                         : VIGIL_ALLOW;
	d->log = d->verdict != VIGIL_ALLOW;
}

/* A policy in audit mode logs what it would deny. */
static __always_inline void decision_apply_mode(struct decision *d,
                                                const struct vigil_policy_cfg *cfg)
{
	if (d->verdict == VIGIL_DENY && (cfg->flags & VIGIL_CFG_AUDIT))
		d->verdict = VIGIL_AUDIT;
}

static __always_inline __u8 cfg_default(const struct vigil_policy_cfg *cfg, int shift)
{
	return (cfg->flags >> shift) & VIGIL_CFG_DEFAULT_MASK;
}

/* For governing_policy: a section every policy has (exec: an empty allowlist denies all). */
#define VIGIL_CFG_SECTION_ALWAYS 0

/*
 * The policy that governs the current task for a section flag (VIGIL_CFG_*_RULES): NULL when
 * there is none, or the task is out of scope. A generation published without its config is a
 * vigild bug; *ret_broken tells the caller to fail closed, as exec enforcement does.
 */
static __always_inline struct vigil_policy_cfg *governing_policy(__u32 section, __u32 *ret_gen,
                                                                 bool *ret_broken)
{
	struct vigil_policy_cfg *cfg;

	*ret_broken = false;
	if (is_agent())
		return NULL;
	cfg = current_policy(ret_gen);
	if (!cfg) {
		if (*ret_gen) {
			stat_inc(VIGIL_STAT_NO_CFG);
			*ret_broken = true;
		}
		return NULL;
	}
	if ((section && !(cfg->flags & section)) || !in_scope(cfg, *ret_gen))
		return NULL;
	return cfg;
}

/*
 * governing_policy for the two hottest decisions (an allowed open, an allowed connect), with
 * vigild's exemption left to the caller: vigild is exempt from every refusal and event, and an
 * allowed decision without an event is the same for vigild as for anyone, so the caller tests
 * is_agent() (a helper call) only before a refusal or an event, never on the allowed path.
 */
static __always_inline struct vigil_policy_cfg *
governing_policy_agent_later(__u32 section, __u32 *ret_gen, bool *ret_broken)
{
	struct vigil_policy_cfg *cfg;

	*ret_broken = false;
	cfg = current_policy(ret_gen);
	if (!cfg) {
		/* vigild is not refused for a broken generation: the agent test comes first. */
		if (*ret_gen && !is_agent()) {
			stat_inc(VIGIL_STAT_NO_CFG);
			*ret_broken = true;
		}
		return NULL;
	}
	if ((section && !(cfg->flags & section)) || !in_scope(cfg, *ret_gen))
		return NULL;
	return cfg;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_LEARN_SEEN_MAX);
	__type(key, struct vigil_learn_key);
	__type(value, __u64);
} learn_seen SEC(".maps");

/* The current task's executable's inode (NULL for a kernel thread). */
static __always_inline struct inode *task_exe_inode(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, mm, exe_file, f_inode);
}

/*
 * err (-EPERM or 0) as an LSM program returns it after an event's calls: the 6.12 verifier checks
 * the return is within -4095..0 and loses err's range across learn_repeat and the event (vigild
 * failed to load). The barrier keeps the compiler from folding the test away; the sign spread is
 * a range the verifier can follow.
 */
static __always_inline int lsm_ret(int err)
{
	asm volatile("" : "+r"(err));
	return err < 0 ? -EPERM : 0;
}

/* Tested first at every event site, so an enforcing policy pays one flag test, no map. */
static __always_inline bool learning(const struct vigil_policy_cfg *cfg)
{
	return cfg && (cfg->flags & VIGIL_CFG_LEARN);
}

/*
 * Learning mode: true when this (subject, access, object) was logged already in this
 * generation, so the caller sends no event (the repeat is counted). Two CPUs racing on a new
 * key both log it: a duplicate, harmless to `vigil policy learn`.
 */
static __always_inline bool learn_repeat(__u32 gen, __u16 type, const struct decision *d,
                                         __u32 access, __u64 dev, __u64 ino, const __u8 *addr,
                                         __u16 port, __u8 proto)
{
	struct inode *exe = task_exe_inode();
	struct vigil_learn_key k = {};
	__u64 zero = 0, *n;

	k.subj_dev = BPF_CORE_READ(exe, i_sb, s_dev);
	k.subj_ino = BPF_CORE_READ(exe, i_ino);
	k.dev = dev;
	k.ino = ino;
	if (addr)
		__builtin_memcpy(k.addr, addr, sizeof(k.addr));
	k.gen = gen;
	k.access = access;
	k.uid = (__u32)bpf_get_current_uid_gid();
	k.type = type;
	k.port = port;
	k.proto = proto;
	k.verdict = d->verdict;
	n = bpf_map_lookup_elem(&learn_seen, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		stat_inc(VIGIL_STAT_LEARN_REPEAT);
		return true;
	}
	/* Counted on insertion (learning only): `vigil policy learn --collect` compares the count
	 * with the map's size to say whether evictions can have repeated events. */
	if (bpf_map_update_elem(&learn_seen, &k, &zero, BPF_NOEXIST) == 0)
		stat_inc(VIGIL_STAT_LEARN_NEW);
	return false;
}

/* Reserves an event for a decision; the caller adds its own fields and submits. */
static __always_inline struct vigil_event *decision_event(__u16 type, __u32 gen,
                                                          const struct vigil_policy_cfg *cfg,
                                                          const struct decision *d, int err,
                                                          __u32 access)
{
	struct vigil_event *e = event_start(type, gen, cfg);

	if (!e)
		return NULL;
	e->verdict = d->verdict;
	e->reason = d->reason;
	e->rule_id = d->rule_id;
	e->err = err;
	e->access = access;
	return e;
}

#endif /* VIGIL_DECIDE_BPF_H */
