/* vigil attestation evidence and key release: vTPM attestation key and quotes, RFC 8785 (JCS)
 * canonical JSON and the SHA-384 binding digest, JWE (RFC 7516) for released resources, quote
 * verification, and the Trustee KBS protocol "0.4.0" client. docs/ATTESTATION.md. */
#ifndef VIGIL_ATTEST_KBS_H
#define VIGIL_ATTEST_KBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "attest/attest.h"

#define KBS_PROTOCOL_VERSION "0.4.0"
#define KBS_NPCRS            24
/* Persistent handles of vigil's attestation keys (owner hierarchy, one per algorithm). */
#define ATTEST_AK_HANDLE_RSA 0x81010010u
#define ATTEST_AK_HANDLE_ECC 0x81010011u
/* TCG EK credential profile: the RSA-2048 EK certificate's NV index. */
#define ATTEST_EK_CERT_NV_RSA 0x01c00002u

/* --- base64 / hex helpers (standard and URL-safe, no padding for the latter) --- */
char *kbs_b64(const void *data, size_t len, bool url);
/* Decodes standard or URL-safe base64, with or without padding; NULL on bad input. */
uint8_t *kbs_unb64(const char *s, size_t *ret_len);
void kbs_hex(const uint8_t *d, size_t n, char *out);    /* out holds 2n+1 */
int kbs_unhex(const char *s, uint8_t *out, size_t len); /* exactly len bytes */

/* --- RFC 8785 JSON canonicalization --- */
/* Strings, integers, true/false/null, arrays and objects; a real number is -ENOTSUP (vigil never
 * binds one). Returns a malloc'd string. */
int jcs_canonicalize(const json_t *v, char **ret);
/* SHA-384 over JCS({"additional-evidence","nonce","tee-pubkey"}): the evidence binding. With
 * additional NULL, over JCS({"nonce","tee-pubkey"}): the runtime data Trustee binds a TDX/SNP
 * report of additional_evidence to (kbs/src/attestation/backend.rs). */
int kbs_binding_digest(const char *nonce, const json_t *tee_pubkey, const char *additional,
                       uint8_t out[48]);

/* --- ephemeral keys and JWE --- */
enum kbs_key_alg { KBS_KEY_EC, KBS_KEY_RSA };
/* A fresh P-256 or RSA-2048 key; *jwk its public JWK with "alg". */
int kbs_ephemeral_new(enum kbs_key_alg alg, EVP_PKEY **ret, json_t **jwk);
/* The public key a JWK names (EC P-256 with ECDH-ES+A256KW, RSA with RSA-OAEP-256). */
int kbs_jwk_import(const json_t *jwk, EVP_PKEY **ret, char *err, size_t errlen);
/* Encrypts plain for the JWK's key: a flattened JWE (A256GCM). */
int kbs_jwe_encrypt(const json_t *jwk, const uint8_t *plain, size_t len, json_t **ret);
/* Decrypts a flattened JWE with key; anything but the two algorithms and A256GCM is refused.
 * *ret is OPENSSL_secure_malloc'd: free with OPENSSL_secure_clear_free(*ret, *ret_len). */
int kbs_jwe_decrypt(EVP_PKEY *key, const json_t *jwe, uint8_t **ret, size_t *ret_len, char *err,
                    size_t errlen);

/* --- evidence: the attestation key and the quote --- */
/* These never print: a failure fills err (when not NULL) with one line naming the TPM command
 * and the failure's kind in words (attest_tpm_strerror), and returns its negative errno. */
enum attest_ak_alg { ATTEST_AK_RSA, ATTEST_AK_ECC };
struct attest_ak;
/* Opens vigil's AK at its persistent handle, creating it (once) when absent. */
int attest_ak_open(struct attest_tpm *t, enum attest_ak_alg alg, struct attest_ak **ret,
                   struct vigil_error *err);
void attest_ak_close(struct attest_ak *ak);
int attest_ak_spki(const struct attest_ak *ak, uint8_t *der, size_t *len);
/* The RSA EK's public key (DER SPKI), and its certificate when the NV index holds one (-ENOENT
 * otherwise). */
