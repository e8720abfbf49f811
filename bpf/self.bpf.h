/* Self-protection: always on, for every process but vigild, whatever the policy says. */
#ifndef VIGIL_SELF_BPF_H
#define VIGIL_SELF_BPF_H

#include "common.bpf.h"

#define BPF_FS_MAGIC   0xcafe4a11
#define CONFIGFS_MAGIC 0x62656570

/*
 * A process running the vigild binary (agent_exe_dev/ino in common.bpf.h) is vigild even
 * before it has written agent_tgid: that is how a restarted vigild gets past the bpf() gate.
 * Only the platform (or vigild itself) may start that binary (vigil_self_exec), so the identity
 * cannot be borrowed by the workload.
 */
/* Character devices (kernel dev_t) only vigild may open: TPM, TDX and SNP guest devices. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_PROTECTED);
	__type(key, __u32);
	__type(value, struct vigil_protect_val);
} protected_devs SEC(".maps");

static __always_inline bool task_is_vigild(struct task_struct *task)
{
	if (BPF_CORE_READ(task, tgid) == READ_ONCE(agent_tgid))
		return true;
	return READ_ONCE(agent_exe_ino) && task_runs_vigild(task);
}

static __always_inline bool current_is_vigild(void)
{
	return is_agent() || task_is_vigild(bpf_get_current_task_btf());
}

/*
 * The platform side, which may stop and start vigild: PID 1 (the service manager) and, under a
 * cgroup-scoped policy, every process outside the scope. The workload is the scope.
 */
static __always_inline bool current_is_platform(void)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if ((bpf_get_current_pid_tgid() >> 32) == 1)
		return true;
	cfg = current_policy(&gen);
	return cfg && !(cfg->flags & VIGIL_CFG_SCOPE_GUEST) && !in_scope(cfg, gen);
}

/* Records a self-protection refusal; returns -EPERM. */
static __always_inline int self_deny(__u32 kind, __u32 target_pid, __u64 dev, __u64 ino,
                                     struct dentry *name)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	__u32 gen;

	stat_inc(VIGIL_STAT_SELF_DENY);
	cfg = current_policy(&gen);
	e = event_start(VIGIL_EV_SELF, gen, cfg);
	if (!e)
		return -EPERM;
	e->verdict = VIGIL_DENY;
	e->reason = VIGIL_R_SELF;
	e->err = -EPERM;
	e->access = kind;
	e->target_pid = target_pid;
	e->dev = dev;
	e->ino = ino;
	if (name)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path),
		                          BPF_CORE_READ(name, d_name.name));
	event_submit(e);
	return -EPERM;
}

static __always_inline __u64 sb_magic(struct dentry *d)
{
	return BPF_CORE_READ(d, d_sb, s_magic);
}

/* True for configfs-tsm: a dentry under configfs's top-level "tsm" directory. */
static __always_inline bool in_configfs_tsm(struct dentry *d)
{
	char name[4];
	int i;

	for (i = 0; i < VIGIL_FILE_MAX_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);

		if (!parent || parent == d)
			return false;
		if (BPF_CORE_READ(parent, d_parent) == parent) {
			/* d is a top-level entry of the configfs mount. */
			if (bpf_probe_read_kernel_str(name, sizeof(name),
			                              BPF_CORE_READ(d, d_name.name)) != 4)
				return false;
			return name[0] == 't' && name[1] == 's' && name[2] == 'm';
		}
		d = parent;
	}
	return true; /* deeper than any configfs-tsm path: fail closed */
}

/*
 * open(): bpffs and configfs-tsm are vigild's alone. The TPM and CVM guest devices are vigild's
 * and the platform's (PID 1, or outside a cgroup scope): the platform reads PCRs to replay the
 * measurement log, and it is trusted anyway (it starts and stops vigild); the workload never.
 */
static __always_inline int self_check_open(struct file *file)
{
	/* Direct (BTF) loads: this runs on every open in the guest. */
	struct inode *inode = file->f_inode;
	struct dentry *d = file->f_path.dentry;
	__u64 magic = d->d_sb->s_magic;
	__u32 rdev;

	if ((inode->i_mode & S_IFMT) == S_IFCHR) {
		rdev = inode->i_rdev;
		if (bpf_map_lookup_elem(&protected_devs, &rdev) && !current_is_vigild() &&
		    !current_is_platform())
			return self_deny(VIGIL_SELF_DEVICE, 0, rdev, inode->i_ino, d);
		return 0;
	}
	if (magic == BPF_FS_MAGIC && !current_is_vigild())
		return self_deny(VIGIL_SELF_BPF, 0, inode->i_sb->s_dev, inode->i_ino, d);
	if (magic == CONFIGFS_MAGIC && in_configfs_tsm(d) && !current_is_vigild())
		return self_deny(VIGIL_SELF_TSM, 0, inode->i_sb->s_dev, inode->i_ino, d);
	return 0;
}

/* No bpf() for anyone else: it would reach the pinned maps, links and programs. */
SEC("lsm/bpf")
int BPF_PROG(vigil_self_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	if (ret)
		return ret;
	if (current_is_vigild())
		return 0;
	return self_deny(VIGIL_SELF_BPF, 0, 0, 0, NULL);
}

/* ptrace attach and /proc/PID/mem, environ, fd... of vigild. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(vigil_self_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	if (!task_is_vigild(child) || current_is_vigild())
		return 0;
	return self_deny(VIGIL_SELF_PTRACE, BPF_CORE_READ(child, tgid), 0, 0, NULL);
}

/*
 * Signals to vigild, stop and kill included, from the workload. The platform may signal it:
 * that is how an operator stops (SIGTERM: enforcement ends) or restarts (SIGUSR2) vigil on
 * purpose. Signals the kernel sends itself never reach this hook.
 */
SEC("lsm/task_kill")
int BPF_PROG(vigil_self_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
             const struct cred *cred, int ret)
{
	if (ret)
		return ret;
	if (sig == 0 || !task_is_vigild(p) || current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_SIGNAL, BPF_CORE_READ(p, tgid), 0, 0, NULL);
}

/*
 * Only the platform (or vigild) starts vigild: running its binary is a credential the workload
 * cannot earn. Called by the one bprm_check_security program (bpf/exec.bpf.h) after the exec
 * allowlist: a second program on the hook would cost a trampoline call on every exec.
 */
static __always_inline int self_check_exec(struct linux_binprm *bprm)
{
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	struct task_struct *task = bpf_get_current_task_btf();

	if (BPF_CORE_READ(inode, i_ino) != READ_ONCE(agent_exe_ino) ||
	    BPF_CORE_READ(inode, i_sb, s_dev) != READ_ONCE(agent_exe_dev))
		return 0;
	if (BPF_CORE_READ(task, real_parent, tgid) == 1 || current_is_vigild() ||
	    current_is_platform())
		return 0; /* the service manager, the platform, or vigild re-executing itself */
	return self_deny(VIGIL_SELF_EXEC, 0, BPF_CORE_READ(inode, i_sb, s_dev),
	                 BPF_CORE_READ(inode, i_ino), BPF_CORE_READ(bprm, file, f_path.dentry));
}

#endif /* VIGIL_SELF_BPF_H */
