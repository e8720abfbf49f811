/* Kernel-key enforcement: keys a policy names are usable only by the workloads its rules name. */
#ifndef VIGIL_KEY_BPF_H
#define VIGIL_KEY_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "self.bpf.h"
#include "confine.bpf.h"

/* (gen, description) -> the grants of every rule naming that key. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_KEY_NAMES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_key_key);
	__type(value, struct vigil_key_val);
} key_rules SEC(".maps");

/*
 * (gen, dev, ino) of executables key rules name -> nonzero once opened for write or truncated:
 * the SHA-256 vigild checked no longer vouches for the content.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_KEY_NAMES * VIGIL_KEY_GRANTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_file_key);
	__type(value, __u32);
} key_exes SEC(".maps");

/*
 * The executable a task started at its last exec, recorded only when a key rule of the active
 * or pending generation named it: key grants by executable match this, never mm->exe_file,
 * which prctl(PR_SET_MM_EXE_FILE) rewrites. Children and threads inherit it (task_alloc): they
 * run the same code; a new exec replaces or clears it.
 */
struct key_exe_id {
	__u64 dev;
	__u64 ino;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct key_exe_id);
} key_task_exe SEC(".maps");

#define PTRACE_MODE_ATTACH 0x02

/*
 * Keys and keyrings the scope created (the key's address; deleted at key_free): the only ones it
 * may change. Root's per-uid keyrings (_uid.0, _uid_ses.0) are shared by every uid-0 process,
 * the platform's among them: clearing one, unlinking from it, revoking, invalidating or
 * replacing a link in it removes the platform's keys. A full map leaves a new key unrecorded,
 * so the scope cannot change it (fail closed).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, __u8);
} key_owned SEC(".maps");

/*
 * False on kernels without the key_free hook (6.12 on; vigild sets it before load): a freed
 * key's address could then be taken by a key the platform creates, so nothing is recorded in
 * key_owned and the scope changes no key, its own included (fail closed; docs/KERNELS.md).
 */
const volatile bool key_free_hooked = true;

#define KEY_ALLOC_UID_KEYRING_    0x0010 /* include/linux/key.h: root's per-uid keyrings */
#define NR_keyctl_x86_64          250
#define KEYCTL_INVALIDATE_        21
#define KEYCTL_SESSION_TO_PARENT_ 18

/*
 * keyctl(KEYCTL_INVALIDATE) asks only KEY_NEED_SEARCH, which every lookup asks too: the syscall
 * and its option tell the two apart (x86-64; elsewhere the search stays allowed).
 */
static __always_inline bool key_syscall_is(__u64 option)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return BPF_CORE_READ(regs, orig_ax) == NR_keyctl_x86_64 &&
	       BPF_CORE_READ(regs, di) == option;
#else
	return false;
#endif
}

/* Counts a denial and logs the decision with the key's description; returns the errno. */
static __always_inline int key_finish(const struct vigil_policy_cfg *cfg, __u32 gen,
                                      const struct decision *d, __u32 perm, const char *desc,
                                      __u32 serial)
{
	struct vigil_event *e;
	int err = d->verdict == VIGIL_DENY ? -EPERM : 0;

	if (err)
		stat_inc(VIGIL_STAT_KEY_DENY);
	/* key_alloc runs before the key has a serial: the description's head tells keys apart. */
	if (learning(cfg) &&
	    learn_repeat(gen, VIGIL_EV_KEY, d, perm, 0, serial, (const __u8 *)desc, 0, 0))
		return lsm_ret(err);
	e = decision_event(VIGIL_EV_KEY, gen, cfg, d, err, perm);
	if (!e)
		return lsm_ret(err);
	/* The acting executable (the subject a key rule names): `vigil policy learn` finds its
	 * path among the exec events even when learning mode logged only an earlier exec of it. */
	e->dev = BPF_CORE_READ(task_exe_inode(), i_sb, s_dev);
	e->ino = BPF_CORE_READ(task_exe_inode(), i_ino);
	__builtin_memcpy(e->key_desc, desc, sizeof(e->key_desc));
	event_submit(e);
	return lsm_ret(err);
}

