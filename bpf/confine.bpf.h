/*
 * Confinement of the scope's code: what the scope may do to other processes' memory (ptrace
 * modes), whom it may signal (directly or as a file's SIGIO owner) and to its own memory
 * (executable memory no file backs). Bounds like bpf/bound.bpf.h: the programs of the hooks
 * (vigil.bpf.c, bpf/exec.bpf.h, bpf/file.bpf.h) call these; file_fcntl's program is here.
 */
#ifndef VIGIL_CONFINE_BPF_H
#define VIGIL_CONFINE_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "bound.bpf.h"

#define CAP_SYS_PTRACE       19
#define CONFINE_MODE_ATTACH  0x02
#define CONFINE_MODE_NOAUDIT 0x04

/*
 * A refusal about another task (enum vigil_self_kind kind), with the target's pid; the path says
 * which check refused: "ptrace" (confine_check_ptrace/traceme) or "platform_task"
 * (confine_check_task).
 */
static __noinline int confine_deny_task(__u32 kind, __u32 gen, const struct vigil_policy_cfg *cfg,
                                        __u32 target_pid, bool noaudit)
{
	struct vigil_event *e;

	if (noaudit) { /* a probe ("may ps show this field?"): counted, no event */
		stat_inc(VIGIL_STAT_SELF_DENY);
		return -EPERM;
	}
	e = self_event_start(kind, gen, cfg);
	if (!e)
		return -EPERM;
	e->target_pid = target_pid;
	if (kind == VIGIL_SELF_PTRACE)
		__builtin_memcpy(e->path, "ptrace\0", 7);
	else
		__builtin_memcpy(e->path, "platform_task\0", 14);
	event_submit(e);
	return -EPERM;
}

/*
 * Every ptrace mode from the scope (ptrace, /proc/PID/mem and the other ptrace-checked /proc
 * files, process_vm_*, pidfd_getfd, kcmp): to a task outside the scope (or PID 1), refused
 * whatever Yama or the kernel's uid checks say; ATTACH mode to any task, the scope's own
 * included, unless the policy keeps CAP_SYS_PTRACE (a capability decision: its event and its
 * audit mode). The scope's code cannot become another process's code.
 */
static __always_inline int confine_check_ptrace(struct task_struct *child, unsigned int mode)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	if (BPF_CORE_READ(child, tgid) == 1 || !task_in_scope(cfg, gen, child))
		return confine_deny_task(VIGIL_SELF_PTRACE, gen, cfg, BPF_CORE_READ(child, tgid),
		                         mode & CONFINE_MODE_NOAUDIT);
	if (!(mode & CONFINE_MODE_ATTACH) || (cfg->cap_allow & (1ull << CAP_SYS_PTRACE)))
		return 0;
	return cap_refuse(cfg, gen, CAP_SYS_PTRACE, mode & CONFINE_MODE_NOAUDIT);
}

/*
 * A signal, a nice, I/O priority, scheduler, affinity or memory-placement change, or a resource
 * limit aimed from the scope at a task outside it or at PID 1: refused, as ptrace is. The scope
 * acts on its own tasks only; otherwise it could stop or kill the platform's daemons (the
 * service manager that restarts vigild, a log shipper), power the guest off through PID 1's
 * signals (SIGRTMIN+4), or starve them (nice 19, SCHED_IDLE, RLIMIT_CPU). vigild itself is
 * guarded before this (self_guard_task, its own event kind).
 */
static int confine_check_task(struct task_struct *p, __u32 kind)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	if (BPF_CORE_READ(p, tgid) != 1 && task_in_scope(cfg, gen, p))
		return 0;
	return confine_deny_task(kind, gen, cfg, BPF_CORE_READ(p, tgid), false);
}

#define CONFINE_F_SETOWN     8 /* include/uapi/asm-generic/fcntl.h */
#define CONFINE_F_SETOWN_EX  15
#define CONFINE_FIOSETOWN    0x8901 /* include/uapi/asm-generic/sockios.h: sock_ioctl */
#define CONFINE_SIOCSPGRP    0x8902
#define CONFINE_PID_NS_LEVEL 32 /* MAX_PID_NS_LEVEL */

/*
 * The caller's tgid as its own pid namespace numbers it: F_SETOWN's argument is looked up there
 * (find_vpid). A thread group shares one namespace, so the leader's pid at its own level is it.
 * 0 when it cannot be read: then only "no owner" passes (fail closed).
 */
