/* The bounds of the scope: capabilities it keeps, and what it may never do whatever it holds
 * (leave the scope, load kernel code, start another kernel, mount). Write-opens are decided by
 * bound_check_open, called from the file_open program of bpf/file.bpf.h. */
#ifndef VIGIL_BOUND_BPF_H
#define VIGIL_BOUND_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"

#define PF_KTHREAD          0x00200000
#define CAP_OPT_NOAUDIT     0x2
#define CAP_NET_RAW         13
#define CAP_SYS_BOOT        22
#define CLONE_INTO_CGROUP   0x200000000ull
#define S_IFBLK             0060000
#define CGROUP2_SUPER_MAGIC 0x63677270
#define CGROUP_SUPER_MAGIC  0x27e0eb
#define DEBUGFS_MAGIC       0x64626720
#define TRACEFS_MAGIC       0x74726163
#define SYSFS_MAGIC         0x62656572
#define PROC_SUPER_MAGIC    0x9fa0
#define BINFMTFS_MAGIC      0x42494e4d
#define SECURITYFS_MAGIC    0x73636673
#define NR_REBOOT           169 /* x86_64 */
#define REBOOT_CMD_KEXEC    0x45584543
/* A NOAUDIT probe refused again within this window gives no new event (it is still counted). */
#define BOUND_PROBE_EVENT_NS (10ull * 1000 * 1000 * 1000)

/* kernfs_node.parent before it became __parent (6.1 has parent; newer BTF may not). */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

/* Last NOAUDIT-probe event per capability (and VIGIL_CAP_USERNS), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_CAP_USERNS + 1);
	__type(key, __u32);
	__type(value, __u64);
} cap_probe_ts SEC(".maps");

/*
 * The policy that bounds the current task, or NULL: no policy, vigild, PID 1 (the platform in
 * every scope), kernel threads, or outside a cgroup scope. A generation without its config
 * cannot say what the scope is: refusing guest-wide would take the platform down with it, so
 * these checks fail open there (the other sections count and fail closed on it).
 */
static __always_inline struct vigil_policy_cfg *bound_policy(__u32 *ret_gen)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vigil_policy_cfg *cfg = current_policy(ret_gen);

	if (!cfg || (task->flags & PF_KTHREAD) || task->tgid == 1 || is_agent())
		return NULL;
	return in_scope(cfg, *ret_gen) ? cfg : NULL;
}

/* Records a refusal that no policy can lift (enum vigil_self_kind); returns -EPERM. */
static __always_inline int bound_deny(__u32 kind, __u32 gen, const struct vigil_policy_cfg *cfg,
                                      __u64 dev, __u64 ino, const char *kname)
{
	struct vigil_event *e = self_event_start(kind, gen, cfg);

	if (!e)
		return -EPERM;
	e->dev = dev;
	e->ino = ino;
	if (kname)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), kname);
	event_submit(e);
	return -EPERM;
}

static __always_inline int bound_deny_name(__u32 kind, __u32 gen,
                                           const struct vigil_policy_cfg *cfg, const char *name)
{
	struct vigil_event *e = self_event_start(kind, gen, cfg);

	if (!e)
		return -EPERM;
	__builtin_memcpy(e->path, name, 16);
	event_submit(e);
	return -EPERM;
}

/* True when a NOAUDIT probe of cap deserves an event now (at most one per window and CPU). */
static __always_inline bool probe_event_due(__u32 cap)
{
	__u64 now = bpf_ktime_get_ns(), *last = bpf_map_lookup_elem(&cap_probe_ts, &cap);

	if (!last)
		return true;
	if (*last && now - *last < BOUND_PROBE_EVENT_NS)
		return false;
	*last = now;
	return true;
}

