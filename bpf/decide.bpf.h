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
