/* File enforcement by identity: rules on (dev, ino) of files and directory trees, and vigil's own
 * files. */
#ifndef VIGIL_FILE_BPF_H
#define VIGIL_FILE_BPF_H

#include "common.bpf.h"
#include "decide.bpf.h"
#include "exec.bpf.h"
#include "self.bpf.h"
#include "key.bpf.h"
#include "bound.bpf.h"
#include "confine.bpf.h"

#define FMODE_READ      0x1
#define FMODE_EXEC      0x20
#define RENAME_EXCHANGE (1 << 1)

/*
 * (gen, dev, ino) -> per-access rule. Generation 0 is self-protection: vigil's binaries,
 * config, state and logs, denied to everyone but vigild; no policy uses generation 0.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * VIGIL_MAX_FILE_RULES + VIGIL_MAX_PROTECTED);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_file_key);
	__type(value, struct vigil_file_val);
} file_rules SEC(".maps");

#include "platform.bpf.h" /* writes file_rules */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_file_filter);
} file_filter SEC(".maps");

/* gen's filter, or NULL (self-protection, or a slot not yet holding gen): look everything up. */
static __always_inline const struct vigil_file_filter *file_filter_of(__u32 gen)
{
	__u32 slot = gen & 1;
	struct vigil_file_filter *f;

	if (!gen)
		return NULL;
	f = bpf_map_lookup_elem(&file_filter, &slot);
	return f && f->gen == gen ? f : NULL;
}

#define DCACHE_DISCONNECTED_ 0x20 /* include/linux/dcache.h, 6.1 to 6.12 */

/*
 * d, the top of a dentry walk, is an alias the handle code left unconnected to sb's root. The
 * flag is tested first: it is clear on nearly every top, so the root is rarely loaded. Direct
 * (BTF) loads: this runs at the top of every walk of every open.
 */
static __always_inline bool dentry_disconnected(struct dentry *d, struct super_block *sb)
{
	return (d->d_flags & DCACHE_DISCONNECTED_) && d != sb->s_root;
}

/*
 * A position in the mount tree: a dentry and the mount it is seen through. An open file's
 * position is filled lazily (file_open runs on every open and each field is a guarded load):
 * mnt NULL means file's f_path.mnt, needed only by a walk above the file's mount; sb, when set,
 * is the dentry's superblock (mnt's, the same for every path); inode, when set, is an inode the
 * caller loaded with its number ino (used when it is the dentry's).
 */
struct walk_pos {
	struct dentry *dentry;
	struct vfsmount *mnt;
	struct file *file;
	struct super_block *sb;
	struct inode *inode;
	__u64 ino;
};

#define WALK_TOO_DEEP     0xff
#define WALK_DISCONNECTED 0xfe /* see dentry_disconnected */

/* The rule for access at one identity, or VIGIL_ACT_NONE. */
static __always_inline __u8 walk_lookup(const struct vigil_file_filter *f,
                                        struct vigil_file_key *key, __u8 access, __u32 *ret_rule)
{
	__u8 a = access & (VIGIL_FA_MAX - 1); /* VIGIL_FA_MAX is a power of two */
	struct vigil_file_val *val;

	if (f) {
		__u64 bit = vigil_file_filter_bit(key->dev, key->ino);

		if (!(f->bits[bit >> 6] & (1ull << (bit & 63))))
			return VIGIL_ACT_NONE;
	}
	val = bpf_map_lookup_elem(&file_rules, key);
	if (!val || !val->action[a])
		return VIGIL_ACT_NONE;
	*ret_rule = val->rule_id[a];
	return val->action[a];
}

/* From a mount's root to the mount point beneath it: 0 at the root of the mount tree. */
static __always_inline struct dentry *walk_mount_point(struct vfsmount **mnt, __u64 mnt_off)
{
	struct mount *m = (void *)*mnt - mnt_off;
	struct mount *up = BPF_CORE_READ(m, mnt_parent);

	if (!up || up == m)
		return NULL;
	*mnt = (void *)up + mnt_off;
	return BPF_CORE_READ(m, mnt_mountpoint);
}

