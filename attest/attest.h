/* vigil attest module: runtime measurement log, vTPM/TDX/SNP register backends, rollback high-water
 * marks. */
#ifndef VIGIL_ATTEST_H
#define VIGIL_ATTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "policies/bundle.h"

#define ATTEST_DEFAULT_PCR       23
#define ATTEST_DEFAULT_LOG       "/run/vigil/measurements.log"
#define ATTEST_DEFAULT_TDX_RTMR  "/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384"
#define ATTEST_DEFAULT_HWM_STATE "/var/lib/vigil/serials.json"
#define ATTEST_MAX_BANKS         4
#define ATTEST_MAX_DIGEST        64
#define ATTEST_RECORD_MAX        (64u << 10) /* one log line, content included */
#define ATTEST_TDX_RTMR_INDEX    3

/* One digest per bank; alg is the TPM2_ALG_ID (sha1 4, sha256 11, sha384 12, sha512 13). */
struct attest_digest {
	uint16_t alg;
	uint8_t len;
	uint8_t d[ATTEST_MAX_DIGEST];
};

struct attest_digests {
	size_t n;
	struct attest_digest v[ATTEST_MAX_BANKS];
};

/* Bank names as the log writes them ("sha256"); NULL for an algorithm vigil does not hash. */
const char *attest_alg_name(uint16_t alg);
uint16_t attest_alg_from_name(const char *name);
/* H_alg(data); -ENOTSUP for an algorithm vigil does not hash. */
int attest_hash(uint16_t alg, const void *data, size_t len, struct attest_digest *out);
/* reg = H_alg(reg || d): what an extend does to a register. */
int attest_extend_value(struct attest_digest *reg, const struct attest_digest *d);

/* --- vTPM (tpm2-tss ESAPI) --- */
struct attest_tpm;

/*
 * TPM failures keep their kind (as negative errno): the TPM could not be reached, it refused
 * the command, or the handle or NV index does not exist. Other errors are plain errno.
 */
#define ATTEST_TPM_UNREACHABLE ENODEV
#define ATTEST_TPM_REFUSED     EIO
#define ATTEST_TPM_BAD_HANDLE  ENOENT
/* The kind in words, with the failing command of this thread's last TPM failure of that kind. */
const char *attest_tpm_strerror(int r);

/* tcti: a tctildr string, e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". */
int attest_tpm_open(const char *tcti, struct attest_tpm **ret);
/* The same, with the failure in err: "cannot open the TPM through 'TCTI': KIND (command)". */
int attest_tpm_open_err(const char *tcti, struct attest_tpm **ret, struct vigil_error *err);
void attest_tpm_close(struct attest_tpm *t);
/* The banks the TPM has allocated for pcr and vigil can hash, in the TPM's order. A bank
 * vigil cannot hash is skipped, not an error: attest_tpm_notice names it. */
int attest_tpm_banks(struct attest_tpm *t, unsigned int pcr, uint16_t *algs, size_t *n);
/* What the last attest_tpm_banks skipped ("tpm: PCR 23 bank 0x... not supported, left
 * unextended"), for the caller to report once, or NULL. Never printed by the library. */
const char *attest_tpm_notice(const struct attest_tpm *t);
int attest_tpm_extend(struct attest_tpm *t, unsigned int pcr, const struct attest_digests *d);
int attest_tpm_read(struct attest_tpm *t, unsigned int pcr, uint16_t alg,
                    struct attest_digest *out);
int attest_tpm_reset(struct attest_tpm *t, unsigned int pcr);
/* An owner-authorised NV index of exactly len bytes: -ENOENT when it is not defined. */
int attest_tpm_nv_read(struct attest_tpm *t, uint32_t index, void *buf, size_t len);
/* Defines the index on first use. */
int attest_tpm_nv_write(struct attest_tpm *t, uint32_t index, const void *buf, size_t len);