static __always_inline int confine_own_vtgid(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pid *pid = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	int nr = 0;

	if (!pid || level > CONFINE_PID_NS_LEVEL)
		return 0;
	bpf_core_read(&nr, sizeof(nr), &pid->numbers[level].nr);
	return nr;
}

/*
 * Setting a file's owner (F_SETOWN, F_SETOWN_EX, the socket ioctls FIOSETOWN and SIOCSPGRP)
 * chooses whom the kernel signals on I/O (send_sigio, with F_SETSIG's signal): a signal that
 * task_kill never sees, so from the scope it could reach PID 1 (SIGRTMIN+4 powers a systemd
 * guest off) or any platform process. file_send_sigiotask cannot tell who caused the I/O (it may
 * run in interrupt context), so the owner is decided here, when the scope sets it: only an owner
 * that is provably the caller itself passes, and then F_SETSIG and O_ASYNC can only signal the
 * caller. The caller's hooks call this only for these commands.
 */
static __noinline int confine_check_owner(unsigned int cmd, unsigned long arg)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen, target = 0;
	int who;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	if (cmd == CONFINE_F_SETOWN) {
		who = (int)arg; /* f_setown reads it as an int; negative: a process group */
		/* No owner, or the caller's own thread group: no one else can be signalled. */
		if (who == 0 || (who > 0 && who == confine_own_vtgid()))
			return 0;
		/* Another pid, or a process group (it may hold the platform's tasks): refused even
		 * inside the scope, because the pid may be freed and reused by the platform before
		 * f_setown looks it up. The event names the pid as the caller's namespace does. */
		target = who > 0 ? (__u32)who : 0;
	}
	/* F_SETOWN_EX, FIOSETOWN, SIOCSPGRP: the owner is in user memory, which a second thread can
	 * change after this hook reads it; refused without reading it. */
	return confine_deny_task(VIGIL_SELF_SIGNAL, gen, cfg, target, false);
}

#define CONFINE_F_SETFL    4
#define CONFINE_F_SETSIG   10
#define CONFINE_F_SETLEASE 1024   /* a lease's break signals the file's owner */
#define CONFINE_F_NOTIFY   1026   /* dnotify: signals the directory file's owner */
#define CONFINE_O_ASYNC    020000 /* FASYNC */
#define CONFINE_FIOASYNC   0x5452

/* struct file's owner: embedded up to 6.11, a pointer allocated at the first F_SETOWN from 6.12. */
struct file___fown_ptr {
	struct fown_struct *f_owner;
} __attribute__((preserve_access_index));
struct file___fown_embedded {
	struct fown_struct f_owner;
} __attribute__((preserve_access_index));

/* The struct pid send_sigio signals for FILE, or NULL when it has no owner. */
static __always_inline struct pid *confine_file_owner(struct file *file)
{
	struct file___fown_ptr *fp = (void *)file;
	struct file___fown_embedded *fe = (void *)file;
	struct fown_struct *fown = NULL;

	if (bpf_core_field_exists(fp->f_owner))
		fown = BPF_CORE_READ(fp, f_owner);
	else if (bpf_core_field_exists(fe->f_owner))
		fown = &fe->f_owner;
	/* Neither layout, or never set: no owner (fail open: confine_check_owner still refuses
	 * every owner but the caller, so only an owner the platform set can be missed). */
	return fown ? BPF_CORE_READ(fown, pid) : NULL;
}

/*
 * Choosing the signal or turning signals on (F_SETSIG, O_ASYNC by F_SETFL or FIOASYNC, F_NOTIFY,
 * F_SETLEASE: each keeps an owner already set)
 * for a file whose owner the platform set before the file reached the scope (inherited, passed):
 * the scope would choose what a platform process gets. Allowed when the file has no owner or the
 * caller (its thread group or thread) is it: confine_check_owner keeps every other owner out.
 */
static __noinline int confine_check_signal_setup(struct file *file)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct vigil_policy_cfg *cfg;
	struct pid *owner;
	__u32 gen;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	owner = confine_file_owner(file);
	if (!owner || owner == BPF_CORE_READ(t, group_leader, thread_pid) ||
	    owner == BPF_CORE_READ(t, thread_pid))
		return 0;
	return confine_deny_task(VIGIL_SELF_SIGNAL, gen, cfg, 0, false);
}

