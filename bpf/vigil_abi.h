/* vigil kernel/user ABI: map keys and values and the ring-buffer event, shared by BPF and user
 * space. */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifdef __VIGIL_BPF__
/* vmlinux.h already provides the fixed-width kernel types. */
#else
#include <linux/types.h>
#include <assert.h>
#endif

/* Bumped on any change to a struct below; vigild refuses objects of another version. */
#define VIGIL_ABI_VERSION 4

#define VIGIL_COMM_LEN         16
#define VIGIL_PATH_LEN         256
#define VIGIL_MAX_CGROUP_DEPTH 16
/* guard_cgroup_ids: vigild's and PID 1's cgroups and their ancestors below the root. */
#define VIGIL_GUARD_CGROUPS (2 * VIGIL_MAX_CGROUP_DEPTH)
#define VIGIL_KEY_DESC_LEN  64

/* Map capacities; generation-keyed maps hold two policies during a swap. */
#define VIGIL_MAX_EXEC_RULES    131072
#define VIGIL_MAX_SCOPE_CGROUPS 1024
#define VIGIL_MAX_NET_PREFIXES  65536 /* distinct CIDRs per policy */
#define VIGIL_NET_RULES_PER_PREFIX                                                                 \
	16                         /* rules reachable from one CIDR, its covering CIDRs included */
#define VIGIL_MAX_FILE_RULES 65536 /* distinct files and directories per policy */
#define VIGIL_FILE_MAX_DEPTH 32    /* path components walked; deeper paths fail closed */
#define VIGIL_MAX_KEY_NAMES  1024
#define VIGIL_KEY_GRANTS     8   /* rules per key description */
#define VIGIL_MAX_PROTECTED  256 /* self-protection identities */

/* Which hook produced an event. */
enum vigil_event_type {
	VIGIL_EV_EXEC = 1,             /* bprm_check_security */
	VIGIL_EV_MMAP_EXEC = 2,        /* mmap_file with PROT_EXEC */
	VIGIL_EV_MPROTECT_EXEC = 3,    /* file_mprotect adding PROT_EXEC */
	VIGIL_EV_EXEC_INVALIDATED = 4, /* an allowlisted file was opened for write or truncated */
	VIGIL_EV_FILE = 5, /* file_open, path_* and mmap_file: access in vigil_event.access */
	VIGIL_EV_NET = 6,  /* socket_connect/bind/listen/sendmsg: op in access */
	VIGIL_EV_KEY = 7,  /* key_permission: perm in access */
	VIGIL_EV_SELF = 8, /* self-protection: what in access (enum vigil_self_kind) */
	VIGIL_EV_CAP = 9,  /* capable: the capability number in access */
};

/* A rule's action; 0 in a per-access slot means "no rule for this access". */
enum vigil_action {
	VIGIL_ACT_NONE = 0,
	VIGIL_ACT_ALLOW = 1,
	VIGIL_ACT_DENY = 2,
	VIGIL_ACT_AUDIT = 3, /* log, allow */
};

/* File access kinds: bit numbers of a rule's access mask and slots of vigil_file_val. */
enum vigil_file_access {
	VIGIL_FA_READ = 0,
	VIGIL_FA_WRITE = 1, /* open for write, truncate */
	VIGIL_FA_CREATE =
	    2, /* a new name in a directory: create, mkdir, mknod, symlink, rename target */
	VIGIL_FA_UNLINK = 3,   /* unlink, rmdir, replaced by a rename */
	VIGIL_FA_RENAME = 4,   /* rename away */
	VIGIL_FA_LINK = 5,     /* hard link to the file */
	VIGIL_FA_EXEC_MAP = 6, /* mmap with PROT_EXEC */
	/* Generation 0 only: marks an identity protected itself (unlink, rename, link, metadata)
	 * but not what lies beneath it: the ancestors of vigil's paths. Policies never use it. */
	VIGIL_FA_SELF_ONLY = 7,
	VIGIL_FA_MAX = 8,
};