/*
 * Above the first mount root: mount points up to the root of the mount tree, through
 * bpf_probe_read (struct mount is reached by container_of, which direct loads cannot express).
 * The mount root itself was looked up by file_walk. mnt_addr is the first mount, a plain
 * address. Returns the action, with the rule's id above its low 8 bits.
 *
 * A global function: the verifier checks it once per program, not inside every inlined
 * file_walk (its 32 steps were a fifth of what it processed at a vigild start). Its walk reads
 * through helpers anyway; the call adds a few instructions where a walk leaves its first mount.
 */
__noinline __u64 vigil_walk_above_mount(__u32 gen, const struct vigil_file_filter *f,
                                        __u64 mnt_addr, __u32 access)
{
	struct vigil_file_key key = {.gen = gen};
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct vfsmount *mnt = (struct vfsmount *)mnt_addr;
	struct dentry *dentry;
	__u32 rule = 0;
	int i;

	dentry = walk_mount_point(&mnt, mnt_off);
	/*
	 * Each step looks one dentry up, then moves to its parent, or at a file system's root to
	 * the mount point beneath it: no state but (dentry, mnt) carried over, so the verifier's
	 * paths through a step meet again at its end.
	 */
	for (i = 0; i < VIGIL_FILE_MAX_DEPTH; i++) {
		struct inode *inode;
		struct dentry *parent;
		__u8 act;

		if (!dentry)
			return VIGIL_ACT_NONE; /* the root of the mount tree */
		inode = BPF_CORE_READ(dentry, d_inode);
		if (inode) {
			key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
			key.ino = BPF_CORE_READ(inode, i_ino);
			act = walk_lookup(f, &key, access, &rule);
			if (act)
				return (__u64)rule << 8 | act;
		}
		/* Real ancestors up to the filesystem's root, as in file_walk, then the next mount.
		 */
		parent = BPF_CORE_READ(dentry, d_parent);
		if (!parent || parent == dentry)
			parent = walk_mount_point(&mnt, mnt_off);
		dentry = parent;
	}
	return dentry ? WALK_TOO_DEEP : VIGIL_ACT_NONE;
}

/*
 * The action of the nearest rule for access on pos or one of its ancestors, or VIGIL_ACT_NONE.
 * Ancestors are dentry parents up to the filesystem's root (past the mount's root: a bind mount
 * of a subdirectory or a rename of a parent does not change the answer), then the mount points
 * up to the root: a directory rule covers everything mounted beneath it. Past
 * VIGIL_FILE_MAX_DEPTH components inside the file's filesystem,
 * or VIGIL_FILE_MAX_DEPTH steps above it, WALK_TOO_DEEP. Inside the first mount (nearly every
 * step) the walk uses direct BTF loads, no helper calls.
 */
static __always_inline __u8 file_walk(__u32 gen, bool trees, const struct walk_pos *start,
                                      __u8 access, __u32 *ret_rule)
{
	const struct vigil_file_filter *f = file_filter_of(gen);
	struct vigil_file_key key = {.gen = gen};
	struct dentry *dentry = start->dentry;
	struct super_block *sb = start->sb;
	__u64 mnt_addr = 0, above;
	struct inode *inode;
	int i;

	/* Every dentry of one mount has the mount's superblock. */
	if (!sb) {
		struct vfsmount *mnt = start->mnt;

		if (!mnt && start->file)
			mnt = start->file->f_path.mnt;
		/* Every caller gives a mount or a file: unreachable, undecidable (fail closed). */
		if (!mnt)
			return WALK_TOO_DEEP;
		sb = mnt->mnt_sb;
	}
	key.dev = sb->s_dev;
	if (!trees) {
		/* No rule names a directory: only the file's own identity can carry a rule. */
		inode = dentry->d_inode;
		if (!inode)
			return VIGIL_ACT_NONE;
		/* The stack copy loaded first and unconditionally: a load selecting between a stack
		 * and a kernel pointer is refused by the verifier. */
		key.ino = READ_ONCE(start->ino);
		if (inode != start->inode)
			key.ino = inode->i_ino;
		return walk_lookup(f, &key, access, ret_rule);
	}
	for (i = 0; i < VIGIL_FILE_MAX_DEPTH; i++) {
		struct dentry *parent;
		__u8 act;

		inode = dentry->d_inode;
		if (inode) {
			key.ino = inode->i_ino;
			act = walk_lookup(f, &key, access, ret_rule);
			if (act)
				return act;
		}
		/*
		 * Past the mount's root up to the filesystem's: a bind mount (or a detached clone)
		 * of a subdirectory shows files whose real ancestors lie above its root, and a rule
		 * on one of them must decide there as it does through the original path.
		 */
		parent = dentry->d_parent;
		if (!parent || parent == dentry)
			break;
		dentry = parent;
	}
	if (i == VIGIL_FILE_MAX_DEPTH)
		return WALK_TOO_DEEP;
	/*
	 * A top that is not the file system's root, left by open_by_handle_at on a disk file
	 * system (d_obtain_alias: the dentry is not reconnected): the rules above it cannot be
	 * found, so the walk is undecidable (deny, fail closed). Pseudo files (pipes, memfds) also
	 * stop at a root of their own but are not marked disconnected.
	 */
	if (dentry_disconnected(dentry, sb))
		return WALK_DISCONNECTED;
	/* As a plain address: container_of arithmetic is not allowed on BTF pointers. */
	if (start->mnt)
		bpf_probe_read_kernel(&mnt_addr, sizeof(mnt_addr), &start->mnt);
	else if (start->file)
		bpf_probe_read_kernel(&mnt_addr, sizeof(mnt_addr), &start->file->f_path.mnt);
	above = vigil_walk_above_mount(gen, f, mnt_addr, access);
	*ret_rule = (__u32)(above >> 8);
	return (__u8)above;
}

