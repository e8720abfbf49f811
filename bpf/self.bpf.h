/* Self-protection: always on, for every process but vigild, whatever the policy says. */
#ifndef VIGIL_SELF_BPF_H
#define VIGIL_SELF_BPF_H

#include "common.bpf.h"

#define BPF_FS_MAGIC   0xcafe4a11
#define CONFIGFS_MAGIC 0x62656570

/* Character devices (kernel dev_t) only vigild may open: TPM, TDX and SNP guest devices. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_PROTECTED);
	__type(key, __u32);
	__type(value, struct vigil_protect_val);
} protected_devs SEC(".maps");

/* (directory, name) pairs only the platform may create: platform-code paths absent at start. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_MAX_PROTECTED);
	__type(key, struct vigil_name_key);
	__type(value, struct vigil_protect_val);
} protected_names SEC(".maps");

/* Records a self-protection refusal; returns -EPERM. Cold: one subprogram, not inlined. */
static __noinline int self_deny(__u32 kind, __u32 target_pid, __u64 dev, __u64 ino,
                                struct dentry *name)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	__u32 gen;

	cfg = current_policy(&gen);
	e = self_event_start(kind, gen, cfg);
	if (!e)
		return -EPERM;
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

#define PROC_SUPER_MAGIC   0x9fa0
#define PR_SET_MM          35
#define PR_SET_MM_EXE_FILE 13
#define PR_SET_MM_MAP      14

/*
 * Secrets (the checkpoint signing key): (dev, ino) of files no process but vigild may open, not
 * even for reading. A few compares on every open of a regular file, no map lookup. Unused slots
 * are 0. Written by vigild at start (agent/self.c).
 */
#define VIGIL_SELF_SECRETS 4
__u64 self_secret_dev[VIGIL_SELF_SECRETS] = {};
__u64 self_secret_ino[VIGIL_SELF_SECRETS] = {};
/* Bit ino % 64 of every secret's inode number, set before its slot (only ever set): most opens
 * are decided by one bit test. */
__u64 self_secret_bits = 0;

static __always_inline bool is_secret(struct inode *inode, __u64 ino)
{
	int i;

	if (!(READ_ONCE(self_secret_bits) & (1ull << (ino & 63))))
		return false;
	for (i = 0; i < VIGIL_SELF_SECRETS; i++) {
		__u64 s = READ_ONCE(self_secret_ino[i]);

		if (!s)
			return false;
		/* The device (two more pointer loads) only when the inode number matches. */
		if (s == ino && READ_ONCE(self_secret_dev[i]) == inode->i_sb->s_dev)
			return true;
	}
	return false;
}

/* The task a struct pid names (pid_task(pid, PIDTYPE_PID)), as a plain pointer, or NULL. */
static __always_inline struct task_struct *task_of_pid(struct pid *pid)
{
	struct hlist_node *first = NULL;

	if (!pid)
		return NULL;
	bpf_core_read(&first, sizeof(first), &pid->tasks[PIDTYPE_PID].first);
	if (!first)
		return NULL;
	return (void *)first - bpf_core_field_offset(struct task_struct, pid_links);
}

/*
 * A change to task p (scheduling, limits, signals): refused when p is vigild and the caller is
 * neither vigild nor the platform; for any other p, refused from the scope when p is outside it
 * or PID 1 (confine_check_task).
 */
static int confine_check_task(struct task_struct *p, __u32 kind); /* confine.bpf.h */

static __always_inline int self_guard_task(struct task_struct *p, __u32 kind)
{
	if (!task_is_vigild(p))
		return confine_check_task(p, kind); /* any other task outside the scope */
	if (current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(kind, BPF_CORE_READ(p, tgid), 0, 0, NULL);
}

/* True when d's name (at most 15 bytes) is name. */
static __always_inline bool dentry_name_is(struct dentry *d, const char *name, int len)
{
	char buf[16];
	int i;

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), BPF_CORE_READ(d, d_name.name)) != len + 1)
		return false;
	for (i = 0; i < 15 && i < len; i++)
		if (buf[i] != name[i])
			return false;
	return true;
}