/* Network operations: bit numbers of a rule's op mask. */
enum vigil_net_op {
	VIGIL_NET_CONNECT = 0,
	VIGIL_NET_BIND = 1,
	VIGIL_NET_LISTEN = 2,
	VIGIL_NET_SENDMSG = 3, /* sendto/sendmsg with an explicit destination */
	VIGIL_NET_CREATE = 4,  /* socket(), in events of vigil before 2026-11-29; no rule op */
};

/* Key permissions: bit numbers of a grant's perm mask; equal to the kernel's enum key_need_perm. */
enum vigil_key_perm {
	VIGIL_KEY_VIEW = 1,
	VIGIL_KEY_READ = 2,
	VIGIL_KEY_WRITE = 3,
	VIGIL_KEY_SEARCH = 4,
	VIGIL_KEY_LINK = 5,
	VIGIL_KEY_SETATTR = 6,
	VIGIL_KEY_UNLINK = 7,
	VIGIL_KEY_PTRACE = 16, /* (event only) ptrace or memory access to a key-grant holder */
};

/* What a self-protection event refused, in vigil_event.access. */
enum vigil_self_kind {
	VIGIL_SELF_DEVICE = 1,  /* open of a TPM / TDX / SNP device */
	VIGIL_SELF_FILE = 2,    /* write, create, unlink, rename or link in vigil's files */
	VIGIL_SELF_BPF = 3,     /* bpf() syscall */
	VIGIL_SELF_PTRACE = 4,  /* ptrace or /proc/PID/mem of vigild */
	VIGIL_SELF_SIGNAL = 5,  /* a signal to vigild */
	VIGIL_SELF_EXEC = 6,    /* start of the vigild binary by a process other than PID 1 */
	VIGIL_SELF_TSM = 7,     /* any open under configfs-tsm */
	VIGIL_SELF_SCHED = 8,   /* nice, scheduler policy, affinity or I/O priority of vigild */
	VIGIL_SELF_RLIMIT = 9,  /* a resource limit of vigild */
	VIGIL_SELF_CGROUP = 10, /* a cgroup move out of, into or across the scope; cgroup control */
	VIGIL_SELF_MOUNT = 11,  /* mount, unmount or move over vigil's paths or bpffs */
	VIGIL_SELF_SECRET = 12, /* read of a secret (the checkpoint key) */
	VIGIL_SELF_SOCKET = 13, /* connect to vigild's control socket from the scope */
	VIGIL_SELF_KERNEL = 14, /* kernel code or another kernel: modules, kexec, lockdown */
	VIGIL_SELF_PROC =
	    15, /* /proc/PID writes (oom_score_adj, ...) of a task outside the scope */
	VIGIL_SELF_ATTR =
	    16, /* metadata change of the trusted base: mode, owner, times, flags, xattrs */
	VIGIL_SELF_PLATFORM_SOCKET =
	    17, /* connect from the scope to the service manager's or the system D-Bus socket */
};

/* Self-protection kinds of protected identities (vigil_protect_val.kind). */
#define VIGIL_PROT_DEVICE 1 /* char device number: no open at all */
#define VIGIL_PROT_TREE   2 /* file or directory tree: no write, create, unlink, rename, link */
#define VIGIL_PROT_SECRET                                                                          \
	3 /* file or directory tree: no open at all (configfs-tsm, bpffs pins)                     \
	   */

enum vigil_verdict {
	VIGIL_ALLOW = 0,
	VIGIL_DENY = 1,
	VIGIL_AUDIT = 2, /* would have been denied; allowed because of audit mode */
};