/* A capability (or VIGIL_CAP_USERNS) the policy does not grant: deny, or log under audit. */
static __always_inline int cap_refuse(const struct vigil_policy_cfg *cfg, __u32 gen, __u32 cap,
                                      bool probe)
{
	struct decision d;
	struct vigil_event *e;
	int err;

	decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NOT_LISTED);
	/* CAP_NET_RAW under a network section that refuses raw sockets is the network section's
	 * refusal (policies/policy_cap.c), not the capabilities section's to audit. */
	if ((cfg->flags & VIGIL_CFG_CAP_AUDIT) &&
	    (cap != CAP_NET_RAW ||
	     (cfg->flags & (VIGIL_CFG_NET_RULES | VIGIL_CFG_NET_RAW)) != VIGIL_CFG_NET_RULES))
		d.verdict = VIGIL_AUDIT;
	decision_apply_mode(&d, cfg);
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	if (err)
		stat_inc(VIGIL_STAT_CAP_DENY);
	/* Probes (a decision, not a privilege asked for) come in bursts: one event per window. */
	if (probe && !probe_event_due(cap))
		return err;
	e = decision_event(VIGIL_EV_CAP, gen, cfg, &d, err, cap);
	if (e)
		event_submit(e);
	return err;
}

/* reboot(LINUX_REBOOT_CMD_KEXEC): another kernel, whatever CAP_SYS_BOOT the policy grants. */
static __always_inline bool syscall_is_reboot_kexec(void)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

	return regs && BPF_CORE_READ(regs, orig_ax) == NR_REBOOT &&
	       (unsigned int)BPF_CORE_READ(regs, dx) == REBOOT_CMD_KEXEC;
}

/*
 * Every capability check of a task in scope, in every user namespace (ns does not matter: a
 * capability in a child namespace is still the workload's). The commoncap LSM ran first, so
 * this only sees capabilities the credential holds. The granted set is one bit test, before
 * anything else: most checks are of capabilities a policy keeps.
 */
SEC("lsm/capable")
int BPF_PROG(vigil_capable, const struct cred *cred, struct user_namespace *ns, int cap,
             unsigned int opts, int ret)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen, c = (__u32)cap & 63;

	if (ret)
		return ret;
	cfg = current_policy(&gen);
	if (!cfg)
		return 0;
	if (cfg->cap_allow & (1ull << c)) {
		if (c != CAP_SYS_BOOT || !syscall_is_reboot_kexec())
			return 0;
		cfg = bound_policy(&gen);
		if (!cfg)
			return 0;
		return bound_deny_name(VIGIL_SELF_KERNEL, gen, cfg, "reboot_kexec\0\0\0\0");
	}
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	return cap_refuse(cfg, gen, c, opts & CAP_OPT_NOAUDIT);
}

/* unshare(CLONE_NEWUSER) and clone(CLONE_NEWUSER): a namespace where the workload holds every
 * capability over what it creates. Refused unless the policy grants it. */
SEC("lsm/userns_create")
int BPF_PROG(vigil_userns_create, const struct cred *cred, int ret)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (ret)
		return ret;
	cfg = bound_policy(&gen);
	if (!cfg || (cfg->flags & VIGIL_CFG_USERNS))
		return 0;
	return cap_refuse(cfg, gen, VIGIL_CAP_USERNS, false);
}

/* clone3(CLONE_INTO_CGROUP) puts the child in any cgroup the caller names: refused from a cgroup
 * scope (which cgroup is not known here; the workload moves tasks through cgroup.procs). */
static __always_inline int bound_check_clone(unsigned long clone_flags)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (!(clone_flags & CLONE_INTO_CGROUP))
		return 0;
	cfg = bound_policy(&gen);
	if (!cfg || (cfg->flags & VIGIL_CFG_SCOPE_GUEST))
		return 0;
	return bound_deny_name(VIGIL_SELF_CGROUP, gen, cfg, "clone_into_cgrp\0");
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	struct kernfs_node___old *old = (void *)kn;

	if (bpf_core_field_exists(old->parent))
		return BPF_CORE_READ(old, parent);
	return BPF_CORE_READ(kn, __parent);
}

#define CG_OTHER     0
#define CG_DELEGATED 1 /* the scope may write it in its own root cgroup (cgroup v2 delegation) */
#define CG_MOVE      2 /* cgroup.procs, cgroup.threads */

