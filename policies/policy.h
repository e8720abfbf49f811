/* vigil policy library: parse and validate policy v1 JSON, resolve file identities, check digests.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "lib/util.h"

#define POLICY_VERSION    1
#define POLICY_MAX_BYTES  (64u << 20)
#define POLICY_NAME_MAX   128
#define POLICY_SHA256_LEN 32

/* A one-line message naming where the input is wrong: "FILE:LINE:COL: FIELD: what". */
/* policies/' name of the library modules' error value (lib/error.h). */
#define policy_error vigil_error

struct policy_exec_rule {
	char *name; /* defaults to the path */
	char *path;
	uint8_t sha256[POLICY_SHA256_LEN];
	bool audit; /* per-rule mode: log instead of deny */
};

/* Actions of file, network and key rules; the same values as the BPF ABI's enum vigil_action. */
enum policy_action {
	POLICY_ACT_ALLOW = 1,
	POLICY_ACT_DENY = 2,
	POLICY_ACT_AUDIT = 3,
};

#define POLICY_PROTO_ANY 0

struct policy_net_rule {
	char *name;
	uint8_t addr[16]; /* IPv4 (and ::ffff:-mapped rules) in the first 4 bytes */
	uint8_t family;   /* 4 or 6 */
	uint8_t prefix;   /* CIDR length */
	uint8_t proto;    /* IPPROTO_TCP, IPPROTO_UDP or POLICY_PROTO_ANY */
	uint8_t ops;      /* mask of 1 << enum vigil_net_op */
	uint16_t port_lo, port_hi;
	uint8_t action; /* enum policy_action */
};

/* File access kinds, bit numbers; the same values as the BPF ABI's enum vigil_file_access. */
enum policy_file_access {
	POLICY_FA_READ = 0,
	POLICY_FA_WRITE,
	POLICY_FA_CREATE,
	POLICY_FA_UNLINK,
	POLICY_FA_RENAME,
	POLICY_FA_LINK,
	POLICY_FA_EXEC_MAP,
	POLICY_FA_COUNT,
};

struct policy_file_rule {
	char *name;
	char *path;      /* a file, or a directory: the rule covers the tree beneath it */
	uint32_t access; /* mask of 1 << enum policy_file_access */
	uint8_t action;
};

struct policy_key_release {
	char *resource; /* "<repository>/<type>/<tag>" at the broker */
	char *key;      /* the kernel key's description */
	/* revoke_after_denials: revoke once this many denials of this event type (0: any type)
	 * happened since the release; revoke_denials 0: never */
	uint16_t revoke_type;
	uint32_t revoke_denials;
};

struct policy_key_rule {
	char *name;
	char *key;      /* the key's description */
	uint32_t perms; /* mask of 1 << enum vigil_key_perm */
	char *exe_path; /* NULL: any executable */
	uint8_t exe_sha256[POLICY_SHA256_LEN];
	char *cgroup; /* NULL: any cgroup */
	uint32_t uid; /* UINT32_MAX: any uid */
	bool audit;
};

struct policy {
	char *origin; /* file name used in messages */
	char *name;
	uint64_t serial;
	bool audit; /* mode: audit (or learn) */
	bool learn; /* mode: learn: audit, each distinct access logged once (VIGIL_CFG_LEARN) */
	bool scope_guest; /* scope: whole guest */
	char **cgroups;   /* scope: cgroup v2 paths, relative to the cgroup2 mount */
	size_t n_cgroups;
	bool allow_fileless;
	struct policy_exec_rule *exec;
	size_t n_exec;
	uint8_t net_default; /* 0: no network section, nothing is checked */
	/* "raw": "allow": raw, packet and ping sockets may be made; CAP_NET_RAW is then kept
	 * unless the capabilities section refuses it. */
	bool net_raw;
	struct policy_net_rule *net;
	size_t n_net;
	uint8_t file_default; /* 0: no files section */
	struct policy_file_rule *files;
	size_t n_files;
	struct policy_key_rule *keys;
	size_t n_keys;
	/* keys.release: resources vigild fetches from the key broker after attestation
	 * (docs/ATTESTATION.md) into kernel keys named key */
	struct policy_key_release *key_release;
	size_t n_key_release;
	/* capabilities section (policy_cap.c); absent: the ordinary set */
	uint64_t cap_grant;    /* capabilities.allow */
	uint64_t cap_deny;     /* capabilities.deny */
	bool cap_default_deny; /* capabilities.default "deny": only cap_grant is kept */
	bool cap_audit;        /* capabilities.mode "audit" */
	bool userns;           /* capabilities.user_namespaces */
	/* files.system_writable: /usr, /lib*, /bin, /sbin, /boot stay writable by a cgroup scope
	 * (by default they are the platform's, agent/self.c) */
	bool system_writable;
};