enum vigil_reason {
	VIGIL_R_RULE = 0,            /* matched an allow rule */
	VIGIL_R_NOT_LISTED = 1,      /* identity not in the allowlist */
	VIGIL_R_FILELESS = 2,        /* memfd or deleted file */
	VIGIL_R_MODIFIED = 3,        /* allowlisted, but written since its digest was checked */
	VIGIL_R_OPEN_WRITE = 4,      /* allowlisted, but currently open for writing */
	VIGIL_R_WRITE_OPEN = 5,      /* (invalidation event) opened for write */
	VIGIL_R_TRUNCATE = 6,        /* (invalidation event) truncated by path */
	VIGIL_R_NO_POLICY = 7,       /* generation published without its config: fail-closed */
	VIGIL_R_DEFAULT = 8,         /* no rule matched: the section's default action */
	VIGIL_R_TOO_DEEP = 9,        /* path deeper than VIGIL_FILE_MAX_DEPTH: fail-closed */
	VIGIL_R_SELF = 10,           /* self-protection, no policy involved */
	VIGIL_R_NOT_NAMED = 11,      /* managed key; no rule names this workload */
	VIGIL_R_WRITER_AT_LOAD = 12, /* (invalidation, from vigild) a writer held it at its check */
	VIGIL_R_BAD_ADDR = 13,       /* a socket address the kernel refuses or vigil cannot read */
	VIGIL_R_RAW_SOCKET = 14,     /* raw, packet or ping socket under "raw": "deny" */
	VIGIL_R_SOCKET_KIND = 15,    /* a socket family or transport the rules cannot express */
	VIGIL_R_DISCONNECTED = 16,   /* a file reached by handle whose ancestors are unknown */
};

/* Policy-wide flags in vigil_policy_cfg.flags. */
#define VIGIL_CFG_SCOPE_GUEST    (1u << 0) /* whole guest, no cgroup test */
#define VIGIL_CFG_AUDIT          (1u << 1) /* policy mode audit */
#define VIGIL_CFG_ALLOW_FILELESS (1u << 2) /* memfd / deleted-file exec allowed */
#define VIGIL_CFG_FILE_RULES     (1u << 3) /* the policy has file rules or a non-allow default */
#define VIGIL_CFG_NET_RULES      (1u << 4) /* the policy has network rules or a non-allow default */
#define VIGIL_CFG_FILE_TREES     (1u << 5) /* a file rule names a directory: walk the parents */
#define VIGIL_CFG_SCOPE_INLINE   (1u << 6) /* scope cgroups in vigil_policy_cfg.scope_id */
#define VIGIL_CFG_NET_RAW        (1u << 7) /* "raw": "allow": raw, packet, ping sockets */
/* Section defaults, enum vigil_action in two bits (0 reads as allow). */
#define VIGIL_CFG_FILE_DEFAULT_SHIFT 8
#define VIGIL_CFG_NET_DEFAULT_SHIFT  10
#define VIGIL_CFG_DEFAULT_MASK       3u
/* Capabilities section (bpf/bound.bpf.h); bits 16+ so the other sections' bits stay free. */
#define VIGIL_CFG_CAP_AUDIT (1u << 16) /* capabilities: refusals are logged and allowed */
#define VIGIL_CFG_USERNS    (1u << 17) /* the scope may create user namespaces */
/* Policy mode "learn" (audit plus): each distinct access is logged once per generation. */
#define VIGIL_CFG_LEARN (1u << 18)

/* Per-rule flags in vigil_exec_val.flags. */
#define VIGIL_RULE_AUDIT (1u << 0) /* this rule only logs */

/*
 * policy_cfg: an array of VIGIL_CFG_SLOTS configs; generation G lives in slot G % SLOTS and
 * says so in .gen (a slot holding another generation reads as no config). An array lookup is
 * a few inlined instructions on every hook; a slot is rewritten only SLOTS generations later.
 */
#define VIGIL_CFG_SLOTS     8 /* a power of two */
#define VIGIL_CFG_SCOPE_MAX 4 /* scope cgroups carried in the config itself */
struct vigil_policy_cfg {
	__u64 serial;
	__u32 flags;
	__u32 rule_count;
	__u32 gen;
	/* With VIGIL_CFG_SCOPE_INLINE: the scope is these cgroup ids, compared in place (unused
	 * slots 0: the BPF side compares all four); else scope_cgroups holds it. */
	__u32 n_scope;
	__u64 scope_id[VIGIL_CFG_SCOPE_MAX];
	/* Capabilities tasks in scope keep: bit N is capability N
	 * (include/uapi/linux/capability.h). */
	__u64 cap_allow;
};

/* VIGIL_EV_CAP: access is a capability number, or this for the creation of a user namespace. */
#define VIGIL_CAP_USERNS 64

/* scope_cgroups: (generation, cgroup v2 id) -> present. */
struct vigil_scope_key {
	__u64 cgroup_id;
	__u32 gen;
	__u32 _pad;
};