/*
 * A key no rule names, asked by the scope: changing it (write: update, add to or clear or unlink
 * from a keyring, link into it; setattr: setperm, chown, timeout, revoke; invalidate; the
 * CAP_SYS_ADMIN overrides of clear and invalidate) is refused unless the scope created it, and
 * so is handing a session keyring to a parent outside the scope.
 * Reading, searching and linking it elsewhere stay the key's own permissions'. Event: type key,
 * the perm asked, reason not_named, the key's description.
 */
static __always_inline int key_check_foreign(struct key *key, __u64 perm,
                                             const struct vigil_policy_cfg *cfg, __u32 gen,
                                             const char *desc)
{
	struct decision d;
	__u64 addr = (__u64)key;

	bool to_parent = perm == KEY_NEED_LINK && key_syscall_is(KEYCTL_SESSION_TO_PARENT_);

	if (perm != KEY_NEED_WRITE && perm != KEY_NEED_SETATTR && perm != KEY_SYSADMIN_OVERRIDE &&
	    perm != KEY_AUTHTOKEN_OVERRIDE && !to_parent &&
	    !(perm == KEY_NEED_SEARCH && key_syscall_is(KEYCTL_INVALIDATE_)))
		return 0;
	/* The scope as the bounds see it: PID 1 and kernel threads are the platform's. */
	if (!bound_policy(&gen))
		return 0;
	/*
	 * KEYCTL_SESSION_TO_PARENT gives the caller's session keyring (the scope's, which it may
	 * clear) to its parent: refused when the parent is the platform's, whose keys would go
	 * there.
	 */
	if (to_parent) {
		if (!task_in_scope(cfg, gen,
		                   BPF_CORE_READ(bpf_get_current_task_btf(), real_parent)))
			goto deny;
		return 0;
	}
	if (bpf_map_lookup_elem(&key_owned, &addr))
		return 0;
deny:
	decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_NAMED);
	decision_apply_mode(&d, cfg);
	return key_finish(cfg, gen, &d, (__u32)perm, desc, BPF_CORE_READ(key, serial));
}

/* Called on writes: marks the active and the pending generation's entry, like exec's. */
static __always_inline void key_exe_invalidate(struct inode *inode)
{
	struct vigil_file_key key = {};
	__u32 gen = READ_ONCE(active_gen);
	__u32 *revoked;
	int i;

	if (!inode)
		return;
	key.dev = inode->i_sb->s_dev;
	key.ino = inode->i_ino;
	for (i = 0; i < 2; i++) {
		key.gen = gen + i;
		revoked = bpf_map_lookup_elem(&key_exes, &key);
		if (revoked)
			*revoked = 1;
	}
}

static __always_inline bool current_in_cgroup(__u64 id)
{
	int level;

	for (level = 1; level <= VIGIL_MAX_CGROUP_DEPTH; level++) {
		__u64 anc = bpf_get_current_ancestor_cgroup_id(level);

		if (!anc)
			return false;
		if (anc == id)
			return true;
	}
	return false;
}

/* The grant of a rule naming the current task, uid and executable, or NULL. */
static __always_inline struct vigil_key_grant *key_grant(struct vigil_key_val *val, __u32 perm,
                                                         __u32 uid, __u32 gen)
{
	struct key_exe_id *exe =
	    bpf_task_storage_get(&key_task_exe, bpf_get_current_task_btf(), 0, 0);
	struct vigil_file_key exe_key = {.gen = gen};
	int i;

	if (exe) {
		exe_key.dev = exe->dev;
		exe_key.ino = exe->ino;
	}
	for (i = 0; i < VIGIL_KEY_GRANTS; i++) {
		struct vigil_key_grant *g = &val->grants[i];
		__u32 *revoked;

		if (i >= val->count)
			break;
		if (!(g->perms & (1u << perm)))
			continue;
		if (g->uid != VIGIL_ANY_UID && g->uid != uid)
			continue;
		if (g->cgroup_id && !current_in_cgroup(g->cgroup_id))
			continue;
		if (g->exe_ino) {
			if (g->exe_ino != exe_key.ino || g->exe_dev != exe_key.dev)
				continue;
			revoked = bpf_map_lookup_elem(&key_exes, &exe_key);
			if (!revoked || *revoked)
				continue;
		}
		return g;
	}
	return NULL;
}