/* Which kind of cgroup control file kn is; the root cgroup's limits are the platform's. */
static __always_inline int delegated_file(struct kernfs_node *kn)
{
	char n[24] = {};
	int len = bpf_probe_read_kernel_str(n, sizeof(n), BPF_CORE_READ(kn, name));

	if (len < 12 || n[0] != 'c' || n[6] != '.')
		return CG_OTHER;
	/* cgroup.procs, cgroup.threads */
	if (len == 13 && n[7] == 'p' && n[8] == 'r' && n[9] == 'o' && n[10] == 'c' && n[11] == 's')
		return CG_MOVE;
	if (len == 15 && n[7] == 't' && n[8] == 'h' && n[9] == 'r' && n[13] == 's')
		return CG_MOVE;
	/* cgroup.subtree_control, cgroup.kill, cgroup.freeze */
	if (len == 23 && n[7] == 's' && n[8] == 'u' && n[9] == 'b' && n[14] == '_')
		return CG_DELEGATED;
	if (len == 12 && n[7] == 'k' && n[8] == 'i' && n[9] == 'l' && n[10] == 'l')
		return CG_DELEGATED;
	if (len == 14 && n[7] == 'f' && n[8] == 'r' && n[9] == 'e' && n[11] == 'z')
		return CG_DELEGATED;
	return CG_OTHER;
}

/*
 * The cgroups vigild and PID 1 run in, and their ancestors below the root, by id (0: unused).
 * vigild writes them at start and after each policy load (agent/self.c protect_cgroups).
 */
__u64 guard_cgroup_ids[VIGIL_GUARD_CGROUPS] = {};

/* A global function: its loop is verified once per program, not in every inlined copy. */
__noinline int vigil_cgroup_guarded(__u64 id)
{
	int i;

	for (i = 0; i < VIGIL_GUARD_CGROUPS; i++) {
		__u64 g = READ_ONCE(guard_cgroup_ids[i]);

		if (!g)
			return 0;
		if (g == id)
			return 1;
	}
	return 0;
}

/*
 * A write-open of a cgroupfs file from the scope. cgroup.procs and cgroup.threads are
 * refused everywhere (but to PID 1's not yet exec'd spawn child, below): a move is checked by the
 * kernel at write time against the common ancestor of source and destination, which no LSM hook
 * reports without a program on inode_permission (every path component of every lookup), so the
 * scope moves no task at all — the platform places tasks. Other control files: only inside the
 * scope's subtree, and of the scope's own root cgroup only the delegated ones (its limits are the
 * platform's). Under a guest-wide scope every cgroup is the workload's but vigild's and PID 1's and
 * their ancestors (guard_cgroup_ids): cgroup.freeze, cgroup.kill, memory.max, cpu.max... there
 * stop, kill or starve vigild or PID 1, and neither a freeze nor cgroup.kill passes task_kill.
 */
static __always_inline bool cgroupfs_write_ok(const struct vigil_policy_cfg *cfg, __u32 gen,
                                              struct inode *inode)
{
	struct kernfs_node *kn = (struct kernfs_node *)BPF_CORE_READ(inode, i_private);
	struct kernfs_node *cg = kn_parent(kn);
	int level, what = delegated_file(kn);

	/*
	 * Except the service manager's own spawn child: systemd's child attaches itself to its
	 * unit's cgroup (exec_child's cg_attach) while PID 1 attaches it from outside too, so it
	 * may already be in the scope when it does. Until it execs it runs PID 1's code (forked by
	 * PID 1, no exec since): the platform. Anything else in the scope moves no task.
	 */
	if (what == CG_MOVE)
		return task_forked_by_init(bpf_get_current_task_btf(), 0);
	if (cfg->flags & VIGIL_CFG_SCOPE_GUEST)
		return cg && !vigil_cgroup_guarded(BPF_CORE_READ(cg, id));
	for (level = 0; level <= VIGIL_MAX_CGROUP_DEPTH; level++) {
		if (!cg)
			return false;
		struct vigil_scope_key key = {.cgroup_id = BPF_CORE_READ(cg, id), .gen = gen};

		if (scope_has(cfg, &key))
			return level > 0 || what == CG_DELEGATED;
		cg = kn_parent(cg);
	}
	return false; /* deeper than we walk: fail closed */
}