/* exec_allow: (generation, device, inode) -> rule. */
struct vigil_exec_key {
	__u64 dev; /* kernel dev_t (MAJOR << 20 | MINOR), as in super_block.s_dev */
	__u64 ino;
	__u32 gen;
	__u32 _pad;
};

struct vigil_exec_val {
	__u32 rule_id;
	__u32 flags;
	/*
	 * Set by the kernel (enum vigil_reason) when the file is opened for write or
	 * truncated. User space inserts a pending generation's entries with 0 before it
	 * hashes the files, and the kernel marks the active and the pending generation,
	 * so a write during or after the digest check is never allowed.
	 */
	__u32 revoked;
	__u32 _pad;
};

/*
 * net_rules: an LPM trie. data is (gen, family, address); prefixlen counts bits of data, so
 * prefixlen = 40 + the CIDR's length. IPv4 and IPv4-mapped IPv6 use family 4 and the first
 * 4 address bytes; the rest are zero.
 */
struct vigil_net_key {
	__u32 prefixlen;
	__u32 gen;
	__u8 family; /* 4 or 6 */
	__u8 addr[16];
	__u8 _pad[3];
};

#define VIGIL_NET_KEY_HDR_BITS 40 /* gen and family */

#define VIGIL_PROTO_ANY 0 /* in vigil_net_rule.proto: TCP, UDP and every other protocol */

struct vigil_net_rule {
	__u32 rule_id;
	__u16 port_lo; /* host order, inclusive */
	__u16 port_hi;
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP or VIGIL_PROTO_ANY */
	__u8 ops;    /* mask of 1 << enum vigil_net_op */
	__u8 action; /* enum vigil_action */
	__u8 _pad;
};

/* Rules that can apply to addresses under this prefix, most specific first: first match wins. */
struct vigil_net_val {
	__u32 count;
	__u32 _pad;
	struct vigil_net_rule rules[VIGIL_NET_RULES_PER_PREFIX];
};

/* file_rules and protected: (generation, device, inode). gen is 0 in protected. */
struct vigil_file_key {
	__u64 dev;
	__u64 ino;
	__u32 gen;
	__u32 _pad;
};

/* The rule for each access kind on this file or tree (merged: deny > audit > allow). */
struct vigil_file_val {
	__u32 rule_id[VIGIL_FA_MAX];
	__u8 action[VIGIL_FA_MAX]; /* enum vigil_action; NONE: ask the parent directory */
};

/*
 * file_filter: per generation (slot gen % 2), one bit per hash of (dev, ino) set for every
 * file_rules entry of that generation. A clear bit proves the file has no entry, so most
 * lookups (files no rule names) cost a multiply and an inlined array load instead of a hash
 * lookup; a set bit only sends the walk to file_rules. A slot naming another gen is ignored.
 */
#define VIGIL_FILE_FILTER_LOG2  18 /* bits */
#define VIGIL_FILE_FILTER_WORDS (1u << (VIGIL_FILE_FILTER_LOG2 - 6))
struct vigil_file_filter {
	__u32 gen;
	__u32 _pad;
	__u64 bits[VIGIL_FILE_FILTER_WORDS];
};

static inline __u64 vigil_file_filter_bit(__u64 dev, __u64 ino)
{
	return (ino * 0x9e3779b97f4a7c15ull + dev * 0xc2b2ae3d27d4eb4full) >>
	       (64 - VIGIL_FILE_FILTER_LOG2);
}

/* key_rules: (generation, key description). */
struct vigil_key_key {
	__u32 gen;
	char desc[VIGIL_KEY_DESC_LEN];
};

#define VIGIL_ANY_UID 0xffffffffu

/* One rule's grant: every condition set must hold (0 / VIGIL_ANY_UID: any). */
struct vigil_key_grant {
	__u64 exe_dev;
	__u64 exe_ino;
	__u64 cgroup_id; /* the task's cgroup or an ancestor */
	__u32 uid;
	__u32 perms; /* mask of 1 << enum vigil_key_perm */
	__u32 rule_id;
	__u32 _pad;
};