int attest_ek_spki(struct attest_tpm *t, uint8_t *der, size_t *len, struct vigil_error *err);
int attest_ek_cert(struct attest_tpm *t, uint8_t **der, size_t *len, struct vigil_error *err);

/* --- AK-to-EK binding (attest/credential.c) --- */
/* The AK's public area, marshalled (TPMT_PUBLIC): its SHA-256 is the AK's name. */
int attest_ak_tpmt(const struct attest_ak *ak, uint8_t *buf, size_t *len);
/*
 * The broker's MakeCredential, in software: seals secret (1-64 bytes) to the RSA-2048 EK (DER
 * SPKI, TCG template L-1) and to the name of the AK whose TPMT_PUBLIC is given, which must be a
 * fixedTPM restricted signing key; *ak_spki gets that AK's DER SPKI (up to 1024 bytes). *blob is a
 * marshalled TPM2B_ID_OBJECT, *enc_secret a TPM2B_ENCRYPTED_SECRET (both malloc'd).
 */
int kbs_make_credential(const uint8_t *ek_spki, size_t ek_len, const uint8_t *ak_tpmt,
                        size_t tpmt_len, const uint8_t *secret, size_t slen, uint8_t **blob,
                        size_t *blob_len, uint8_t **enc_secret, size_t *es_len, uint8_t *ak_spki,
                        size_t *ak_spki_len, char *err, size_t errlen);
/* TPM2_ActivateCredential with this TPM's EK (policy A) and ak: the secret, when (and only when)
 * the credential was made for this EK and this AK's name. */
int attest_activate_credential(struct attest_ak *ak, const uint8_t *blob, size_t blob_len,
                               const uint8_t *enc_secret, size_t es_len, uint8_t *secret,
                               size_t *secret_len, struct vigil_error *err);

/* A PCR selection: banks in order, each a 24-bit register mask. Tests build odd ones. */
struct attest_pcr_sel {
	size_t n;
	struct {
		uint16_t alg;
		uint32_t mask;
	} v[4];
};
/* sha256:0-23, the one selection vigil quotes and the broker accepts. */
void attest_pcr_sel_default(struct attest_pcr_sel *s);
/* "sha256:0-23", "sha256:0-7+sha256:8-23", "sha1:0-23+sha256:0-23"... */
int attest_pcr_sel_parse(const char *s, struct attest_pcr_sel *ret);

struct attest_quote {
	uint8_t *message; /* marshalled TPMS_ATTEST */
	size_t message_len;
	uint8_t *signature; /* marshalled TPMT_SIGNATURE */
	size_t signature_len;
	size_t npcrs;
	struct attest_digest pcrs[KBS_NPCRS * 4]; /* the selection's values, in selection order */
};
/* TPM2_Quote over sel with qualifying data qd (at most 64 bytes), and the PCR values it covers
 * (read and checked against the quote's digest, retried once if a register moved). */
int attest_quote(struct attest_tpm *t, struct attest_ak *ak, const struct attest_pcr_sel *sel,
                 const uint8_t *qd, size_t qd_len, struct attest_quote *ret,
                 struct vigil_error *err);
void attest_quote_clear(struct attest_quote *q);

/* The Trustee `tpm` primary evidence: {"ak_public","tpm_quote":{message,signature,pcrs}} and,
 * when log_path is set, "vigil_measurement_log" (base64 of the log file). qd: the quote's
 * qualifying data (at most 64 bytes), see kbs_report_data(). */
int attest_tpm_evidence(struct attest_tpm *t, enum attest_ak_alg alg,
                        const struct attest_pcr_sel *sel, const uint8_t *qd, size_t qd_len,
                        const char *log_path, json_t **ret, struct vigil_error *err);
/* The firmware's TCG event log, when path (default ATTEST_FIRMWARE_LOG; "none": never) can be
 * read, as "eventlog" (base64, Trustee's member name). 1 when added, 0 when there is none. */
#define ATTEST_FIRMWARE_LOG "/sys/kernel/security/tpm0/binary_bios_measurements"
int attest_evidence_firmware_log(json_t *ev, const char *path);
/* The qualifying data a binding digest gives: all 48 bytes zero-padded to 64 (len 64: vigil's
 * default, as Trustee's current `tpm` verifier expects), or its first 32 bytes (len 32: Trustee's
 * older `tpm` verifier). */
