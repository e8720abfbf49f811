/* vigil policy library: parse and validate policy v1 JSON, resolve file identities, check digests.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_VERSION    1
#define POLICY_MAX_BYTES  (64u << 20)
#define POLICY_NAME_MAX   128
#define POLICY_SHA256_LEN 32

/* A one-line message naming where the input is wrong: "FILE:LINE:COL: FIELD: what". */
struct policy_error {
	char msg[768];
};

struct policy_exec_rule {
	char *name; /* defaults to the path */
	char *path;
	uint8_t sha256[POLICY_SHA256_LEN];
	bool audit; /* per-rule mode: log instead of deny */
};

struct policy {
	char *origin; /* file name used in messages */
	char *name;
	uint64_t serial;
	bool audit;       /* mode: audit */
	bool scope_guest; /* scope: whole guest */
	char **cgroups;   /* scope: cgroup v2 paths, relative to the cgroup2 mount */
	size_t n_cgroups;
	bool allow_fileless;
	struct policy_exec_rule *exec;
	size_t n_exec;
};

/* A resolved exec rule: the file's identity as the kernel sees it. */
struct policy_exec_entry {
	uint64_t dev; /* kernel dev_t: MAJOR << 20 | MINOR */
	uint64_t ino;
	uint32_t rule_id; /* index into policy.exec */
};

int policy_parse(const char *buf, size_t len, const char *origin, struct policy **ret,
                 struct policy_error *err);
int policy_load_file(const char *path, struct policy **ret, struct policy_error *err);
void policy_free(struct policy *p);

/* Resolves every exec rule's path (under root, "" for /) to (dev, inode); no hashing. */
int policy_resolve_exec(const struct policy *p, const char *root, struct policy_exec_entry **ret,
                        size_t *ret_n, struct policy_error *err);
/* Checks that each resolved file still has its identity and the rule's SHA-256. */
int policy_verify_exec(const struct policy *p, const char *root,
                       const struct policy_exec_entry *entries, size_t n, struct policy_error *err);

/* SHA-256 of an open file's content. */
int policy_sha256_fd(int fd, uint8_t out[POLICY_SHA256_LEN]);
/* Converts a user-space st_dev to the kernel's internal dev_t encoding. */
uint64_t policy_kdev(uint64_t st_dev);
/* Lower-case hex of a digest into out (2 * len + 1 bytes). */
void policy_hex(const uint8_t *in, size_t len, char *out);

/* Convenience for policy_error. */
int policy_errorf(struct policy_error *err, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* VIGIL_POLICY_H */
