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
#define VIGIL_ABI_VERSION 1

#define VIGIL_COMM_LEN         16
#define VIGIL_PATH_LEN         256
#define VIGIL_MAX_CGROUP_DEPTH 16
#define VIGIL_KEY_DESC_LEN     64

/* Map capacities; generation-keyed maps hold two policies during a swap. */
#define VIGIL_MAX_EXEC_RULES    131072
#define VIGIL_MAX_SCOPE_CGROUPS 1024

/* Which hook produced an event. */
enum vigil_event_type {
	VIGIL_EV_EXEC = 1,             /* bprm_check_security */
	VIGIL_EV_MMAP_EXEC = 2,        /* mmap_file with PROT_EXEC */
	VIGIL_EV_MPROTECT_EXEC = 3,    /* file_mprotect adding PROT_EXEC */
	VIGIL_EV_EXEC_INVALIDATED = 4, /* an allowlisted file was opened for write or truncated */
};

enum vigil_verdict {
	VIGIL_ALLOW = 0,
	VIGIL_DENY = 1,
	VIGIL_AUDIT = 2, /* would have been denied; allowed because of audit mode */
};

enum vigil_reason {
	VIGIL_R_RULE = 0,       /* matched an allow rule */
	VIGIL_R_NOT_LISTED = 1, /* identity not in the allowlist */
	VIGIL_R_FILELESS = 2,   /* memfd or deleted file */
	VIGIL_R_MODIFIED = 3,   /* allowlisted, but written since its digest was checked */
	VIGIL_R_OPEN_WRITE = 4, /* allowlisted, but currently open for writing */
	VIGIL_R_WRITE_OPEN = 5, /* (invalidation event) opened for write */
	VIGIL_R_TRUNCATE = 6,   /* (invalidation event) truncated by path */
	VIGIL_R_NO_POLICY = 7,  /* generation published without its config: fail-closed */
};

/* Policy-wide flags in vigil_policy_cfg.flags. */
#define VIGIL_CFG_SCOPE_GUEST    (1u << 0) /* whole guest, no cgroup test */
#define VIGIL_CFG_AUDIT          (1u << 1) /* policy mode audit */
#define VIGIL_CFG_ALLOW_FILELESS (1u << 2) /* memfd / deleted-file exec allowed */

/* Per-rule flags in vigil_exec_val.flags. */
#define VIGIL_RULE_AUDIT (1u << 0) /* this rule only logs */

/* policy_cfg: generation -> config of that policy. */
struct vigil_policy_cfg {
	__u64 serial;
	__u32 flags;
	__u32 rule_count;
};

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

/* Per-CPU counters, index into the stats array map. */
enum vigil_stat {
	VIGIL_STAT_RB_DROPS = 0, /* ring buffer full: event lost, decision still made */
	VIGIL_STAT_EXEC_ALLOW,
	VIGIL_STAT_EXEC_DENY,
	VIGIL_STAT_EXEC_AUDIT,
	VIGIL_STAT_INVALIDATIONS,
	VIGIL_STAT_NO_CFG,
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
	char path[VIGIL_PATH_LEN]; /* bpf_d_path; empty when the hook cannot resolve it */
};

#ifndef __VIGIL_BPF__
static_assert(sizeof(struct vigil_policy_cfg) == 16, "vigil_policy_cfg ABI");
static_assert(sizeof(struct vigil_scope_key) == 16, "vigil_scope_key ABI");
static_assert(sizeof(struct vigil_exec_key) == 24, "vigil_exec_key ABI");
static_assert(sizeof(struct vigil_exec_val) == 16, "vigil_exec_val ABI");
static_assert(sizeof(struct vigil_event) == 352, "vigil_event ABI");
#else
_Static_assert(sizeof(struct vigil_event) == 352, "vigil_event ABI");
_Static_assert(sizeof(struct vigil_exec_key) == 24, "vigil_exec_key ABI");
#endif

#endif /* VIGIL_ABI_H */