struct vigil_key_val {
	__u32 count;
	__u32 _pad;
	struct vigil_key_grant grants[VIGIL_KEY_GRANTS];
};

/* key_exes: (generation, dev, ino) of an executable named by a key rule -> revoked on write. */

/* protected: self-protection identities, independent of any policy. */
struct vigil_protect_val {
	__u32 kind;  /* VIGIL_PROT_* */
	__u32 flags; /* protected_names: VIGIL_NAME_*; 0 elsewhere (was padding) */
};

/* The name is (or leads to) a platform request socket: what is created there joins platform_socks.
 */
#define VIGIL_NAME_SOCKET 1

/*
 * rule_id[VIGIL_FA_SELF_ONLY] of a generation-0 file_rules entry the kernel added for platform
 * code created after the load (bpf/platform.bpf.h); the agent's own entries have 0, and the agent
 * drops what is left marked at the next load (it protects the live paths again first).
 */
#define VIGIL_FILE_SELF_CREATED 1

/*
 * name_dir_bits: one bit per hash of a protected_names directory's (dev, ino): a clear bit
 * spares the creation programs the name copy and the hash lookup (the agent sets it, never
 * clears it).
 */
#define VIGIL_NAME_DIR_LOG2  10
#define VIGIL_NAME_DIR_WORDS (1u << (VIGIL_NAME_DIR_LOG2 - 6))

/* name_dir_bits' bit for a directory (see VIGIL_NAME_DIR_LOG2). */
static inline __u64 vigil_name_dir_bit(__u64 dev, __u64 ino)
{
	return (ino * 0x9e3779b97f4a7c15ull + dev * 0xc2b2ae3d27d4eb4full) >>
	       (64 - VIGIL_NAME_DIR_LOG2);
}

/*
 * protected_names: a name in a directory that only the platform may create (a platform-code path
 * absent at vigild's start, such as /etc/ld.so.preload). Names of VIGIL_NAME_MAX bytes or more
 * cannot be listed. dev is the kernel's encoding of the directory's device.
 */
#define VIGIL_NAME_MAX 32
struct vigil_name_key {
	__u64 dev;
	__u64 dir_ino;
	char name[VIGIL_NAME_MAX]; /* NUL-padded */
};

/*
 * learn_seen (LRU, VIGIL_LEARN_SEEN_MAX): one entry per distinct access a learning-mode
 * policy logged; the value counts the repeats not logged. An evicted key is logged again
 * (a duplicate, never a loss), so the size bounds memory, not completeness. Insertions are
 * counted (VIGIL_STAT_LEARN_NEW): more than the size means some accesses were logged again.
 */
#define VIGIL_LEARN_SEEN_MAX 16384
struct vigil_learn_key {
	__u64 subj_dev; /* the acting process's executable (mm->exe_file) */
	__u64 subj_ino;
	__u64 dev; /* the object: a file's or key's identity; a socket's dev/ino for network */
	__u64 ino;
	__u8 addr[16]; /* NET: peer or local address */
	__u32 gen;
	__u32 access; /* as in vigil_event.access */
	__u32 uid;
	__u16 type; /* enum vigil_event_type */
	__u16 port;
	__u8 proto;
	__u8 verdict;
	__u8 _pad[6];
};

/* Per-CPU counters, index into the stats array map. */
enum vigil_stat {
	VIGIL_STAT_RB_DROPS = 0, /* ring buffer full: event lost, decision still made */
	VIGIL_STAT_EXEC_ALLOW,
	VIGIL_STAT_EXEC_DENY,
	VIGIL_STAT_EXEC_AUDIT,
	VIGIL_STAT_INVALIDATIONS,
	VIGIL_STAT_NO_CFG,
	VIGIL_STAT_FILE_DENY,
	VIGIL_STAT_NET_DENY,
	VIGIL_STAT_KEY_DENY,
	VIGIL_STAT_SELF_DENY,
	VIGIL_STAT_TOO_DEEP,
	VIGIL_STAT_CAP_DENY,
	VIGIL_STAT_LEARN_REPEAT, /* learning mode: an event not sent, its key already logged */
	VIGIL_STAT_LEARN_NEW,    /* learning mode: a new key in learn_seen (a distinct access) */
	VIGIL_STAT_MAX,
};