struct file_req {
	struct walk_pos pos;
	struct file *file; /* set where bpf_d_path may run: the event gets the full path */
	__u8 access;
	bool write_like; /* also checked against vigil's own files */
};

static __always_inline void file_event(const struct file_req *r, __u32 gen,
                                       const struct vigil_policy_cfg *cfg, const struct decision *d,
                                       int err)
{
	struct dentry *dentry = r->pos.dentry;
	struct inode *inode = BPF_CORE_READ(dentry, d_inode);
	struct file *file = r->file;
	struct vigil_event *e;

	if (learning(cfg)) {
		/* A name not yet created has no inode: its directory and name hash stand in. */
		struct inode *dir = BPF_CORE_READ(dentry, d_parent, d_inode);
		__u32 name[4] = {BPF_CORE_READ(dentry, d_name.hash),
		                 BPF_CORE_READ(dentry, d_name.len)};

		if (inode ? learn_repeat(gen, VIGIL_EV_FILE, d, r->access,
		                         BPF_CORE_READ(inode, i_sb, s_dev),
		                         BPF_CORE_READ(inode, i_ino), NULL, 0, 0)
		          : learn_repeat(gen, VIGIL_EV_FILE, d, r->access,
		                         BPF_CORE_READ(dir, i_sb, s_dev), BPF_CORE_READ(dir, i_ino),
		                         (const __u8 *)name, 0, 1))
			return;
	}
	e = decision_event(VIGIL_EV_FILE, gen, cfg, d, err, r->access);
	if (!e)
		return;
	if (inode) {
		e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		e->ino = BPF_CORE_READ(inode, i_ino);
	}
	if (file) {
		if (bpf_d_path((struct path *)&file->f_path, e->path, sizeof(e->path)) < 0)
			e->path[0] = 0;
	} else {
		bpf_probe_read_kernel_str(e->path, sizeof(e->path),
		                          BPF_CORE_READ(dentry, d_name.name));
	}
	event_submit(e);
}

/* Generation 0's entry for one identity, or NULL. */
static __always_inline struct vigil_file_val *self_entry(__u64 dev, __u64 ino)
{
	struct vigil_file_key key = {.dev = dev, .ino = ino};

	return bpf_map_lookup_elem(&file_rules, &key);
}

/*
 * The trusted base (vigil's binaries, config, state, runtime files and logs, every file vigild
 * and PID 1 map, and the ancestors of their paths): any change from the scope is refused. The
 * platform and vigild may change it (upgrades, vigild's own writes).
 */