/*
 * /proc/sysrq-trigger: its write sends SIGTERM/SIGKILL to every process with no task_kill hook
 * on that path. (Sysctls, /proc/sys: core_pattern, modprobe, kernel.sysrq..., are refused to
 * the scope by bound_check_open, all of them.)
 */
static __always_inline bool proc_global_guarded(struct dentry *d)
{
	struct dentry *p = BPF_CORE_READ(d, d_parent);

	return BPF_CORE_READ(p, d_parent) == p && dentry_name_is(d, "sysrq-trigger", 13);
}

/*
 * A write open on procfs from the scope: /proc/PID/... of vigild or of any task outside the
 * scope (oom_score_adj, oom_adj, comm, attr, timerslack_ns, ...), /proc/PID/mem of every task,
 * the opener's own included (the kernel asks no ptrace hook for a task's own memory: writing it
 * is code no policy lists), and proc_global_guarded. Called only for procfs opened for writing.
 */
static __always_inline int self_check_proc_write(struct file *file)
{
	struct inode *inode = file->f_inode;
	struct dentry *d = file->f_path.dentry;
	__u64 off = bpf_core_field_offset(struct proc_inode, vfs_inode);
	struct proc_inode *pi = (void *)inode - off;
	struct vigil_policy_cfg *cfg;
	struct task_struct *target;
	struct pid *pid = NULL;
	__u32 gen;

	if (current_is_vigild() || current_is_platform())
		return 0;
	bpf_core_read(&pid, sizeof(pid), &pi->pid);
	if (!pid)
		return proc_global_guarded(d) ? self_deny(VIGIL_SELF_PROC, 0, 0, 0, d) : 0;
	cfg = current_policy(&gen);
	if (cfg && dentry_name_is(d, "mem", 3))
		return self_deny(VIGIL_SELF_PROC, BPF_CORE_READ(task_of_pid(pid), tgid), 0, 0, d);
	target = task_of_pid(pid);
	if (!target)
		return 0; /* the task is gone: its files answer ESRCH */
	if (task_is_vigild(target) || (cfg && !task_in_scope(cfg, gen, target)))
		return self_deny(VIGIL_SELF_PROC, BPF_CORE_READ(target, tgid), 0, 0, d);
	return 0;
}

/*
 * open(): bpffs and configfs-tsm are vigild's alone, and so are secrets. The TPM and CVM guest
 * devices are vigild's and the platform's (PID 1, or outside a cgroup scope): the platform reads
 * PCRs to replay the measurement log, and it is trusted anyway (it starts and stops vigild); the
 * workload never. Writes on procfs: self_check_proc_write.
 */