/*
 * key_permission(key_ref_t, const struct cred *, enum key_need_perm): BPF_PROG cannot read a
 * key_ref_t (a pointer to a declared-only type), so the arguments come from bpf_get_func_arg.
 * A refusal is -EPERM: for -EACCES the kernel would still let a possessor read the key.
 */
SEC("lsm/key_permission")
int vigil_key_permission(unsigned long long *ctx)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_key_key kk = {};
	struct vigil_key_val *val;
	struct decision d;
	__u64 ref = 0, cred_arg = 0, perm = 0;
	struct key *key;
	__u32 gen, uid;
	int ret = (int)ctx[3];

	if (ret)
		return ret;
	if (current_is_vigild())
		return 0;
	cfg = current_policy(&gen);
	if (!gen)
		return 0;
	bpf_get_func_arg(ctx, 2, &perm);
	/* Not a permission: the caller looks the key up now and checks the real one after. */
	if (perm == KEY_DEFER_PERM_CHECK)
		return 0;
	bpf_get_func_arg(ctx, 0, &ref);
	bpf_get_func_arg(ctx, 1, &cred_arg);
	key = (struct key *)(ref & ~1ULL);
	kk.gen = gen;
	if (bpf_probe_read_kernel_str(kk.desc, sizeof(kk.desc), BPF_CORE_READ(key, description)) <
	    0)
		return 0;
	val = bpf_map_lookup_elem(&key_rules, &kk);
	if (!val && cfg) /* not a key this policy manages: the scope changes its own keys only */
		return key_check_foreign(key, perm, cfg, gen, kk.desc);
	uid = BPF_CORE_READ((struct cred *)cred_arg, uid.val);
	if (!cfg) {
		/* A generation without config is a vigild bug; its keys stay shut. */
		stat_inc(VIGIL_STAT_NO_CFG);
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	} else if (perm >= VIGIL_KEY_VIEW && perm <= VIGIL_KEY_UNLINK &&
	           key_grant(val, (__u32)perm, uid, gen)) {
		return 0;
	} else {
		/* Overrides (KEY_SYSADMIN_OVERRIDE, ...) are never granted on a managed key. */
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_NAMED);
		decision_apply_mode(&d, cfg);
	}
	return key_finish(cfg, gen, &d, (__u32)perm, kk.desc, BPF_CORE_READ(key, serial));
}

/*
 * A new key of a managed description created from the scope: refused unless a rule grants the
 * creator write (what updating the key would need). Otherwise the scope clears or unlinks the
 * platform's key from a keyring it may write (root's user keyring is shared by every uid-0
 * process) and plants its own payload under the managed name for the granted consumer to read.
 * Event: type key, perm write, reason not_named.
 */
SEC("lsm/key_alloc")
int BPF_PROG(vigil_key_alloc, struct key *key, const struct cred *cred, unsigned long flags,
             int ret)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_key_key kk = {};
	struct vigil_key_val *val;
	struct decision d;
	__u32 gen;

	if (ret)
		return ret;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	kk.gen = gen;
	if (bpf_probe_read_kernel_str(kk.desc, sizeof(kk.desc), key->description) < 0)
		return 0;
	val = bpf_map_lookup_elem(&key_rules, &kk);
	if (!val || key_grant(val, VIGIL_KEY_WRITE, BPF_CORE_READ(cred, uid.val), gen)) {
		/* The scope's own key (key_owned); a per-uid keyring is shared, never the scope's.
		 */
		if (!(flags & KEY_ALLOC_UID_KEYRING_) && key_free_hooked) {
			__u64 addr = (__u64)key;
			__u8 one = 1;

			bpf_map_update_elem(&key_owned, &addr, &one, BPF_ANY);
		}
		return 0;
	}
	decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_NAMED);
	decision_apply_mode(&d, cfg);
	return key_finish(cfg, gen, &d, VIGIL_KEY_WRITE, kk.desc, 0);
}

/* A freed key's address may be reused by a key the platform creates (up to 6.11: see
 * key_free_hooked). */
SEC("lsm/key_free")
int BPF_PROG(vigil_key_free, struct key *key)
{
	__u64 addr = (__u64)key;

	bpf_map_delete_elem(&key_owned, &addr);
	return 0;
}