/* fcntl and fcntl64 (compat too): a few compares for every other command. */
SEC("lsm/file_fcntl")
int BPF_PROG(vigil_confine_fcntl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret)
		return ret;
	if (cmd == CONFINE_F_SETOWN || cmd == CONFINE_F_SETOWN_EX)
		return confine_check_owner(cmd, arg);
	if (cmd == CONFINE_F_SETSIG || cmd == CONFINE_F_NOTIFY || cmd == CONFINE_F_SETLEASE ||
	    (cmd == CONFINE_F_SETFL && (arg & CONFINE_O_ASYNC)))
		return confine_check_signal_setup(file);
	return 0;
}

/* PTRACE_TRACEME from the scope: its parent attaches. The same bounds, parent as tracer. */
static __always_inline int confine_check_traceme(struct task_struct *parent)
{
	struct vigil_policy_cfg *cfg;
	__u32 gen;

	cfg = bound_policy(&gen);
	if (!cfg)
		return 0;
	if (BPF_CORE_READ(parent, tgid) == 1 || !task_in_scope(cfg, gen, parent))
		return confine_deny_task(VIGIL_SELF_PTRACE, gen, cfg, BPF_CORE_READ(parent, tgid),
		                         false);
	if (cfg->cap_allow & (1ull << CAP_SYS_PTRACE))
		return 0;
	return cap_refuse(cfg, gen, CAP_SYS_PTRACE, false);
}

#define CONFINE_PROT_WRITE  0x2
#define CONFINE_MAP_TYPE    0x0f
#define CONFINE_MAP_PRIVATE 0x02

/*
 * Executable memory whose content no allowlisted file vouches for (the execmem / execmod
 * classes): an exec decision of the exec section (its audit mode; exec.allow_fileless lifts
 * it, as for memfd code: a JIT needs it), event type mmap_exec / mprotect_exec. reason
 * fileless: no file backs the memory; modified: a file's private pages writable or written.
 * Cold: the hooks call it only for such requests.
 */
static __noinline int confine_execmem(struct file *file, __u32 type, __u32 reason)
{
	struct vigil_policy_cfg *cfg;
	struct vigil_event *e;
	struct decision d;
	bool broken;
	__u32 gen;
	int err;

	cfg = governing_policy(VIGIL_CFG_SECTION_ALWAYS, &gen, &broken);
	if (broken) {
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	} else {
		if (!cfg || (cfg->flags & VIGIL_CFG_ALLOW_FILELESS))
			return 0;
		decision_from_action(&d, VIGIL_ACT_DENY, 0, reason);
		decision_apply_mode(&d, cfg);
	}
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	stat_inc(err ? VIGIL_STAT_EXEC_DENY : VIGIL_STAT_EXEC_AUDIT);
	e = decision_event(type, gen, cfg, &d, err, 0);
	if (!e)
		return err;
	if (file)
		event_set_file(e, file, false);
	event_submit(e);
	return err;
}

/* mmap_file with PROT_EXEC: no file, or a private file mapping writable and executable at once. */
static __always_inline int confine_check_mmap(struct file *file, unsigned long prot,
                                              unsigned long flags)
{
	if (!file)
		return confine_execmem(NULL, VIGIL_EV_MMAP_EXEC, VIGIL_R_FILELESS);
	if ((prot & CONFINE_PROT_WRITE) && (flags & CONFINE_MAP_TYPE) == CONFINE_MAP_PRIVATE)
		return confine_execmem(file, VIGIL_EV_MMAP_EXEC, VIGIL_R_MODIFIED);
	return 0;
}

/*
 * file_mprotect adding PROT_EXEC: a vma no file backs, a file's vma with copied-on-write pages
 * (anon_vma: written since it was mapped), or writable and executable at once.
 */
static __always_inline int confine_check_mprotect(struct vm_area_struct *vma, unsigned long prot)
{
	struct file *file = BPF_CORE_READ(vma, vm_file);

	if (!file)
		return confine_execmem(NULL, VIGIL_EV_MPROTECT_EXEC, VIGIL_R_FILELESS);
	if (BPF_CORE_READ(vma, anon_vma) || (prot & CONFINE_PROT_WRITE))
		return confine_execmem(file, VIGIL_EV_MPROTECT_EXEC, VIGIL_R_MODIFIED);
	return 0;
}

#endif /* VIGIL_CONFINE_BPF_H */