/* A sysctl (/proc/sys): kernel.core_pattern, kernel.modprobe and the like make the kernel run a
 * program of the writer's choosing as the platform. */
static __always_inline bool proc_is_sysctl(struct inode *inode)
{
	__u64 off = bpf_core_field_offset(struct proc_inode, vfs_inode);
	struct proc_inode *pi = (void *)((char *)inode - off);
	void *sysctl = NULL;

	bpf_probe_read_kernel(&sysctl, sizeof(sysctl), &pi->sysctl);
	return sysctl != NULL;
}

/*
 * Opens from the scope that reach past it: every open of a block device, reading too (raw
 * reads and writes under every file system's checks: a disk holds every denied tree), and
 * write-opens of cgroupfs (above), debugfs and tracefs, sysfs, sysctls, binfmt_misc (a handler
 * registered there runs for the platform's execs too, as the platform) and securityfs (the
 * kernel's lockdown level, which needs no capability to raise: at "confidentiality" the verifier
 * refuses vigild's programs, so vigild could never start again; IMA's policy). Called from the one
 * file_open program (bpf/file.bpf.h); every other open returns after a few loads and tests.
 */
static __always_inline int bound_check_open(struct file *file, struct inode *inode, __u32 type,
                                            unsigned int mode)
{
	struct vigil_policy_cfg *cfg;
	__u64 magic;
	__u32 gen, kind;
	bool blk;

	blk = type == S_IFBLK;
	if (!(mode & FMODE_WRITE) && !blk)
		return 0;
	magic = inode->i_sb->s_magic;
	if (magic != CGROUP2_SUPER_MAGIC && magic != CGROUP_SUPER_MAGIC && magic != DEBUGFS_MAGIC &&
	    magic != TRACEFS_MAGIC && magic != SYSFS_MAGIC && magic != PROC_SUPER_MAGIC &&
	    magic != BINFMTFS_MAGIC && magic != SECURITYFS_MAGIC && !blk)
		return 0;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	kind = VIGIL_SELF_KERNEL;
	if (magic == CGROUP2_SUPER_MAGIC) {
		if (cgroupfs_write_ok(cfg, gen, inode))
			return 0;
		kind = VIGIL_SELF_CGROUP;
	} else if (magic == CGROUP_SUPER_MAGIC) {
		kind = VIGIL_SELF_CGROUP; /* v1 hierarchies: no subtree is the scope's */
	} else if (magic == PROC_SUPER_MAGIC && !proc_is_sysctl(inode)) {
		return 0; /* /proc/PID files are decided elsewhere */
	}
	return bound_deny(kind, gen, cfg, inode->i_sb->s_dev, inode->i_ino,
	                  (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name));
}

/* Kernel code from the scope: on-demand module loads it triggers (a socket family, a file
 * system type...), init_module, finit_module; another kernel: kexec_load, kexec_file_load. */
SEC("lsm/kernel_module_request")
int BPF_PROG(vigil_bound_modreq, char *kmod_name, int ret)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (ret)
		return ret;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	return bound_deny(VIGIL_SELF_KERNEL, gen, cfg, 0, 0, kmod_name);
}

static __always_inline bool load_id_is_code(int id)
{
	/* READING_/LOADING_ MODULE 2, KEXEC_IMAGE 3, KEXEC_INITRAMFS 4, POLICY (IMA) 5 */
	return id >= 2 && id <= 5;
}

SEC("lsm/kernel_load_data")
int BPF_PROG(vigil_bound_load_data, int id, bool contents, int ret)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (ret)
		return ret;
	if (!load_id_is_code(id))
		return 0;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	return bound_deny_name(VIGIL_SELF_KERNEL, gen, cfg,
	                       id == 2 ? "init_module\0\0\0\0\0" : "kexec_load\0\0\0\0\0\0");
}

