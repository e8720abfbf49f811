/*
 * Programs for LSM hooks whose arguments differ between the kernels vigil supports (6.1 to
 * 6.12, docs/KERNELS.md). The object carries one program per signature; vigild loads the one
 * that matches the running kernel's BTF and leaves the other unloaded (agent/kernel.c).
 */
#ifndef VIGIL_COMPAT_BPF_H
#define VIGIL_COMPAT_BPF_H

#include "file.bpf.h"

/*
 * inode_setattr gained the mount's idmap as its first argument in 6.10 (commit "fs: add
 * mnt_idmap to inode_setattr"): chmod, chown, utimes, truncate on vigil's own files, as
 * vigil_self_setattr on the older kernels.
 */
SEC("lsm/inode_setattr")
int BPF_PROG(vigil_self_setattr_idmap, void *idmap, struct dentry *dentry, struct iattr *attr,
             int ret)
{
	if (ret)
		return ret;
	return self_check_meta(dentry);
}

/*
 * 32-bit ioctls: from 6.8 (and the stable kernels that took commit "lsm: new
 * security_file_ioctl_compat() hook") compat_sys_ioctl asks this hook instead of file_ioctl, so
 * chattr and a socket's owner from a 32-bit program are checked here, as in vigil_self_ioctl.
 * Kernels without the hook ask file_ioctl for both: the program stays unloaded (agent/kernel.c).
 */
SEC("lsm/file_ioctl_compat")
int BPF_PROG(vigil_self_ioctl_compat, struct file *file, unsigned int cmd, unsigned long arg,
             int ret)
{
	if (ret)
		return ret;
	return file_check_ioctl(file, cmd);
}

#endif /* VIGIL_COMPAT_BPF_H */
