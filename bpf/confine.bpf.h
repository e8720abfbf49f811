/*
 * Confinement of the scope's code: what the scope may do to other processes' memory (ptrace
 * modes) and to its own (executable memory no file backs). Bounds like bpf/bound.bpf.h: the
 * programs of the hooks (vigil.bpf.c, bpf/exec.bpf.h) call these.
 */
#ifndef VIGIL_CONFINE_BPF_H
#define VIGIL_CONFINE_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "bound.bpf.h"

#define CAP_SYS_PTRACE       19
#define CONFINE_MODE_ATTACH  0x02
#define CONFINE_MODE_NOAUDIT 0x04

/* A refusal about another task (enum vigil_self_kind kind), with the target's pid. */
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
	__builtin_memcpy(e->path, "ptrace\0", 7);
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

#endif /* VIGIL_CONFINE_BPF_H */
