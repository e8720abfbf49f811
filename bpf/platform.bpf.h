/*
 * Platform code created after the load: a name in protected_names (agent/self.c platform_code,
 * platform_sockets) is the platform's to create, and what the platform creates there is platform
 * code from that moment, not from the next policy load. Included by file.bpf.h after file_rules.
 */
#ifndef VIGIL_PLATFORM_BPF_H
#define VIGIL_PLATFORM_BPF_H

#include "common.bpf.h"
#include "self.bpf.h"

#define S_IFSOCK 0140000

/*
 * The generation-0 entries platform_protect_inode added since the last load: the agent drops the
 * ones no platform-code path holds any more without reading all of file_rules. LRU: past
 * VIGIL_MAX_PROTECTED creations between two loads the oldest keys are forgotten and their
 * entries stay (fail closed: a freed inode number stays protected).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VIGIL_MAX_PROTECTED);
	__type(key, struct vigil_file_key);
	__type(value, struct vigil_protect_val);
} platform_created SEC(".maps");

/* The directories of protected_names, hashed (vigil_name_dir_bit); set by the agent. */
__u64 name_dir_bits[VIGIL_NAME_DIR_WORDS] = {};

/*
 * inode becomes a generation-0 tree, as agent/self.c protect_tree makes platform code found at a
 * load, marked VIGIL_FILE_SELF_CREATED so the next load can drop it once the path is protected
 * again (or gone). An existing tree entry stays as it is.
 */
static __always_inline void platform_protect_inode(struct inode *inode, __u32 flags)
{
	struct vigil_file_key key = {};
	struct vigil_protect_val pv = {.kind = VIGIL_PROT_TREE};
	struct vigil_file_val val = {};
	struct vigil_file_val *old;
	int acc;

	key.dev = inode->i_sb->s_dev;
	key.ino = inode->i_ino;
	if (flags & VIGIL_NAME_SOCKET)
		/* Full (LRU): the least recently added goes, never this one. */
		bpf_map_update_elem(&platform_socks, &key, &pv, BPF_ANY);
	old = bpf_map_lookup_elem(&file_rules, &key);
	if (old && old->action[VIGIL_FA_WRITE])
		return;
	for (acc = VIGIL_FA_WRITE; acc <= VIGIL_FA_LINK; acc++)
		val.action[acc] = VIGIL_ACT_DENY;
	val.rule_id[VIGIL_FA_SELF_ONLY] = VIGIL_FILE_SELF_CREATED;
	/* Fails open when file_rules is full: the map has room for two policies' rules and
	 * VIGIL_MAX_PROTECTED self entries, and the next load protects the path by name anyway. */
	if (bpf_map_update_elem(&file_rules, &key, &val, BPF_ANY) == 0)
		bpf_map_update_elem(&platform_created, &key, &pv, BPF_ANY);
}

#define PLATFORM_FDS_SCANNED 64

/*
 * True when one of the current task's first PLATFORM_FDS_SCANNED descriptors is open for writing
 * on inode (a plain address): the platform's own tool often renames its temporary while it still
 * holds it (systemd-sysusers writes /etc/passwd so). A global function, its loop verified once
 * per program and carrying no count (a count would keep the verifier from merging the steps'
 * states); it runs only when the platform links or renames onto a protected name.
 */
__noinline int vigil_own_writer(__u64 inode_addr)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	int i;

	for (i = 0; i < PLATFORM_FDS_SCANNED; i++) {
		struct file *f = NULL;

		if (i >= max)
			return 0;
		bpf_probe_read_kernel(&f, sizeof(f), &fds[i]);
		if (f && (__u64)BPF_CORE_READ(f, f_inode) == inode_addr &&
		    (BPF_CORE_READ(f, f_mode) & FMODE_WRITE))
			return 1;
	}
	return 0;
}

/*
 * The platform's link or rename of src onto platform code with a writer it does not hold: a
 * shared writable mapping, more than one write open, or one that is not the renaming task's.
 */
