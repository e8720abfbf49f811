/* Signed policy bundles: DSSE envelopes around policy JSON, Ed25519/ECDSA P-256 signing, trust
 * roots. */
#ifndef VIGIL_BUNDLE_H
#define VIGIL_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policies/policy.h"

/* The one payloadType vigil signs and accepts. */
#define BUNDLE_PAYLOAD_TYPE "application/vnd.vigil.policy.v1+json"
/* A 100,000-rule policy is about 20 MiB of JSON; base64 adds a third. */
#define BUNDLE_MAX_BYTES         (48u << 20)
#define BUNDLE_MAX_SIGS          16
#define BUNDLE_MAX_KEYS          64
#define BUNDLE_KEYID_HEX         65 /* 64 hex digits and a NUL */
#define BUNDLE_SIG_MAX           512
#define BUNDLE_DEFAULT_TRUST_DIR "/etc/vigil/trust.d"

struct bundle_sig {
	char keyid[BUNDLE_KEYID_HEX];
	uint8_t *sig;
	size_t sig_len;
};

/* A decoded envelope; nothing in it is trusted until bundle_verify says so. */
struct bundle {
	char *payload_type;
	uint8_t *payload;
	size_t payload_len;
	struct bundle_sig sigs[BUNDLE_MAX_SIGS];
	size_t n_sigs;
	uint8_t digest[POLICY_SHA256_LEN];         /* SHA-256 of the envelope bytes as received */
	uint8_t payload_digest[POLICY_SHA256_LEN]; /* SHA-256 of the policy JSON */
};

/* Public keys that may sign, and how many distinct ones must. */
struct trust_store {
	struct trust_key *keys;
	size_t n_keys;
	unsigned int threshold;
};

/* The trusted keys whose signatures verified, in envelope order. */
struct bundle_signers {
	char keyid[BUNDLE_MAX_SIGS][BUNDLE_KEYID_HEX];
	size_t n;
};

enum bundle_key_type {
	BUNDLE_KEY_ED25519,
	BUNDLE_KEY_P256,
};

struct bundle_key; /* a private key for signing */

/* True when buf looks like a DSSE envelope (a JSON object with "payloadType") rather than a policy.
 */
bool bundle_is_envelope(const char *buf, size_t len);
/* Strict decoding: known fields only, canonical base64, caps on every size. */
int bundle_decode(const char *buf, size_t len, const char *origin, struct bundle **ret,
                  struct policy_error *err);
/* Serialises b as one line of JSON (NUL-terminated, caller frees). */
int bundle_encode(const struct bundle *b, char **ret, size_t *ret_len);
/* Wraps policy JSON into an unsigned envelope. */
int bundle_new(const void *payload, size_t len, struct bundle **ret);
void bundle_free(struct bundle *b);

/* DSSE pre-authentication encoding: "DSSEv1 LEN(type) type LEN(body) body". */
int bundle_pae(const char *type, const uint8_t *body, size_t len, uint8_t **ret, size_t *ret_len);

/* Strict standard base64 (with padding, no whitespace); decode returns -EINVAL on any deviation. */
int bundle_b64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len);
char *bundle_b64_encode(const uint8_t *in, size_t len);

int bundle_key_generate(enum bundle_key_type type, struct bundle_key **ret);
int bundle_key_load(const char *path, struct bundle_key **ret, struct policy_error *err);
/* Writes the private key (PKCS#8 PEM, mode 0600, never overwriting) and the public key (SPKI PEM).
 */
int bundle_key_save(const struct bundle_key *k, const char *priv_path, const char *pub_path,
                    struct policy_error *err);
void bundle_key_keyid(const struct bundle_key *k, char out[BUNDLE_KEYID_HEX]);
void bundle_key_free(struct bundle_key *k);
/* Appends k's signature over the PAE of b; a key signs a bundle at most once. */
int bundle_sign(struct bundle *b, const struct bundle_key *k, struct policy_error *err);

/* Loads every *.pem public key in dir and the optional "threshold" file (default 1). */
int trust_load_dir(const char *dir, struct trust_store **ret, struct policy_error *err);
void trust_free(struct trust_store *t);

/*
 * Checks the payload type and the signatures: -EKEYREJECTED when a signature by a trusted key
 * does not verify, -ENOKEY when no trusted key signed, -EACCES below the threshold.
 */
int bundle_verify(const struct bundle *b, const struct trust_store *t, struct bundle_signers *ret,
                  struct policy_error *err);

/*
 * Reads a regular file of at most max bytes (NUL-terminated, caller frees); an empty one is
 * refused (-ENODATA): no bundle, key or threshold file is empty when it is whole. err names
 * the path and what is wrong (policies/load.c).
 */
int bundle_read_file(const char *path, size_t max, char **ret, size_t *ret_len,
                     struct policy_error *err);

/* What policy_load_path accepts at the path. */
enum {
	POLICY_LOAD_POLICY = 1 << 0, /* a bare policy file */
	POLICY_LOAD_BUNDLE = 1 << 1, /* a bundle envelope */
};

/*
 * Loads "a policy or a bundle from a path", the one way vigild, the CLI and the benchmarks do:
 * reads it (at most BUNDLE_MAX_BYTES when a bundle is accepted, else POLICY_MAX_BYTES); a
 * bundle is verified against trust when trust is given (bundle_open: signers to *ret_signers),
 * else only decoded (its payload type checked, its signatures not); then the policy is parsed.
 * *ret_bundle, when asked for, gets the bundle (NULL for a bare policy). err says what is wrong.
 */
int policy_load_path(const char *path, unsigned int accept, const struct trust_store *trust,
                     struct policy **ret, struct bundle **ret_bundle,
                     struct bundle_signers *ret_signers, struct policy_error *err);

/*
 * Decode, verify, then parse the policy inside: the whole acceptance path but the serial check.
 * A signed policy that fails validation is -EBADMSG.
 */
int bundle_open(const char *buf, size_t len, const char *origin, const struct trust_store *t,
                struct bundle **ret_bundle, struct bundle_signers *ret_signers,
                struct policy **ret_policy, struct policy_error *err);

#endif /* VIGIL_BUNDLE_H */