#define KBS_REPORT_DATA_DEFAULT 64
int kbs_report_data(const uint8_t binding[48], size_t len, uint8_t out[64]);

/* --- TDX / SNP reports through configfs-tsm --- */
#define ATTEST_TSM_ROOT "/sys/kernel/config/tsm/report"
#define ATTEST_TSM_MAX  (256u << 10)
struct tsm_result {
	enum attest_platform platform; /* from the provider: tdx_guest or sev_guest */
	uint8_t *report;               /* the TDX quote or SNP report (outblob) */
	size_t len;
};
/*
 * Writes the 64 bytes of report data (the binding digest zero-padded) to ROOT/vigil/inblob and
 * reads the report, retrying while another writer moves the generation; fails unless the report
 * carries exactly that report data where tee_report_parse finds it.
 */
int tsm_report(const char *root, const uint8_t data[64], struct tsm_result *ret, char *err,
               size_t errlen);
void tsm_result_clear(struct tsm_result *r);
/* 0 when the TDX quote / SNP report carries data as its report data (the broker's check; the
 * signature chain is not checked: that needs Intel's or AMD's collateral). */
int tsm_report_data_check(enum attest_platform p, const uint8_t *report, size_t len,
                          const uint8_t data[64]);

/* What a relying party reads in a TDX quote (v4, or v5 with a TDX 1.0/1.5 body) or an SNP
 * report (versions 2-5); the pointers point into the report. */
#define SNP_REPORT_LEN 1184
struct tee_report_info {
	enum attest_platform platform;
	unsigned version;           /* TDX quote version; SNP report version */
	unsigned body_type;         /* TDX: 2 (TDX 1.0), 3 (TDX 1.5) */
	size_t report_data_off;     /* TDX v4 568, v5 574; SNP 0x50 */
	const uint8_t *report_data; /* 64 bytes */
	const uint8_t *measurement; /* 48 bytes: TDX MRTD, SNP MEASUREMENT */
	const uint8_t *tcb;         /* TDX TEE_TCB_SVN (16 bytes), SNP REPORTED_TCB (8) */
	size_t tcb_len;
	const uint8_t *rtmr; /* TDX: RTMR0-3, 4 x 48 bytes; SNP: NULL */
};
/* -EBADMSG when the report is not one of those or is cut short. */
int tee_report_parse(enum attest_platform p, const uint8_t *rep, size_t len,
                     struct tee_report_info *out);
/* An SNP report as Trustee's `snp` verifier takes it (its SnpEvidence.attestation_report: the sev
 * crate's serde layout); reserved bytes are not in it and read back as zero. */
json_t *snp_report_to_trustee(const uint8_t *rep, size_t len);
int snp_report_from_trustee(const json_t *o, uint8_t out[SNP_REPORT_LEN]);

/* The firmware's TCG event log (crypto-agile, "Spec ID Event03") replayed into the SHA-256 bank
 * of PCRs 0-7; *n_events the events read. -EBADMSG with err saying where the log is malformed. */
#define TCG_FW_PCRS 8
int tcg_eventlog_replay(const uint8_t *log, size_t len, uint8_t pcr[TCG_FW_PCRS][32],
                        unsigned *n_events, char *err, size_t errlen);

/* --- verification (the broker, `vigil attest verify`) --- */
struct quote_verified {
	uint8_t pcr[KBS_NPCRS][32]; /* sha256 PCRs 0-23 */
	uint64_t clock;
	uint32_t reset_count, restart_count;
};
/*
 * Checks a quote: the message is a TPMS_ATTEST of type quote, its extraData is qd, its PCR
 * selection is exactly sha256:0-23 (one bank, each register once), the listed PCR values hash to
 * its digest, and its signature verifies under the AK (DER SPKI; RSASSA-SHA256 or ECDSA-SHA256).
 * err names the first failing check.
 */
int quote_verify(const uint8_t *ak_spki, size_t ak_len, const uint8_t *msg, size_t msg_len,
                 const uint8_t *sig, size_t sig_len, const json_t *pcrs_hex, const uint8_t *qd,
                 size_t qd_len, struct quote_verified *ret, char *err, size_t errlen);

