/* The vigil BPF object: one skeleton holding every LSM program and map. */
#include "common.bpf.h"
#include "exec.bpf.h"
#include "net.bpf.h"
#include "file.bpf.h"
#include "key.bpf.h"
#include "bound.bpf.h"

/*
 * ptrace attach, /proc/PID/mem, process_vm_*: one program for the hook (a second one costs a
 * trampoline call on every access check), vigild's protection first, then key grant holders.
 */
SEC("lsm/ptrace_access_check")
int BPF_PROG(vigil_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	if (ret)
		return ret;
	return self_check_ptrace(child, mode) ?: key_check_ptrace(child, mode);
}

char LICENSE[] SEC("license") = "GPL";