/*
 * The audit checkpoint key, held by the TPM: an ECDSA P-256 signing key created inside it
 * (fixedTPM | fixedParent | sensitiveDataOrigin | sign) under the owner hierarchy's ECC storage
 * root key. path holds its public area and TPM-wrapped private area (created on first use, mode
 * 0600); only this TPM can load it, and the private key never leaves the TPM.
 */
struct attest_tpm_key;
int attest_tpm_key_open(struct attest_tpm *t, const char *path, struct attest_tpm_key **ret);
void attest_tpm_key_free(struct attest_tpm_key *k);
/* The loaded key's TPMA_OBJECT attributes (tests check fixedTPM and fixedParent). */
uint32_t attest_tpm_key_attributes(const struct attest_tpm_key *k);
/* Its public key as a DER SubjectPublicKeyInfo; *len is in/out. */
int attest_tpm_key_spki(const struct attest_tpm_key *k, uint8_t *der, size_t *len);
/* TPM2_Sign over a SHA-256 digest; the signature as DER ECDSA-Sig-Value; *len is in/out. */
int attest_tpm_key_sign(struct attest_tpm_key *k, const uint8_t digest[32], uint8_t *sig,
                        size_t *len);

/* --- measurement log and registers --- */
enum attest_platform {
	ATTEST_PLATFORM_NONE, /* no confidential-computing register */
	ATTEST_PLATFORM_TDX,  /* RTMR3 through sysfs, sha384 */
	ATTEST_PLATFORM_SNP,  /* no runtime register: the vTPM carries everything */
};

struct measure_config {
	const char *log_path; /* ATTEST_DEFAULT_LOG when NULL */
	const char *tcti;     /* NULL: no vTPM */
	unsigned int pcr;     /* ATTEST_DEFAULT_PCR when 0 */
	enum attest_platform platform;
	const char *tdx_rtmr_path; /* ATTEST_DEFAULT_TDX_RTMR when NULL; tests use a fake tree */
};

struct measure_log;

/*
 * A TDX RTMR's value as the kernel shows it (the sysfs file of ATTEST_DEFAULT_TDX_RTMR, or a
 * copy): exactly 48 bytes, sha384; anything shorter or longer is -EBADMSG. O_NONBLOCK: a FIFO
 * in its place must not hang the reader.
 */
int attest_rtmr_read(const char *path, struct attest_digest *out);

/*
 * Opens (or creates) the log. A new log starts a new chain: the PCR is reset first (PCR 23 is
 * resettable), so that a replay from record 0 predicts the register. An existing log is continued.
 */
int measure_open(const struct measure_config *cfg, struct measure_log **ret,
                 struct vigil_error *err);
/*
 * Appends one record (content_type, content, one digest H(content) per bank) to the log, makes it
 * durable, then extends every register. Thread-safe. The caller acts on the measured thing only
 * after this returns 0.
 */
int measure_record(struct measure_log *m, const char *content_type, const void *content, size_t len,
                   uint64_t *ret_recnum);
/* Why the last measure_record failed (naming the log, the record and the register). */
const char *measure_error(const struct measure_log *m);
/* What measure_open repaired (a record logged but not extended before a crash), or NULL. */
const char *measure_notice(const struct measure_log *m);
/* The vTPM the log extends, or NULL: lets the rollback store share its connection. */
struct attest_tpm *measure_tpm(struct measure_log *m);
const char *measure_platform_name(enum attest_platform p);
int measure_platform_parse(const char *s, enum attest_platform *ret);
void measure_close(struct measure_log *m);

/* One parsed log record; content points into the parsed line and lives until the callback returns.
 */
struct measure_entry {
	uint64_t recnum;
	int pcr;  /* -1 when the record names no PCR */
	int rtmr; /* -1 when the record names no RTMR */
	struct attest_digests digests;
	const char *content_type;
	const char *content;
	size_t content_len;
};