/* Records what this exec started (see key_task_exe); nobody else hooks this void hook. */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(vigil_bprm_committed_creds, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct inode *inode = bprm->file->f_inode;
	struct vigil_file_key k = {};
	__u32 gen = READ_ONCE(active_gen);
	struct key_exe_id *id;
	bool named = false;

	k.dev = inode->i_sb->s_dev;
	k.ino = inode->i_ino;
	/* Active, then pending generation; two tests, not an OR of the two pointers (the verifier
	 * refuses pointer arithmetic). */
	if (gen) {
		k.gen = gen;
		named = bpf_map_lookup_elem(&key_exes, &k) != NULL;
		if (!named) {
			k.gen = gen + 1;
			named = bpf_map_lookup_elem(&key_exes, &k) != NULL;
		}
	}
	/* Traced across the exec: the tracer would drive the grant, so there is none. */
	if (!named || task->ptrace) {
		bpf_task_storage_delete(&key_task_exe, task);
		return 0;
	}
	id = bpf_task_storage_get(&key_task_exe, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (id) { /* no memory: no record, so no grant (fail closed) */
		id->dev = k.dev;
		id->ino = k.ino;
	}
	return 0;
}

/* A fork or thread of a grant holder runs the same code: it inherits the record. Called from
 * the one task_alloc program (vigil.bpf.c). */
static __always_inline void key_inherit_exe(struct task_struct *task)
{
	struct key_exe_id *parent, *child;

	parent = bpf_task_storage_get(&key_task_exe, bpf_get_current_task_btf(), 0, 0);
	if (!parent)
		return;
	child = bpf_task_storage_get(&key_task_exe, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (child) { /* no memory: the child has no grant (fail closed) */
		child->dev = parent->dev;
		child->ino = parent->ino;
	}
}

/*
 * A holder of a key grant by executable can be read or driven by whoever traces it or writes
 * its memory (ptrace, process_vm_readv/writev, /proc/PID/mem, pidfd_getfd: all ATTACH mode):
 * the scope may not. Reads of its /proc status (READ mode: ps, top) stay allowed. To be called
 * from the ptrace_access_check program.
 */
static __always_inline int key_check_ptrace(struct task_struct *child, unsigned int mode)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	struct decision d;
	__u32 gen;
	int err;

	if (!(mode & PTRACE_MODE_ATTACH))
		return 0;
	if (!bpf_task_storage_get(&key_task_exe, child, 0, 0) || current_is_vigild())
		return 0;
	cfg = current_policy(&gen);
	if (!cfg) {
		if (!gen)
			return 0;
		/* A generation without config is a vigild bug: keep the holder shut. */
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	} else {
		if (!in_scope(cfg, gen))
			return 0; /* the platform may debug */
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_NAMED);
		decision_apply_mode(&d, cfg);
	}
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	if (err)
		stat_inc(VIGIL_STAT_KEY_DENY);
	e = decision_event(VIGIL_EV_KEY, gen, cfg, &d, err, VIGIL_KEY_PTRACE);
	if (!e)
		return err;
	e->target_pid = BPF_CORE_READ(child, tgid);
	event_submit(e);
	return err;
}

/*
 * A grant holder asking to be traced hands its grant to its parent: refused, whoever asks. First
 * the scope's bounds (confine_check_traceme: one program on the hook).
 */
SEC("lsm/ptrace_traceme")
int BPF_PROG(vigil_ptrace_traceme, struct task_struct *parent, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vigil_event *e;
	struct decision d;

	if (ret)
		return ret;
	ret = confine_check_traceme(parent);
	if (ret)
		return ret;
	if (!bpf_task_storage_get(&key_task_exe, task, 0, 0) || current_is_vigild())
		return 0;
	decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_NAMED);
	stat_inc(VIGIL_STAT_KEY_DENY);
	e = decision_event(VIGIL_EV_KEY, READ_ONCE(active_gen), NULL, &d, -EPERM, VIGIL_KEY_PTRACE);
	if (!e)
		return -EPERM;
	e->target_pid = BPF_CORE_READ(task, tgid);
	event_submit(e);
	return -EPERM;
}

#endif /* VIGIL_KEY_BPF_H */
