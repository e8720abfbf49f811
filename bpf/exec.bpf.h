/*
 * Exec enforcement: bprm_check_security, exec mappings, and invalidation of written binaries
 * (called from the file section's file_open, mmap_file and path_truncate programs: one program
 * per hook, each extra program on a hook costs a trampoline call on every exec or open).
 */
#ifndef VIGIL_EXEC_BPF_H
#define VIGIL_EXEC_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "self.bpf.h"
#include "confine.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_EXEC_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_exec_key);
	__type(value, struct vigil_exec_val);
} exec_allow SEC(".maps");

/*
 * An exec's own PROT_EXEC mappings of its binary follow the exec's decision. The kernel maps
 * the binary after bprm_check, so a policy swap landing in between would judge one exec under
 * two generations (seen: allowed by generation N, its mapping denied by N+1, the task killed by
 * SIGSEGV): old or new, never both. While a task is in execve past bprm_check, the file it maps
 * that is its new mm's exe_file (set by begin_new_exec, before the ELF loader maps anything) is
 * the binary bprm_check allowed: a denied exec never gets that far. A task-storage pin written
 * by bprm_check did the same for the price of a storage allocation in every new process.
 */
static __always_inline bool exec_pinned(struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *exe;

	if (!BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))
		return false;
	exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
	return exe && exe == BPF_CORE_READ(file, f_inode);
}

static __always_inline void exec_judge(struct file *file, const struct vigil_policy_cfg *cfg,
                                       __u32 gen, struct decision *d)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct vigil_exec_key key = {.gen = gen};
	struct vigil_exec_val *val;
	bool rule_audit = false;

	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);

	/* memfd and unlinked files have no identity a policy could have checked. */
	if (BPF_CORE_READ(inode, __i_nlink) == 0) {
		decision_from_action(
		    d, (cfg->flags & VIGIL_CFG_ALLOW_FILELESS) ? VIGIL_ACT_ALLOW : VIGIL_ACT_DENY,
		    0, VIGIL_R_FILELESS);
		goto out;
	}
	val = bpf_map_lookup_elem(&exec_allow, &key);
	if (!val) {
		decision_from_action(d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_LISTED);
		goto out;
	}
	rule_audit = val->flags & VIGIL_RULE_AUDIT;
	if (val->revoked)
		decision_from_action(d, VIGIL_ACT_DENY, val->rule_id, VIGIL_R_MODIFIED);
	/* A writer holding the file open could change it after this check. */
	else if (BPF_CORE_READ(inode, i_writecount.counter) > 0)
		decision_from_action(d, VIGIL_ACT_DENY, val->rule_id, VIGIL_R_OPEN_WRITE);
	else
		decision_from_action(d, VIGIL_ACT_ALLOW, val->rule_id, VIGIL_R_RULE);
out:
	decision_apply_mode(d, cfg);
	if (d->verdict == VIGIL_DENY && rule_audit)
		d->verdict = VIGIL_AUDIT;
}

/*
 * Decides an exec-like use of file; emits an event for every exec (the audit log records every
 * decision) and for every mapping that is not allowed.
 */
static __always_inline int exec_check(struct file *file, __u16 type, bool with_path)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	struct decision d;
	bool broken;
	__u32 gen;
	int err;

	cfg = governing_policy(VIGIL_CFG_SECTION_ALWAYS, &gen, &broken);
	if (broken)
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY); /* fail closed */
	else if (!cfg)
		return 0;
	else
		exec_judge(file, cfg, gen, &d);
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	stat_inc(d.verdict == VIGIL_ALLOW  ? VIGIL_STAT_EXEC_ALLOW
	         : d.verdict == VIGIL_DENY ? VIGIL_STAT_EXEC_DENY
	                                   : VIGIL_STAT_EXEC_AUDIT);
	if (!d.log && type != VIGIL_EV_EXEC)
		return 0; /* library and loader mappings of allowed files are not news */
	if (learning(cfg) &&
	    learn_repeat(gen, type, &d, 0, BPF_CORE_READ(file, f_inode, i_sb, s_dev),
	                 BPF_CORE_READ(file, f_inode, i_ino), NULL, 0, 0))
		return lsm_ret(err);
	e = decision_event(type, gen, cfg, &d, err, 0);
	if (!e)
		return lsm_ret(err);
	event_set_file(e, file, with_path);
	event_submit(e);
	return lsm_ret(err);
}

/* One program on the hook: the exec allowlist, then the gate on vigild's own binary. */
SEC("lsm/bprm_check_security")
int BPF_PROG(vigil_bprm_check, struct linux_binprm *bprm, int ret)
{
	int r;

	if (ret)
		return ret;
	r = exec_check(bprm->file, VIGIL_EV_EXEC, true);
	if (r)
		return r;
	return self_check_exec(bprm);
}

/* The exec part of mmap_file (the file section's program calls it before its file rules). */
static __always_inline int exec_check_mmap(struct file *file)
{
	/* The binary this task was allowed to exec: that decision stands (see exec_pinned). */
	if (exec_pinned(file))
		return 0;
	return exec_check(file, VIGIL_EV_MMAP_EXEC, true);
}

SEC("lsm/file_mprotect")
int BPF_PROG(vigil_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
             unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & PROT_EXEC))
		return 0;
	ret = confine_check_mprotect(vma, prot);
	if (ret)
		return ret;
	file = BPF_CORE_READ(vma, vm_file);
	if (!file)
		return 0;
	return exec_check(file, VIGIL_EV_MPROTECT_EXEC, false);
}

/*
 * Entries of any generation newly marked revoked, ever. vigild reads it around a load: while it
 * has not moved, no entry was revoked, and the per-entry lookups (one syscall each) are skipped.
 */
__u64 exec_revocations = 0;

/* Marks one generation's entry for inode as written; true if it was newly marked. */
static __always_inline bool exec_revoke(struct vigil_exec_key *key, __u8 reason)
{
	struct vigil_exec_val *val = bpf_map_lookup_elem(&exec_allow, key);

	if (!val || val->revoked)
		return false;
	val->revoked = reason;
	__sync_fetch_and_add(&exec_revocations, 1);
	return true;
}

/* Marks an allowlisted inode as written in the active and the pending policy; never denies. */
static __always_inline void exec_invalidate(struct inode *inode, struct file *file, __u8 reason)
{
	struct vigil_exec_key key = {};
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	__u32 gen;
	bool hit;

	cfg = current_policy(&gen);
	key.dev = inode->i_sb->s_dev;
	key.ino = inode->i_ino;
	key.gen = gen + 1;
	hit = exec_revoke(&key, reason);
	if (!gen)
		return;
	key.gen = gen;
	if (!exec_revoke(&key, reason) && !hit)
		return;
	stat_inc(VIGIL_STAT_INVALIDATIONS);
	e = event_start(VIGIL_EV_EXEC_INVALIDATED, gen, cfg);
	if (!e)
		return;
	e->dev = key.dev;
	e->ino = key.ino;
	if (file && bpf_d_path((struct path *)&file->f_path, e->path, sizeof(e->path)) < 0)
		e->path[0] = 0;
	e->verdict = VIGIL_ALLOW;
	e->reason = reason;
	event_submit(e);
}

#endif /* VIGIL_EXEC_BPF_H */