/* One LPM entry: a distinct CIDR and the rules that can decide addresses under it. */
struct policy_net_entry {
	uint8_t addr[16];
	uint8_t family, prefix;
	uint32_t n_rules;
	uint32_t rules[16]; /* indexes into policy.net, first match wins */
};

/*
 * One file_rules entry: a file or directory's identity and, per access kind, the deciding rule:
 * the nearest (a rule on the file, then on its directory, ...), then deny > audit > allow, then
 * policy order.
 */
struct policy_file_entry {
	uint64_t dev; /* kernel dev_t */
	uint64_t ino;
	uint32_t rule_id[8];  /* per enum policy_file_access */
	uint8_t action[8];    /* 0: no rule for that access here */
	uint16_t distance[8]; /* levels between the file and the deciding rule's path */
	bool dir;             /* a directory: only a directory rule names one */
};

#define POLICY_MAX_TREE_FILES 65536 /* files and directories under all directory rules */

/*
 * Resolves file rules (under root) to identities. A directory rule also names every file and
 * directory beneath it at resolve time, so a hard link made before the policy, wherever it is,
 * carries the tree's verdict; what is created later is found by the kernel's parent walk.
 */
int policy_resolve_files(const struct policy *p, const char *root, struct policy_file_entry **ret,
                         size_t *ret_n, struct policy_error *err);

/* One key_rules entry: a key description and the rules naming it (at most 8). */
struct policy_key_entry {
	const char *desc; /* points into the policy */
	uint32_t n_rules;
	uint32_t rules[8];
};

/* Groups key rules by description; fails when more than max rules name one key. */
int policy_compile_keys(const struct policy *p, size_t max, struct policy_key_entry **ret,
                        size_t *ret_n, struct policy_error *err);
/* Resolves rule i's executable (under root) and checks its SHA-256; returns kernel dev/ino. */
int policy_resolve_key_exe(const struct policy *p, size_t i, const char *root, uint64_t *ret_dev,
                           uint64_t *ret_ino, struct policy_error *err);

/* Compiles network rules to LPM entries, each listing its own and its covering CIDRs' rules in
 * precedence order; fails when more than max rules can reach one CIDR. */
int policy_compile_net(const struct policy *p, size_t max, struct policy_net_entry **ret,
                       size_t *ret_n, struct policy_error *err);

#define POLICY_CAP_LAST 40 /* CAP_CHECKPOINT_RESTORE, the last capability of Linux 6.1 */
#define POLICY_CAP_ALL  ((1ull << (POLICY_CAP_LAST + 1)) - 1)
/* Refused unless granted: no ordinary workload needs them, and each breaks a guarantee. */
#define POLICY_CAP_REFUSED                                                                         \
	((1ull << 2) | (1ull << 9) | (1ull << 12) | (1ull << 13) | (1ull << 16) | (1ull << 17) |   \
	 (1ull << 19) | (1ull << 21) | (1ull << 22) | (1ull << 23) | (1ull << 24) | (1ull << 25) | \
	 (1ull << 32) | (1ull << 33) | (1ull << 34) | (1ull << 38) | (1ull << 39))

/* The capabilities tasks in scope keep: bit N is capability N. */
uint64_t policy_cap_allow(const struct policy *p);
/* True when p has a network section that refuses raw sockets (and so CAP_NET_RAW). */
bool policy_net_refuses_raw(const struct policy *p);
/* "CAP_SYS_ADMIN" for 21; NULL past POLICY_CAP_LAST. */
const char *policy_cap_name(unsigned int cap);
/* What granting cap gives up (one line), or NULL for a capability of the ordinary set. */
const char *policy_cap_risk(unsigned int cap);

