/*
 * Offline policy evaluation: decides an exec, file, network or key access as the BPF programs
 * do (bpf/exec.bpf.h, file.bpf.h, net.bpf.h, key.bpf.h with the maps agent/apply_*.c fill),
 * for `vigil policy test` and `vigil policy explain`. The access is by a task in the policy's
 * scope; identities are paths (a hard link or bind mount is not seen, see
 * docs/POLICY-AUTHORING.md).
 */
#ifndef VIGIL_POLICY_EVALUATE_H
#define VIGIL_POLICY_EVALUATE_H

#include "policies/policy.h"

enum policy_eval_kind {
	POLICY_EVAL_EXEC = 1,
	POLICY_EVAL_FILE,
	POLICY_EVAL_NET,
	POLICY_EVAL_KEY,
};

struct policy_access {
	int kind; /* enum policy_eval_kind */
	/* exec and file: an absolute path; exec: a memfd or unlinked file when fileless */
	const char *path;
	bool fileless;
	bool has_sha256; /* exec: the file's content now (absent: the digest the policy names) */
	uint8_t sha256[POLICY_SHA256_LEN];
	/* file: enum policy_file_access; net: enum vigil_net_op; key: enum vigil_key_perm */
	unsigned int access;
	/* net: the address as the kernel reports it (IPv4-mapped IPv6 already IPv4) */
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t addr[16];
	uint16_t port;
	/* key: description, and who asks (exe NULL: an executable no rule names) */
	const char *key;
	const char *exe;
	bool has_exe_sha256;
	uint8_t exe_sha256[POLICY_SHA256_LEN];
	uint32_t uid;
	const char *cgroup; /* NULL: a cgroup no rule names */
};

struct policy_verdict {
	uint8_t verdict;     /* enum vigil_verdict */
	bool checked;        /* false: no program of the policy looks at this access */
	const char *reason;  /* the event's reason name ("rule", "default", ...), or "unchecked" */
	const char *section; /* "exec.allow", "files.rules", "network.rules", "keys.rules" */
	long rule;           /* index in the section, -1 for none */
	const char *rule_name;
	char why[512]; /* one sentence: which rule and why it decided */
};

struct policy_eval;

/* Compiles p (network rules as the LPM entries vigild installs); p must outlive the result.
 * root (NULL: none) lets rule paths be told apart as files or directories. */
int policy_eval_new(const struct policy *p, const char *root, struct policy_eval **ret,
                    struct policy_error *err);
void policy_eval_free(struct policy_eval *e);
void policy_eval_decide(const struct policy_eval *e, const struct policy_access *a,
                        struct policy_verdict *v);

/* Names, as in events and policies. */
const char *policy_eval_verdict_name(unsigned int verdict);
/* -1 when name is not one. */
int policy_file_access_from_name(const char *name);
const char *policy_file_access_name(unsigned int access);
int policy_net_op_from_name(const char *name);
const char *policy_net_op_name(unsigned int op);
int policy_key_perm_from_name(const char *name);
const char *policy_key_perm_name(unsigned int perm);
/* Parses an address as a socket operation op would reach the kernel: IPv4-mapped IPv6 is IPv4,
 * and a connect or send to 0.0.0.0 or :: goes to 127.0.0.1 or ::1. -EINVAL when not one. */
int policy_net_addr(const char *s, unsigned int op, uint8_t *family, uint8_t addr[16]);

#endif /* VIGIL_POLICY_EVALUATE_H */