static __always_inline int file_check_self(const struct file_req *r)
{
	struct dentry *dentry = r->pos.dentry;
	struct vigil_file_val *val;
	struct inode *inode;
	__u64 dev = 0, ino = 0;
	__u32 rule;
	__u8 act;

	if (!r->write_like)
		return 0;
	if (sb_magic(dentry) == BPF_FS_MAGIC) {
		if (current_is_vigild())
			return 0;
		return self_deny(VIGIL_SELF_BPF, 0, 0, 0, dentry);
	}
	inode = BPF_CORE_READ(dentry, d_inode);
	if (inode) {
		dev = BPF_CORE_READ(inode, i_sb, s_dev);
		ino = BPF_CORE_READ(inode, i_ino);
	}
	act = file_walk(0, true, &r->pos, r->access, &rule);
	/* Too deep cannot hide vigil's files: nobody else can create directories beneath them. A
	 * disconnected dentry can (its ancestors are unknown): refused below. */
	if (act != VIGIL_ACT_DENY && act != WALK_DISCONNECTED) {
		/* An ancestor of vigil's paths: the name itself cannot go (write and create in it
		 * can). */
		if (r->access != VIGIL_FA_UNLINK && r->access != VIGIL_FA_RENAME &&
		    r->access != VIGIL_FA_LINK)
			return 0;
		val = inode ? self_entry(dev, ino) : NULL;
		if (!val || !val->action[VIGIL_FA_SELF_ONLY])
			return 0;
	}
	if (current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_FILE, 0, dev, ino, dentry);
}

/*
 * Metadata (mode, owner, times, size, xattrs, inode flags) of the trusted base: the identity
 * itself or a directory above it within its filesystem carries a generation-0 entry. Ancestor
 * entries (VIGIL_FA_SELF_ONLY) count for the identity itself only.
 */
static __always_inline int self_check_meta(struct dentry *d)
{
	struct vigil_file_key key = {};
	struct vigil_file_val *val;
	struct dentry *start = d;
	int i;

	key.dev = BPF_CORE_READ(d, d_sb, s_dev);
	for (i = 0; i < VIGIL_FILE_MAX_DEPTH; i++) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);
		struct dentry *parent;

		if (inode) {
			key.ino = BPF_CORE_READ(inode, i_ino);
			val = bpf_map_lookup_elem(&file_rules, &key);
			if (val && (val->action[VIGIL_FA_WRITE] ||
			            (i == 0 && val->action[VIGIL_FA_SELF_ONLY])))
				goto protected;
		}
		parent = BPF_CORE_READ(d, d_parent);
		if (!parent || parent == d) {
			/* Disconnected (open_by_handle_at): vigil's trees above it are not seen;
			 * refuse (fail closed). */
			if ((BPF_CORE_READ(d, d_flags) & DCACHE_DISCONNECTED_) &&
			    d != BPF_CORE_READ(d, d_sb, s_root))
				goto protected;
			return 0;
		}
		d = parent;
	}
	/* Too deep cannot hide vigil's files (see file_check_self). */
	return 0;

      protected:
	if (current_is_vigild() || current_is_platform())
		return 0;
	return self_deny(VIGIL_SELF_ATTR, 0, key.dev, BPF_CORE_READ(start, d_inode, i_ino), start);
}

/* Decides one access: self-protection first, then the policy's file rules. */
static __always_inline int file_check(const struct file_req *r)
{
	struct vigil_policy_cfg *cfg;
	struct decision d;
	bool broken;
	__u32 gen, rule = 0;
	__u8 act;
	int err;

	err = file_check_self(r);
	if (err)
		return err;
	/* vigild's exemption: tested below, before a refusal or an event only. */
	cfg = governing_policy_agent_later(VIGIL_CFG_FILE_RULES, &gen, &broken);
	if (broken) {
		decision_from_action(&d, VIGIL_ACT_DENY, 0, VIGIL_R_NO_POLICY);
	} else if (!cfg) {
		return 0;
	} else {
		act = file_walk(gen, cfg->flags & VIGIL_CFG_FILE_TREES, &r->pos, r->access, &rule);
		if (act == WALK_TOO_DEEP || act == WALK_DISCONNECTED) {
			if (is_agent())
				return 0;
			/* A path we cannot walk to its root might be under a denied tree. */
			stat_inc(VIGIL_STAT_TOO_DEEP);
			decision_from_action(&d, VIGIL_ACT_DENY, 0,
			                     act == WALK_TOO_DEEP ? VIGIL_R_TOO_DEEP
			                                          : VIGIL_R_DISCONNECTED);
		} else if (act == VIGIL_ACT_NONE) {
			decision_from_action(&d, cfg_default(cfg, VIGIL_CFG_FILE_DEFAULT_SHIFT), 0,
			                     VIGIL_R_DEFAULT);
		} else {
			decision_from_action(&d, act, rule, VIGIL_R_RULE);
		}
		decision_apply_mode(&d, cfg);
	}
	if (!d.log || is_agent())
		return 0;
	err = d.verdict == VIGIL_DENY ? -EPERM : 0;
	if (err)
		stat_inc(VIGIL_STAT_FILE_DENY);
	file_event(r, gen, cfg, &d, err);
	/* 6.12's verifier loses err's range here once vigild's test is below the walk. */
	return lsm_ret(err);
}