SEC("lsm/kernel_read_file")
int BPF_PROG(vigil_bound_read_file, struct file *file, int id, bool contents, int ret)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (ret)
		return ret;
	if (!load_id_is_code(id))
		return 0;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	return bound_deny(VIGIL_SELF_KERNEL, gen, cfg, file->f_inode->i_sb->s_dev,
	                  file->f_inode->i_ino,
	                  (const char *)BPF_CORE_READ(file, f_path.dentry, d_name.name));
}

/*
 * The kernel's own lockdown points: every integrity reason (kernel memory, I/O ports, MSRs,
 * kexec, ACPI tables, debugfs, module parameters...) and the confidentiality ones (kcore,
 * kprobes, tracefs, perf, kernel reads through BPF...). From the scope, all of them.
 */
SEC("lsm/locked_down")
int BPF_PROG(vigil_bound_lockdown, int what, int ret)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	__u32 gen;

	if (ret)
		return ret;
	if (what <= 0)
		return 0;
	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	stat_inc(VIGIL_STAT_SELF_DENY);
	e = event_start(VIGIL_EV_SELF, gen, cfg);
	if (!e)
		return -EPERM;
	e->verdict = VIGIL_DENY;
	e->reason = VIGIL_R_SELF;
	e->err = -EPERM;
	e->access = VIGIL_SELF_KERNEL;
	/* "lockdown:N", N the kernel's enum lockdown_reason (at most 30). */
	__builtin_memcpy(e->path, "lockdown:", 9);
	e->path[9] = '0' + ((__u32)what / 10) % 10;
	e->path[10] = '0' + (__u32)what % 10;
	e->path[11] = 0;
	event_submit(e);
	return -EPERM;
}

/*
 * Mounts from the scope, whatever capabilities the policy grants: a mount can hide or replace
 * vigil's files, detach bpffs, or present a denied tree through another file system (overlayfs,
 * bind mounts in a new namespace). The new mount API's parameters go through
 * fs_context_parse_param, attaching through move_mount.
 */
static __always_inline int bound_mount(const char name[16])
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	return bound_deny_name(VIGIL_SELF_MOUNT, gen, cfg, name);
}

SEC("lsm/sb_mount")
int BPF_PROG(vigil_bound_mount, const char *dev_name, const struct path *path, const char *type,
             unsigned long flags, void *data, int ret)
{
	return ret ?: bound_mount("mount\0\0\0\0\0\0\0\0\0\0");
}

SEC("lsm/sb_umount")
int BPF_PROG(vigil_bound_umount, struct vfsmount *mnt, int flags, int ret)
{
	return ret ?: bound_mount("umount\0\0\0\0\0\0\0\0\0");
}

SEC("lsm/sb_remount")
int BPF_PROG(vigil_bound_remount, struct super_block *sb, void *mnt_opts, int ret)
{
	return ret ?: bound_mount("remount\0\0\0\0\0\0\0\0");
}

SEC("lsm/sb_pivotroot")
int BPF_PROG(vigil_bound_pivotroot, const struct path *old_path, const struct path *new_path,
             int ret)
{
	return ret ?: bound_mount("pivot_root\0\0\0\0\0");
}

SEC("lsm/move_mount")
int BPF_PROG(vigil_bound_move_mount, const struct path *from_path, const struct path *to_path,
             int ret)
{
	return ret ?: bound_mount("move_mount\0\0\0\0\0");
}

/* The BPF programs of a hook run before its default: returning 0 lets the kernel's -ENOPARAM
 * ("not an LSM's parameter") through to the file system. */
SEC("lsm/fs_context_parse_param")
int BPF_PROG(vigil_bound_fs_param, struct fs_context *fc, struct fs_parameter *param, int ret)
{
	return ret ?: bound_mount("fsconfig\0\0\0\0\0\0\0");
}

#endif /* VIGIL_BOUND_BPF_H */
