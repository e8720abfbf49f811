/*
 * Exec enforcement: bprm_check_security, exec mappings, and invalidation of written binaries
 * (called from the file section's file_open and path_truncate programs: one program per hook).
 */
#ifndef VIGIL_EXEC_BPF_H
#define VIGIL_EXEC_BPF_H

#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_EXEC_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_exec_key);
	__type(value, struct vigil_exec_val);
} exec_allow SEC(".maps");

/*
 * The file each task's last exec was allowed for. The kernel maps that file (PROT_EXEC) after
 * bprm_check, so a policy swap landing in between would judge one exec under two generations
 * (seen: allowed by generation N, its mapping denied by N+1, the task killed by SIGSEGV). The
 * exec's own mappings of that file follow the exec's decision instead: old or new, never both.
 */
struct exec_pin {
	__u64 dev;
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct exec_pin);
} exec_pins SEC(".maps");

static __always_inline struct exec_pin file_pin(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);

	return (struct exec_pin){.dev = BPF_CORE_READ(inode, i_sb, s_dev),
	                         .ino = BPF_CORE_READ(inode, i_ino)};
}

/* Records (allowed) or forgets (denied) the file of the exec in progress. */
static __always_inline void exec_pin_set(struct file *file, bool allowed)
{
	struct exec_pin *pin = bpf_task_storage_get(&exec_pins, bpf_get_current_task_btf(), 0,
	                                            BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (pin)
		*pin = allowed ? file_pin(file) : (struct exec_pin){0};
}

/* Only while that exec is still in progress: afterwards every mapping is judged afresh. */
static __always_inline bool exec_pinned(struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct exec_pin *pin;
	struct exec_pin f;

	if (!BPF_CORE_READ_BITFIELD_PROBED(task, in_execve))
		return false;
	pin = bpf_task_storage_get(&exec_pins, task, 0, 0);
	if (!pin || !pin->ino)
		return false;
	f = file_pin(file);
	return pin->dev == f.dev && pin->ino == f.ino;
}

struct exec_decision {
	__u32 rule_id;
	__u8 verdict;
	__u8 reason;
};

static __always_inline void exec_judge(struct file *file, const struct vigil_policy_cfg *cfg,
                                       __u32 gen, struct exec_decision *d)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	struct vigil_exec_key key = {.gen = gen};
	struct vigil_exec_val *val;
	bool audit = cfg->flags & VIGIL_CFG_AUDIT;

	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key.ino = BPF_CORE_READ(inode, i_ino);
	d->rule_id = 0;

	/* memfd and unlinked files have no identity a policy could have checked. */
	if (BPF_CORE_READ(inode, __i_nlink) == 0) {
		d->reason = VIGIL_R_FILELESS;
		d->verdict = (cfg->flags & VIGIL_CFG_ALLOW_FILELESS) ? VIGIL_ALLOW : VIGIL_DENY;
		goto out;
	}
	val = bpf_map_lookup_elem(&exec_allow, &key);
	if (!val) {
		d->reason = VIGIL_R_NOT_LISTED;
		d->verdict = VIGIL_DENY;
		goto out;
	}
	d->rule_id = val->rule_id;
	if (val->flags & VIGIL_RULE_AUDIT)
		audit = true;
	if (val->revoked) {
		d->reason = VIGIL_R_MODIFIED;
		d->verdict = VIGIL_DENY;
		goto out;
	}
	/* A writer holding the file open could change it after this check. */
	if (BPF_CORE_READ(inode, i_writecount.counter) > 0) {
		d->reason = VIGIL_R_OPEN_WRITE;
		d->verdict = VIGIL_DENY;
		goto out;
	}
	d->reason = VIGIL_R_RULE;
	d->verdict = VIGIL_ALLOW;
out:
	if (d->verdict == VIGIL_DENY && audit)
		d->verdict = VIGIL_AUDIT;
}

/* Decides an exec-like use of file; emits an event for every exec and for every non-allow. */
static __always_inline int exec_check(struct file *file, __u16 type, bool with_path)
{
	struct vigil_policy_cfg *cfg;
	struct exec_decision d;
	struct vigil_event *e;
	__u32 gen;
	int err;

	if (is_agent())
		return 0;
	cfg = current_policy(&gen);
	if (!gen)
		return 0; /* no policy published yet: vigild has not finished starting */
	if (!cfg) {
		/* A generation without config is a vigild bug; fail closed, loudly. */
		stat_inc(VIGIL_STAT_NO_CFG);
		d.verdict = VIGIL_DENY;
		d.reason = VIGIL_R_NO_POLICY;
		d.rule_id = 0;
	} else {
		if (!in_scope(cfg, gen))
			return 0;
		exec_judge(file, cfg, gen, &d);
	}
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	stat_inc(d.verdict == VIGIL_ALLOW  ? VIGIL_STAT_EXEC_ALLOW
	         : d.verdict == VIGIL_DENY ? VIGIL_STAT_EXEC_DENY
	                                   : VIGIL_STAT_EXEC_AUDIT);
	if (d.verdict == VIGIL_ALLOW && type != VIGIL_EV_EXEC)
		return 0; /* library and loader mappings of allowed files are not news */

	e = event_start(type, gen, cfg);
	if (!e)
		return err;
	event_set_file(e, file, with_path);
	e->verdict = d.verdict;
	e->reason = d.reason;
	e->rule_id = d.rule_id;
	e->err = err;
	bpf_ringbuf_submit(e, 0);
	return err;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(vigil_bprm_check, struct linux_binprm *bprm, int ret)
{
	int r;

	if (ret)
		return ret;
	r = exec_check(bprm->file, VIGIL_EV_EXEC, true);
	exec_pin_set(bprm->file, r == 0);
	return r;
}

SEC("lsm/mmap_file")
int BPF_PROG(vigil_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
             unsigned long flags, int ret)
{
	if (ret)
		return ret;
	if (!file || !(prot & PROT_EXEC))
		return 0;
	/* The binary this task was allowed to exec: that decision stands (see exec_pins). */
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
	bpf_ringbuf_submit(e, 0);
}

#endif /* VIGIL_EXEC_BPF_H */