static __always_inline int self_check_open(struct file *file, struct dentry *d,
                                           struct super_block *sb, struct inode *inode, __u64 ino,
                                           __u32 type, unsigned int mode)
{
	/* Direct (BTF) loads, each a guarded load once JITed: this runs on every open in the
	 * guest, so the caller loads file, dentry, inode and mode fields once for all the checks
	 * (sb is d's superblock, ino inode's number). */
	__u64 magic = sb->s_magic;
	__u32 rdev, key;

	if (type == S_IFREG) {
		if (is_secret(inode, ino) && !current_is_vigild())
			return self_deny(VIGIL_SELF_SECRET, 0, inode->i_sb->s_dev, ino, d);
		if (magic == PROC_SUPER_MAGIC && (mode & FMODE_WRITE))
			return self_check_proc_write(file);
	}
	if (type == S_IFCHR) {
		/* The key a copy: the event's rdev stays in a register (a reload of the key from
		 * the stack, merged by the compiler with another pointer's load, is refused). */
		rdev = inode->i_rdev;
		key = rdev;
		if (bpf_map_lookup_elem(&protected_devs, &key) && !current_is_vigild() &&
		    !current_is_platform())
			return self_deny(VIGIL_SELF_DEVICE, 0, rdev, ino, d);
		return 0;
	}
	if (magic == BPF_FS_MAGIC && !current_is_vigild())
		return self_deny(VIGIL_SELF_BPF, 0, inode->i_sb->s_dev, ino, d);
	if (magic == CONFIGFS_MAGIC && in_configfs_tsm(d) && !current_is_vigild())
		return self_deny(VIGIL_SELF_TSM, 0, inode->i_sb->s_dev, ino, d);
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

#define PTRACE_MODE_ATTACH 0x02
/*
 * ptrace attach and /proc/PID/mem, environ, fd, maps... of vigild. The platform may read (maps,
 * environ: what a service manager or an operator's ps looks at), never attach or write.
 */
static __always_inline int self_check_ptrace(struct task_struct *child, unsigned int mode)
{
	if (!task_is_vigild(child) || current_is_vigild())
		return 0;
	if (!(mode & PTRACE_MODE_ATTACH) && current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_PTRACE, BPF_CORE_READ(child, tgid), 0, 0, NULL);
}

/*
 * Signals to vigild, stop and kill included, from the workload, and from the scope to any task
 * outside it. The platform may signal vigild: that is how an operator stops (SIGTERM:
 * enforcement ends) or restarts (SIGUSR2) vigil on purpose. Signals the kernel sends itself
 * never reach this hook.
 */
SEC("lsm/task_kill")
int BPF_PROG(vigil_self_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
             const struct cred *cred, int ret)
{
	if (ret)
		return ret;
	if (sig == 0) /* an existence probe delivers nothing */
		return 0;
	return self_guard_task(p, VIGIL_SELF_SIGNAL);
}

/* Scheduling of vigild: nice / setpriority, I/O priority, policy and affinity, memory policy. */
SEC("lsm/task_setnice")
int BPF_PROG(vigil_self_setnice, struct task_struct *p, int nice, int ret)
{
	if (ret)
		return ret;
	return self_guard_task(p, VIGIL_SELF_SCHED);
}

SEC("lsm/task_setioprio")
int BPF_PROG(vigil_self_setioprio, struct task_struct *p, int ioprio, int ret)
{
	if (ret)
		return ret;
	return self_guard_task(p, VIGIL_SELF_SCHED);
}

/* sched_setscheduler, sched_setattr, sched_setaffinity. */
SEC("lsm/task_setscheduler")
int BPF_PROG(vigil_self_setscheduler, struct task_struct *p, int ret)
{
	if (ret)
		return ret;
	return self_guard_task(p, VIGIL_SELF_SCHED);
}

/* migrate_pages / move_pages of vigild's memory. */
SEC("lsm/task_movememory")
int BPF_PROG(vigil_self_movememory, struct task_struct *p, int ret)
{
	if (ret)
		return ret;
	return self_guard_task(p, VIGIL_SELF_SCHED);
}

/* prlimit on vigild: RLIMIT_CPU (SIGXCPU, then SIGKILL), RLIMIT_FSIZE (SIGXFSZ), NOFILE, AS... */
SEC("lsm/task_setrlimit")
int BPF_PROG(vigil_self_setrlimit, struct task_struct *p, unsigned int resource,
             struct rlimit *new_rlim, int ret)
{
	if (ret)
		return ret;
	return self_guard_task(p, VIGIL_SELF_RLIMIT);
}

/*
 * F_SETOWN + O_ASYNC (and F_SETSIG) make the kernel signal the owner on I/O, a signal task_kill
 * never sees (SIGIO's default action kills). vigild sets no owner on its files, so every such
 * signal to it comes from someone else's file: refused, SIGIO and SIGURG included. The hook may
 * run in interrupt context, so the sender cannot be asked; the event's pid is whoever ran.
 */
SEC("lsm/file_send_sigiotask")
int BPF_PROG(vigil_self_sigio, struct task_struct *tsk, struct fown_struct *fown, int sig, int ret)
{
	if (ret)
		return ret;
	if (!task_is_vigild(tsk))
		return 0;
	return self_deny(VIGIL_SELF_SIGNAL, BPF_CORE_READ(tsk, tgid), 0, 0, NULL);
}

/*
 * prctl(PR_SET_MM, PR_SET_MM_EXE_FILE / PR_SET_MM_MAP) sets a process's exe_file, the binary
 * half of vigild's identity (task_runs_vigild): only the platform may (checkpoint/restore).
 */
SEC("lsm/task_prctl")
int BPF_PROG(vigil_self_prctl, int option, unsigned long arg2, unsigned long arg3,
             unsigned long arg4, unsigned long arg5, int ret)
{
	if (ret)
		return ret;
	if (option != PR_SET_MM || (arg2 != PR_SET_MM_EXE_FILE && arg2 != PR_SET_MM_MAP))
		return 0;
	if (current_is_platform() || current_is_vigild())
		return 0;
	return self_deny(VIGIL_SELF_EXEC, 0, 0, 0, NULL);
}

/*
 * The platform's request sockets (agent/self.c platform_sockets: the service manager's private
 * socket, the system D-Bus, container runtimes) by the (dev, ino) of the socket file: those found
 * at vigild's start and, by name, those created since (bpf/platform.bpf.h), with the directories
 * created since on a socket's path (a socket bound in one joins). LRU: a daemon that re-creates
 * its socket leaves the old inode behind; the live ones are the most recently added.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_PROTECTED);
	__type(key, struct vigil_file_key);
	__type(value, struct vigil_protect_val);
} platform_socks SEC(".maps");

/* A connect from the scope to a platform request socket: asking the platform to run code. */
static __always_inline int self_check_platform_socket(struct sock *other)
{
	struct vigil_file_key key = {};
	struct dentry *d;

	d = BPF_CORE_READ((struct unix_sock *)other, path.dentry);
	if (!d)
		return 0; /* unbound or abstract: not a socket file */
	key.ino = BPF_CORE_READ(d, d_inode, i_ino);
	key.dev = BPF_CORE_READ(d, d_sb, s_dev);
	if (!bpf_map_lookup_elem(&platform_socks, &key))
		return 0;
	if (current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_PLATFORM_SOCKET, 0, key.dev, key.ino, d);
}

/*
 * The control socket serves the platform: a stream connect to a listening socket vigild made
 * (listen() recorded vigild as its peer) from anyone else is refused; so is one from the scope
 * to the platform's request sockets.
 */
SEC("lsm/unix_stream_connect")
int BPF_PROG(vigil_self_unix_connect, struct sock *sock, struct sock *other, struct sock *newsk,
             int ret)
{
	struct task_struct *owner;

	if (ret)
		return ret;
	ret = self_check_platform_socket(other);
	if (ret)
		return ret;
	owner = task_of_pid(BPF_CORE_READ(other, sk_peer_pid));
	if (!owner || !task_is_vigild(owner) || current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_SOCKET, BPF_CORE_READ(owner, tgid), 0, 0, NULL);
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
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	if (BPF_CORE_READ(inode, i_ino) != READ_ONCE(agent_exe_ino) ||
	    BPF_CORE_READ(inode, i_sb, s_dev) != READ_ONCE(agent_exe_dev))
		return 0;
	if (current_is_vigild() || current_is_platform())
		return 0; /* the platform, or vigild re-executing itself */
	/* Under a guest-wide scope, the service manager's own fork, not yet exec'd (an orphan
	 * reparented to PID 1 is not: see task_forked_by_init). */
	cfg = current_policy(&gen);
	if ((!cfg || (cfg->flags & VIGIL_CFG_SCOPE_GUEST)) && task_forked_by_init(task, 0))
		return 0;
	return self_deny(VIGIL_SELF_EXEC, 0, BPF_CORE_READ(inode, i_sb, s_dev),
	                 BPF_CORE_READ(inode, i_ino), BPF_CORE_READ(bprm, file, f_path.dentry));
}

#endif /* VIGIL_SELF_BPF_H */