/*
 * Reads a log strictly: record numbers consecutive from the first, each digest equal to
 * H(content). cb may stop the walk by returning non-zero (returned as is).
 */
int measure_log_read(const char *path, int (*cb)(const struct measure_entry *e, void *ctx),
                     void *ctx, char *errbuf, size_t errlen);

/* What a replay predicts: the final value of each register bank. */
struct measure_replay {
	int pcr;
	struct attest_digests pcr_banks;
	/* The PCR before the last PCR record, and that record's digests: a crash between a
	 * record's durable log line and its extend leaves the PCR here (measure_open completes it).
	 */
	struct attest_digests pcr_banks_before_last;
	struct attest_digests last_digests;
	bool rtmr;
	struct attest_digest rtmr_value; /* sha384 */
	uint64_t records;
	char first_type[64]; /* record 0's content type: a vigild log starts with its own start */
};
int measure_replay(const char *path, struct measure_replay *ret, char *errbuf, size_t errlen);
/*
 * The verifier's replay: as measure_replay, and also fails (errbuf says why, naming path) on an
 * empty log, a log that names no register, and, with require_start, a log whose record 0 is
 * not vigild's ATTEST_CT_START record.
 */
int measure_replay_strict(const char *path, bool require_start, struct measure_replay *ret,
                          char *errbuf, size_t errlen);

/* --- rollback protection: the highest serial accepted per policy name --- */
struct hwm_store;

/* The last accepted bundle of a name: its serial, and which payload, so that re-loading that very
 * bundle (a restart, a reboot, a SIGHUP without a change) is not mistaken for a rollback. */
struct hwm_mark {
	uint64_t serial;
	uint8_t payload_sha256[32];
};

/* With a TPM, marks live in NV indices (one per name); without, in the state file (weaker). */
int hwm_open(struct attest_tpm *tpm, const char *state_path, struct hwm_store **ret);
/* 0 with found=false when the name was never accepted. */
int hwm_get(struct hwm_store *h, const char *name, struct hwm_mark *ret, bool *found);
int hwm_set(struct hwm_store *h, const char *name, const struct hwm_mark *mark);
/* What the last failing hwm_get or hwm_set found wrong (naming the state file or NV index). */
const char *hwm_error(const struct hwm_store *h);
const char *hwm_backend(const struct hwm_store *h);
void hwm_close(struct hwm_store *h);

/* --- bundle acceptance: verify, check the serial, measure, then (caller) enforce, then commit ---
 */
#define ATTEST_CT_BUNDLE   "vigil/policy-bundle"
#define ATTEST_CT_START    "vigil/agent-start"
#define ATTEST_CT_UNSIGNED "vigil/policy-unsigned" /* vigild --policy: development only */

struct bundle_admission {
	struct bundle *bundle;
	struct bundle_signers signers;
	struct policy *policy; /* the caller may take it (set to NULL) */
};

/*
 * Decodes, verifies (trust store and threshold), parses, and checks the serial against the
 * high-water mark: -ESTALE when serial is below the last accepted for the policy's name, or equal
 * to it with a different payload (the same bundle again is accepted: a restart must not fail).
 */
int bundle_admit(const char *buf, size_t len, const char *origin, const struct trust_store *t,
                 struct hwm_store *h, struct bundle_admission *ret, struct policy_error *err);
/* The measurement content: policy name, serial, bundle and payload digests, signer keyids. */
char *bundle_measurement(const struct bundle_admission *a);
/* Appends the ATTEST_CT_BUNDLE record and extends the registers. */
int bundle_measure(struct measure_log *m, const struct bundle_admission *a, uint64_t *ret_recnum);
/* Raises the high-water mark once the policy is enforcing. */
int bundle_commit(struct hwm_store *h, const struct bundle_admission *a);
void bundle_admission_clear(struct bundle_admission *a);

#endif /* VIGIL_ATTEST_H */