static __always_inline bool foreign_writer(struct dentry *src, struct inode *src_inode)
{
	__u64 addr = 0;
	int w;

	if (BPF_CORE_READ(src_inode, i_mapping, i_mmap_writable.counter) > 0)
		return true;
	w = BPF_CORE_READ(src_inode, i_writecount.counter);
	if (w <= 0)
		return false;
	if (w > 1)
		return true;
	/* Its address as a plain number, as the global function takes it. */
	bpf_probe_read_kernel(&addr, sizeof(addr), &src->d_inode);
	return !vigil_own_writer(addr);
}

/* The protected_names entry of the name (len bytes at name) in dir_inode, or NULL. */
static __always_inline struct vigil_protect_val *
platform_name_of(struct inode *dir_inode, __u32 len, const unsigned char *name)
{
	struct vigil_name_key key = {};

	/* A longer name cannot equal a listed one (the agent lists none that long). */
	if (len >= VIGIL_NAME_MAX)
		return NULL;
	key.dev = dir_inode->i_sb->s_dev;
	key.dir_ino = dir_inode->i_ino;
	if (bpf_probe_read_kernel(key.name, len & (VIGIL_NAME_MAX - 1), name) < 0)
		return NULL;
	return bpf_map_lookup_elem(&protected_names, &key);
}

/* The protected_names entry of name in the directory dir_inode, or NULL. */
static __always_inline struct vigil_protect_val *platform_name(struct inode *dir_inode,
                                                               struct dentry *name)
{
	return platform_name_of(dir_inode, name->d_name.len, name->d_name.name);
}

/*
 * A new name (create, mkdir, mknod, symlink, link or rename target) in dir: refused from the scope
 * when it is a platform-code name, e.g. /etc/ld.so.preload, which every later dynamically linked
 * start by the platform would load. Existing platform code is a tree entry of generation 0
 * (file_check_self). One hash lookup per new name, none per open. src: the file a link or rename
 * by the platform puts there (an atomic replace: write a temporary, rename it over the name),
 * protected before it takes the name; vigil_platform_init_security sees only files created under
 * the name.
 */
static __always_inline int self_check_new_name(const struct path *dir, struct dentry *dentry,
                                               struct dentry *src)
{
	struct inode *inode = dir->dentry->d_inode;
	struct vigil_protect_val *pv;
	struct inode *src_inode;

	if (!inode)
		return 0;
	pv = platform_name(inode, dentry);
	if (!pv)
		return 0;
	if (current_is_vigild() || current_is_platform()) {
		/* The platform installs and upgrades its own code. If the link or rename then
		 * fails, the file stays protected until the next load: the platform's anyway. */
		src_inode = src ? src->d_inode : NULL;
		if (!src_inode)
			return 0;
		/*
		 * Protection is checked at open: a descriptor (or a shared writable mapping) opened
		 * before the file became platform code still writes it. A temporary file the scope
		 * made and holds open (ldconfig opens an existing /etc/ld.so.cache~ without O_EXCL,
		 * writes it, then renames it over the cache) must not become the platform's code:
		 * with a writer other than one descriptor of the renaming task's own, the link or
		 * rename is refused, the platform's tool fails and nothing is replaced.
		 */
		if (foreign_writer(src, src_inode))
			return self_deny(VIGIL_SELF_FILE, 0, BPF_CORE_READ(src_inode, i_sb, s_dev),
			                 BPF_CORE_READ(src_inode, i_ino), dentry);
		platform_protect_inode(src_inode, pv->flags);
		return 0;
	}
	return self_deny(VIGIL_SELF_FILE, 0, inode->i_sb->s_dev, inode->i_ino, dentry);
}

/*
 * A new inode at name in dir: a protected name makes it platform code (the scope cannot create
 * one, self_check_new_name), and a socket bound in a directory created on a platform socket's
 * path since the load (/run/containerd/containerd.sock when /run/containerd was absent) is a
 * platform socket. The common case is a bit test on the directory: the name is copied and looked
 * up only in a directory protected_names lists.
 */