/* What a vigild measurement log says, once it replayed against PCR 23. */
#define KBS_MAX_POLICIES 16
struct log_claims {
	char vigild_sha256[65]; /* the last agent-start record's binary digest */
	size_t n_policies;
	struct {
		char name[128];
		uint64_t serial;
		char bundle_sha256[65];
		char signers[4][65];
		size_t n_signers;
	} policy[KBS_MAX_POLICIES]; /* the last bundle record per policy name */
	bool checkpoint_key;        /* the audit checkpoint key was measured */
	char audit_vkey[512];       /* the last measured checkpoint key (note vkey) */
	char checkpoint_note[2048]; /* the last measured audit checkpoint (signed note) */
	uint64_t records;
};
/* Replays the log in buf against pcr23 (sha256) and extracts its claims; err says why not. */
int log_claims_from_buf(const void *buf, size_t len, const uint8_t pcr23[32],
                        struct log_claims *ret, char *err, size_t errlen);

/* --- the KBS client --- */
enum kbs_fault {
	/* Test-only faults, to prove the broker's (and the client's) refusals. */
	KBS_FAULT_NONE,
	KBS_FAULT_REPLAY,        /* send the same attestation twice; report the second */
	KBS_FAULT_STALE,         /* wait fault_arg seconds between auth and attest */
	KBS_FAULT_TAMPER_LOG,    /* change one byte of one record's content in the sent log */
	KBS_FAULT_TAMPER_JWE,    /* flip a bit of the received ciphertext */
	KBS_FAULT_OTHER_SESSION, /* fetch with this session's token and a second session's cookie */
	KBS_FAULT_WRONG_NONCE,   /* bind the quote to a different nonce */
	KBS_FAULT_OTHER_EK,      /* enroll: send fault_file's public key as the EK */
	KBS_FAULT_BAD_SECRET,    /* enroll: flip a bit of the activated secret */
};

struct kbs_client_opts {
	const char *url; /* http(s)://host:port */
	const char *cafile;
	long timeout_s; /* per request; 0: 10 */
	int retries;    /* transport errors and 5xx; 0: 3 */
	const char *tcti;
	const char *log_path; /* runtime measurement log sent with the evidence; NULL: none */
	enum attest_ak_alg ak_alg;
	enum kbs_key_alg key_alg;
	struct attest_pcr_sel sel; /* n == 0: the default */
	enum kbs_fault fault;
	int fault_arg;
	size_t report_data_len;   /* 64 (0: KBS_REPORT_DATA_DEFAULT) or 32, see kbs_report_data() */
	bool enroll;              /* kbs_enroll() first */
	const char *firmware_log; /* NULL: ATTEST_FIRMWARE_LOG; "none": not sent */
	const char *tsm_root; /* configfs-tsm; NULL: ATTEST_TSM_ROOT when present; "none": never */
	const char *fault_file; /* KBS_FAULT_OTHER_EK's PEM */
};

/*
 * AK-to-EK binding with the broker (vigil's extension, not Trustee's): POST /vigil/v0/ak-enroll
 * {ek_public, ak_tpmt} -> {id, credential_blob, encrypted_secret}; TPM2_ActivateCredential;
 * POST /vigil/v0/ak-activate {id, secret}. Afterwards the broker trusts the AK.
 */
int kbs_enroll(const struct kbs_client_opts *o, char *err, size_t errlen);

/* Timings of one fetch, for the benchmark (microseconds). */
struct kbs_timing {
	uint64_t total_us, tpm_us, http_us;
};

/*
 * Auth, attest, then GET /kbs/v0/resource/<resource>: the decrypted resource in *ret
 * (OPENSSL_secure_malloc'd; OPENSSL_secure_clear_free it). On any failure nothing is returned, the
 * ephemeral key is freed, and err holds one line (the broker's error type when it refused).
 */
int kbs_fetch(const struct kbs_client_opts *o, const char *resource, uint8_t **ret, size_t *ret_len,
              struct kbs_timing *timing, char *err, size_t errlen);

#endif /* VIGIL_ATTEST_KBS_H */