/* One decision, as written to the ring buffer. */
struct vigil_event {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u64 dev;
	__u64 ino;
	__u64 policy_serial;
	__u32 abi_version;
	__u32 gen;
	__u32 pid; /* thread-group id */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 rule_id; /* valid for reasons RULE, MODIFIED and OPEN_WRITE */
	__s32 err;     /* value the hook returned: 0 or -errno */
	__u16 type;    /* enum vigil_event_type */
	__u8 verdict;  /* enum vigil_verdict */
	__u8 reason;   /* enum vigil_reason */
	char comm[VIGIL_COMM_LEN];
	char path[VIGIL_PATH_LEN]; /* bpf_d_path; the last component where the hook cannot */
	/* VIGIL_EV_FILE: enum vigil_file_access; NET: enum vigil_net_op; KEY: enum vigil_key_perm;
	 * SELF: enum vigil_self_kind. */
	__u32 access;
	__u16 port; /* NET: peer port (connect, sendmsg) or local port (bind, listen), host order */
	__u8 family;   /* NET: 4 or 6 (4 also for IPv4-mapped IPv6) */
	__u8 proto;    /* NET: IPPROTO_* */
	__u8 addr[16]; /* NET: address; IPv4 in the first 4 bytes */
	/* NET without an address (family 0: a socket refused by its kind, op connect, bind,
	 * listen or sendmsg; op create from vigil before 2026-11-29): dev is the socket's family
	 * (AF_*), ino its type | protocol << 32. */
	__u32 target_pid; /* SELF: the process acted upon (signal, ptrace) */
	__u32 _pad;
	char key_desc[VIGIL_KEY_DESC_LEN]; /* KEY: the key's description */
};

#ifndef __VIGIL_BPF__
static_assert(sizeof(struct vigil_policy_cfg) == 64, "vigil_policy_cfg ABI");
static_assert(sizeof(struct vigil_scope_key) == 16, "vigil_scope_key ABI");
static_assert(sizeof(struct vigil_exec_key) == 24, "vigil_exec_key ABI");
static_assert(sizeof(struct vigil_exec_val) == 16, "vigil_exec_val ABI");
static_assert(sizeof(struct vigil_event) == 448, "vigil_event ABI");
static_assert(sizeof(struct vigil_net_key) == 28, "vigil_net_key ABI");
static_assert(sizeof(struct vigil_net_rule) == 12, "vigil_net_rule ABI");
static_assert(sizeof(struct vigil_net_val) == 8 + 12 * VIGIL_NET_RULES_PER_PREFIX, "net_val ABI");
static_assert(sizeof(struct vigil_file_key) == 24, "vigil_file_key ABI");
static_assert(sizeof(struct vigil_file_val) == 40, "vigil_file_val ABI");
static_assert(sizeof(struct vigil_file_filter) == 8 + 8 * VIGIL_FILE_FILTER_WORDS, "filter ABI");
static_assert(sizeof(struct vigil_key_key) == 68, "vigil_key_key ABI");
static_assert(sizeof(struct vigil_key_grant) == 40, "vigil_key_grant ABI");
static_assert(sizeof(struct vigil_protect_val) == 8, "vigil_protect_val ABI");
static_assert(sizeof(struct vigil_name_key) == 48, "vigil_name_key ABI");
static_assert(sizeof(struct vigil_learn_key) == 72, "vigil_learn_key ABI");
#else
_Static_assert(sizeof(struct vigil_event) == 448, "vigil_event ABI");
_Static_assert(sizeof(struct vigil_policy_cfg) == 64, "vigil_policy_cfg ABI");
_Static_assert(sizeof(struct vigil_net_key) == 28, "vigil_net_key ABI");
_Static_assert(sizeof(struct vigil_file_val) == 40, "vigil_file_val ABI");
_Static_assert(sizeof(struct vigil_exec_key) == 24, "vigil_exec_key ABI");
_Static_assert(sizeof(struct vigil_name_key) == 48, "vigil_name_key ABI");
_Static_assert(sizeof(struct vigil_learn_key) == 72, "vigil_learn_key ABI");
#endif

#endif /* VIGIL_ABI_H */
