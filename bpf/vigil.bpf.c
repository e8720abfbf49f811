/* The vigil BPF object: one skeleton holding every LSM program and map. */
#include "common.bpf.h"
#include "exec.bpf.h"
#include "net.bpf.h"
#include "file.bpf.h"
#include "key.bpf.h"
#include "bound.bpf.h"
#include "compat.bpf.h"
#include "confine.bpf.h"

/*
 * ptrace attach, /proc/PID/mem, process_vm_*: one program for the hook (a second one costs a
 * trampoline call on every access check), vigild's protection first, then the scope's bounds
 * (bpf/confine.bpf.h), then key grant holders.
 */
SEC("lsm/ptrace_access_check")
int BPF_PROG(vigil_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	return self_check_ptrace(child, mode) ?: confine_check_ptrace(child, mode)
	                                          ?: key_check_ptrace(child, mode);
}

/* Every fork and thread: clone3(CLONE_INTO_CGROUP) from the scope, then key grant inheritance. */
SEC("lsm/task_alloc")
int BPF_PROG(vigil_task_alloc, struct task_struct *task, unsigned long clone_flags, int ret)
{
	if (ret)
		return ret;
	ret = bound_check_clone(clone_flags);
	if (!ret)
		key_inherit_exe(task);
	return ret;
}

/*
 * flock, fcntl (POSIX and OFD) locks and leases on the trusted base from the scope: a flock of
 * the audit log's .lock (a read-only open is enough) held across vigild's restart made the new
 * vigild run without its audit log; a lease delays vigild's write-opens. Not a hot path: only
 * lock calls reach it.
 */
SEC("lsm/file_lock")
int BPF_PROG(vigil_self_lock, struct file *file, unsigned int cmd, int ret)
{
	if (ret)
		return ret;
	return self_check_meta(file->f_path.dentry);
}

char LICENSE[] SEC("license") = "GPL";