static __always_inline int file_check_path(const struct path *dir, struct dentry *dentry,
                                           __u8 access)
{
	struct file_req r = {
	    .pos = {.dentry = dentry ?: dir->dentry, .mnt = dir->mnt},
	    .access = access,
	    .write_like = true,
	};

	return file_check(&r);
}

/*
 * An open file, by the scope: self-protection and the bounds, then the file rules for each
 * direction of its mode (rules_too: not for an exec's own open), and, for an allowed writer of
 * a regular file, the exec allowlist's and the key rules' invalidation of it.
 */
static __always_inline int file_check_modes(struct file_req *r, struct file *file,
                                            struct inode *inode, __u32 type, unsigned int mode,
                                            bool rules_too)
{
	int err = self_check_open(file, r->pos.dentry, r->pos.sb, inode, r->pos.ino, type, mode)
	              ?: bound_check_open(file, inode, type, mode);

	if (err || !rules_too)
		return err;
	if (mode & FMODE_WRITE) {
		r->access = VIGIL_FA_WRITE;
		r->write_like = true;
		err = file_check(r);
		if (err)
			return err;
		if (type == S_IFREG) {
			exec_invalidate(inode, file, VIGIL_R_WRITE_OPEN);
			key_exe_invalidate(inode);
		}
	}
	if (mode & FMODE_READ) {
		r->access = VIGIL_FA_READ;
		r->write_like = false;
		return file_check(r);
	}
	return 0;
}

/*
 * The common open, a read of a regular file the rules allow without an event, decided without
 * the general path's bookkeeping: true only when file_check_modes would return 0 for it. Its
 * checks, in the general path's terms: self_check_open (a secret; bpffs and configfs files go
 * the general way), bound_check_open (nothing for a read of a regular file), file_check_self
 * (nothing for a read), and file_check with no directory among the rules (file_walk's one
 * lookup, of the dentry's inode: another one, as an overlayfs file has, goes the general way).
 * False: the general path decides, from the start.
 */
static __always_inline bool file_read_allowed(struct dentry *dentry, struct super_block *sb,
                                              struct inode *inode, __u64 ino)
{
	struct vigil_file_key key = {};
	struct vigil_policy_cfg *cfg;
	__u64 magic = sb->s_magic;
	bool broken;
	__u32 gen, rule;
	__u8 act;

	if (magic == BPF_FS_MAGIC || magic == CONFIGFS_MAGIC || is_secret(inode, ino))
		return false;
	cfg = governing_policy_agent_later(VIGIL_CFG_FILE_RULES, &gen, &broken);
	if (!cfg)
		return !broken;
	if ((cfg->flags & VIGIL_CFG_FILE_TREES) || dentry->d_inode != inode)
		return false;
	key.gen = gen;
	key.dev = sb->s_dev;
	key.ino = ino;
	act = walk_lookup(file_filter_of(gen), &key, VIGIL_FA_READ, &rule);
	if (act == VIGIL_ACT_NONE)
		act = cfg_default(cfg, VIGIL_CFG_FILE_DEFAULT_SHIFT);
	return act == VIGIL_ACT_ALLOW;
}

/*
 * Every open in the guest runs this one program (a second program on the hook would cost a
 * second trampoline per open): self-protection, the file rules, then, for a write open that is
 * allowed, the exec allowlist's and the key rules' invalidation of the file.
 */