/* policy_exec_entry.flags: the file's content is vouched for without reading it again (the
 * caller proved no write since an earlier check of the same digest); verify skips it. */
#define POLICY_EXEC_UNCHANGED (1u << 0)
/* policy_exec_entry.flags, set by verify: a writer held the file open when it was checked, so
 * its content may change after the check unseen; the caller must not let it run. */
#define POLICY_EXEC_WRITER (1u << 1)
/* With POLICY_EXEC_WRITER: not a writer seen, but no way to tell (no lease: the file system has
 * no lease support, fs.leases-enable is 0, or the caller lacks CAP_LEASE on another's file). */
#define POLICY_EXEC_UNPROVEN (1u << 2)
/* policy_exec_entry.flags, set by verify on the entry whose check failed (its error is the one
 * returned); cleared when the entry checks out. Never vouched for by a later load. */
#define POLICY_EXEC_BAD (1u << 3)

/* A resolved exec rule: the file's identity as the kernel sees it. */
struct policy_exec_entry {
	uint64_t dev; /* kernel dev_t: MAJOR << 20 | MINOR */
	uint64_t ino;
	uint32_t rule_id; /* index into policy.exec */
	uint32_t flags;   /* POLICY_EXEC_* */
	/* fstat at resolve time: a different file system mounted on the same device number can
	 * reuse (dev, ino) without any write the kernel would see; its ctime or size differ. */
	int64_t ctime_ns;
	uint64_t size;
};

int policy_parse(const char *buf, size_t len, const char *origin, struct policy **ret,
                 struct policy_error *err);
/* A bare policy file (policy_load_path in policies/bundle.h). */
int policy_load_file(const char *path, struct policy **ret, struct policy_error *err);
void policy_free(struct policy *p);

/* Resolves every exec rule's path (under root, "" for /) to (dev, inode); no hashing. */
int policy_resolve_exec(const struct policy *p, const char *root, struct policy_exec_entry **ret,
                        size_t *ret_n, struct policy_error *err);
/* The same, but a rule whose path does not resolve to a regular file does not fail the call: its
 * entry gets POLICY_EXEC_BAD and no identity (err holds the last such error). */
int policy_resolve_exec_lenient(const struct policy *p, const char *root,
                                struct policy_exec_entry **ret, size_t *ret_n,
                                struct policy_error *err);
/* Checks that each resolved file still has its identity and the rule's SHA-256; entries with
 * POLICY_EXEC_UNCHANGED are not read, the others get POLICY_EXEC_WRITER when a writer holds
 * the file. *ret_hashed (may be NULL) counts the files read. */
int policy_verify_exec(const struct policy *p, const char *root, struct policy_exec_entry *entries,
                       size_t n, size_t *ret_hashed, struct policy_error *err);
/* 1 when some open file (or shared writable mapping) can write the file fd refers to, 0 when
 * none can, -errno when the kernel would not say (see POLICY_EXEC_UNPROVEN). Takes and drops a
 * read lease: the process must ignore SIGIO, which a writer opening meanwhile makes the kernel
 * send to the holder. */
int policy_fd_writer(int fd);

/*
 * Marks POLICY_EXEC_UNCHANGED on each entry whose (dev, ino) is among prev_entries (resolved
 * for prev, whose digests were verified) with the same digest, ctime and size. Only a caller
 * that proved no write since that verification may skip them (agent_apply_policy). Returns
 * the count marked or -ENOMEM.
 */
ssize_t policy_exec_mark_unchanged(const struct policy *prev,
                                   const struct policy_exec_entry *prev_entries, size_t prev_n,
                                   const struct policy *p, struct policy_exec_entry *entries,
                                   size_t n);

/* Converts a user-space st_dev to the kernel's internal dev_t encoding. */
uint64_t policy_kdev(uint64_t st_dev);
/* Old names of helpers that now live in lib/util.h, kept so that code written against them
 * still builds; new code calls vigil_hex and vigil_sha256_fd. */
#define policy_hex       vigil_hex
#define policy_sha256_fd vigil_sha256_fd

/* Fills a policy_error: vigil_errorf (lib/error.h). */
#define policy_errorf vigil_errorf

#endif /* VIGIL_POLICY_H */