static __always_inline void platform_new_inode(struct inode *dir, __u32 len,
                                               const unsigned char *name, struct inode *inode)
{
	struct vigil_protect_val *pv;
	struct vigil_file_key key = {};
	__u64 bit;

	key.dev = dir->i_sb->s_dev;
	key.ino = dir->i_ino;
	bit = vigil_name_dir_bit(key.dev, key.ino);
	if (READ_ONCE(name_dir_bits[bit >> 6 & (VIGIL_NAME_DIR_WORDS - 1)]) &
	    (1ull << (bit & 63))) {
		pv = platform_name_of(dir, len, name);
		if (pv) {
			platform_protect_inode(inode, pv->flags);
			return;
		}
	}
	if ((inode->i_mode & S_IFMT) == S_IFSOCK && bpf_map_lookup_elem(&platform_socks, &key))
		platform_protect_inode(inode, VIGIL_NAME_SOCKET);
}

/* The agent's probe of a directory's filesystem (agent/self.c fs_labels_new_inodes): the device
 * of the O_TMPFILE it makes, and whether vigil_platform_init_security saw a creation there. */
__u32 platform_probe_dev = 0;
__u32 platform_probe_seen = 0;

/*
 * A filesystem that keeps security labels (ext2/3/4, XFS, Btrfs, tmpfs...) calls
 * security_inode_init_security for every inode it creates with a name (create, mkdir, mknod, a
 * unix socket's bind, symlink), with the directory and the name, before the dentry is
 * instantiated: what the platform creates at a protected name is protected before any other task
 * can look it up. A tracing program on the function, not the LSM hook: 6.6 on, the hook runs only
 * when an LSM stores an xattr (blob_sizes.lbs_xattr_count), and BPF stores none. It runs on
 * creation only, where the LSM hook on d_instantiate also ran for every socket(), pipe and
 * anonymous inode (about 225 instructions per socket(), docs/BENCHMARKS.md). An O_TMPFILE inode
 * has no name (qstr NULL): it becomes platform code by the platform's link, self_check_new_name.
 * A tracing program is skipped on a CPU where another task was preempted inside it: where the
 * kernel may preempt kernel code, and where a protected directory's filesystem does not call the
 * function, the agent attaches the d_instantiate program below as well.
 */
SEC("fentry/security_inode_init_security")
int BPF_PROG(vigil_platform_init_security, struct inode *inode, struct inode *dir,
             const struct qstr *qstr)
{
	__u32 probe = READ_ONCE(platform_probe_dev);

	if (!inode || !dir)
		return 0;
	if (probe && dir->i_sb->s_dev == probe)
		platform_probe_seen = 1;
	if (!qstr)
		return 0;
	platform_new_inode(dir, qstr->len, qstr->name, inode);
	return 0;
}

/*
 * The same on d_instantiate, an LSM program (never skipped), for directories of protected names
 * on a filesystem that does not call security_inode_init_security (ext4 built without its
 * security labels, overlayfs' own inodes, FUSE, 9p, NFS, vfat; ramfs before 6.7) and for kernels
 * that may preempt the tracing program: attached only from a load that finds one (agent/self.c
 * fs_labels_new_inodes, kernel_may_preempt), since it runs on every dcache miss and every
 * socket(), pipe and anonymous inode. Also covers a lookup that brings the inode in from disk.
 */
SEC("lsm/d_instantiate")
int BPF_PROG(vigil_platform_instantiate, struct dentry *dentry, struct inode *inode)
{
	struct inode *dir;

	if (!inode)
		return 0;
	dir = dentry->d_parent->d_inode;
	if (!dir)
		return 0; /* an anonymous root (open_by_handle_at): no name in a directory */
	platform_new_inode(dir, dentry->d_name.len, dentry->d_name.name, inode);
	return 0;
}

#endif