SEC("lsm/file_open")
int BPF_PROG(vigil_file_open, struct file *file, int ret)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = file->f_inode;
	/* The mount is loaded only by a walk above it (walk_pos). */
	struct file_req r = {
	    .pos = {.dentry = dentry, .file = file, .sb = dentry->d_sb, .inode = inode},
	    .file = file,
	};
	unsigned int mode = file->f_mode;
	__u32 type;

	if (ret)
		return ret;
	r.pos.ino = inode->i_ino;
	type = inode->i_mode & S_IFMT;
	if (type == S_IFREG && !(mode & (FMODE_WRITE | FMODE_EXEC)) &&
	    file_read_allowed(dentry, r.pos.sb, inode, r.pos.ino))
		return 0;
	/* The exec section decides executions; the open that loads the binary is part of it. */
	return file_check_modes(&r, file, inode, type, mode, !(mode & FMODE_EXEC));
}

/*
 * A file handed over by another process (SCM_RIGHTS, pidfd_getfd): decided as an open of it
 * with its f_mode by the receiver would be (secrets, protected devices, bpffs, the scope's
 * bounds, the file rules), so a platform process cannot leak a denied file to the scope by
 * passing its descriptor. A refusal leaves the descriptor out of the message (MSG_CTRUNC; the
 * data still arrives). Not a hot path: only descriptor passing runs it. bpf_d_path is not
 * allowed here: the event names the file's last component.
 */
SEC("lsm/file_receive")
int BPF_PROG(vigil_file_receive, struct file *file, int ret)
{
	struct dentry *dentry = file->f_path.dentry;
	struct inode *inode = file->f_inode;
	struct file_req r = {
	    .pos = {.dentry = dentry, .file = file, .sb = dentry->d_sb, .inode = inode},
	};
	unsigned int mode = file->f_mode;
	__u32 type;

	if (ret)
		return ret;
	r.pos.ino = inode->i_ino;
	type = inode->i_mode & S_IFMT;
	return file_check_modes(&r, file, inode, type, mode, true);
}

/* One program on the hook: the exec allowlist (bpf/exec.bpf.h), then the file rules. */
SEC("lsm/mmap_file")
int BPF_PROG(vigil_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
             unsigned long flags, int ret)
{
	struct file_req r = {.file = file, .access = VIGIL_FA_EXEC_MAP};
	int err;

	if (ret)
		return ret;
	if (!(prot & PROT_EXEC))
		return 0;
	err = confine_check_mmap(file, prot, flags);
	if (err || !file)
		return err;
	err = exec_check_mmap(file);
	if (err)
		return err;
	r.pos.dentry = file->f_path.dentry;
	r.pos.mnt = file->f_path.mnt;
	return file_check(&r);
}

SEC("lsm/path_truncate")
int BPF_PROG(vigil_path_truncate, const struct path *path, int ret)
{
	struct inode *inode = path->dentry->d_inode;
	int err;

	if (ret)
		return ret;
	err = file_check_path(path, NULL, VIGIL_FA_WRITE);
	if (err)
		return err;
	if (inode) {
		exec_invalidate(inode, NULL, VIGIL_R_TRUNCATE);
		key_exe_invalidate(inode);
	}
	return 0;
}

/* New names are decided by the directory they appear in. */
SEC("lsm/path_mknod")
int BPF_PROG(vigil_file_rules_mknod, const struct path *dir, struct dentry *dentry, umode_t mode,
             unsigned int dev, int ret)
{
	if (ret)
		return ret;
	return self_check_new_name(dir, dentry, NULL)
	           ?: file_check_path(dir, NULL, VIGIL_FA_CREATE);
}

SEC("lsm/path_mkdir")
int BPF_PROG(vigil_file_rules_mkdir, const struct path *dir, struct dentry *dentry, umode_t mode,
             int ret)
{
	if (ret)
		return ret;
	return self_check_new_name(dir, dentry, NULL)
	           ?: file_check_path(dir, NULL, VIGIL_FA_CREATE);
}

SEC("lsm/path_symlink")
int BPF_PROG(vigil_file_rules_symlink, const struct path *dir, struct dentry *dentry,
             const char *old_name, int ret)
{
	if (ret)
		return ret;
	return self_check_new_name(dir, dentry, NULL)
	           ?: file_check_path(dir, NULL, VIGIL_FA_CREATE);
}

SEC("lsm/path_unlink")
int BPF_PROG(vigil_file_rules_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return file_check_path(dir, dentry, VIGIL_FA_UNLINK);
}

SEC("lsm/path_rmdir")
int BPF_PROG(vigil_file_rules_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return file_check_path(dir, dentry, VIGIL_FA_UNLINK);
}

/* A hard link is a new name, which could sit outside the tree a rule covers. */
SEC("lsm/path_link")
int BPF_PROG(vigil_file_rules_link, struct dentry *old_dentry, const struct path *new_dir,
             struct dentry *new_dentry, int ret)
{
	int err;

	if (ret)
		return ret;
	err = file_check_path(new_dir, old_dentry, VIGIL_FA_LINK);
	if (err)
		return err;
	return self_check_new_name(new_dir, new_dentry, old_dentry)
	           ?: file_check_path(new_dir, NULL, VIGIL_FA_CREATE);
}

SEC("lsm/path_rename")
int BPF_PROG(vigil_file_rules_rename, const struct path *old_dir, struct dentry *old_dentry,
             const struct path *new_dir, struct dentry *new_dentry, unsigned int flags, int ret)
{
	int err;

	if (ret)
		return ret;
	err = file_check_path(old_dir, old_dentry, VIGIL_FA_RENAME);
	if (err)
		return err;
	err = self_check_new_name(new_dir, new_dentry, old_dentry)
	          ?: file_check_path(new_dir, NULL, VIGIL_FA_CREATE);
	if (err)
		return err;
	if (!BPF_CORE_READ(new_dentry, d_inode))
		return 0;
	/* The file at the destination is replaced, or with RENAME_EXCHANGE moved away. */
	return file_check_path(new_dir, new_dentry,
	                       (flags & RENAME_EXCHANGE) ? VIGIL_FA_RENAME : VIGIL_FA_UNLINK);
}

/* chmod, chown, utimes, truncate: every metadata change goes through notify_change. */
SEC("lsm/inode_setattr")
int BPF_PROG(vigil_self_setattr, struct dentry *dentry, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return self_check_meta(dentry);
}

/* The 6.1 hooks take the mount's user namespace first. */
SEC("lsm/inode_setxattr")
int BPF_PROG(vigil_self_setxattr, void *mnt_userns, struct dentry *dentry, const char *name,
             const void *value, size_t size, int flags, int ret)
{
	if (ret)
		return ret;
	return self_check_meta(dentry);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(vigil_self_removexattr, void *mnt_userns, struct dentry *dentry, const char *name,
             int ret)
{
	if (ret)
		return ret;
	return self_check_meta(dentry);
}

#define FS_IOC_SETFLAGS   0x40086602 /* chattr: immutable, append-only, ... */
#define FS_IOC32_SETFLAGS 0x40046602
#define FS_IOC_FSSETXATTR 0x401c5820
#define FS_IOC_SETVERSION 0x40087602
/*
 * Inode flags: chattr +i on the audit log stops vigild's appends. A socket's owner (FIOSETOWN,
 * SIOCSPGRP) chooses whom SIGIO signals, FIOASYNC turns it on: bpf/confine.bpf.h. Other
 * ioctls: a few compares.
 */
static __always_inline int file_check_ioctl(struct file *file, unsigned int cmd)
{
	if (cmd == CONFINE_FIOSETOWN || cmd == CONFINE_SIOCSPGRP)
		return confine_check_owner(cmd, 0);
	if (cmd == CONFINE_FIOASYNC)
		return confine_check_signal_setup(file);
	if (cmd != FS_IOC_SETFLAGS && cmd != FS_IOC32_SETFLAGS && cmd != FS_IOC_FSSETXATTR &&
	    cmd != FS_IOC_SETVERSION)
		return 0;
	return self_check_meta(file->f_path.dentry);
}

SEC("lsm/file_ioctl")
int BPF_PROG(vigil_self_ioctl, struct file *file, unsigned int cmd, unsigned long arg, int ret)
{
	if (ret)
		return ret;
	return file_check_ioctl(file, cmd);
}

#endif /* VIGIL_FILE_BPF_H */
