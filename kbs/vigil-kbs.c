/*
 * vigil-kbs: the reference key broker. Serves the Trustee KBS protocol "0.4.0" for `tpm` evidence
 * (libmicrohttpd, OpenSSL, jansson) on loopback by default, and checks more than Trustee's `tpm`
 * verifier: trusted AK, fresh single-use nonce with a TTL bound into the quote, exact PCR
 * selection, PCR digest, the runtime measurement log replayed against PCR 23, firmware PCRs
 * against reference values, and each resource's release policy (vigild digests, policy names,
 * minimum serials, signers). Every decision goes to the decision log. HTTPS (TLS 1.2+, through
 * libmicrohttpd's GnuTLS) when the config names tls_cert and tls_key. docs/ATTESTATION.md.
 */
#include "attest/kbs.h"
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ERR_PREFIX   "https://github.com/confidential-containers/kbs/errors/"
#define MAX_SESSIONS 4096
#define MAX_AKS      64
#define MAX_ENROLL   64
#define MAX_BODY     (16u << 20)

struct session {
	char id[33];
	char nonce[64];
	time_t created;
	bool used;     /* the nonce was presented once: never again */
	bool attested; /* a token was issued */
	json_t *tee_pubkey;
	json_t *claims;
};

struct broker {
	json_t *cfg;
	const char *cfg_path;
	long nonce_ttl, token_ttl;
	size_t report_data_len; /* 32 or 64: kbs_report_data() */
	FILE *dlog;
	uint8_t *aks[MAX_AKS];
	size_t ak_len[MAX_AKS], n_aks;
	uint8_t hmac_key[32];
	struct session sess[MAX_SESSIONS];
	size_t n_sess;
	uint64_t attestations;
	char *tls_cert, *tls_key; /* PEM, NUL-terminated: TLS when set (tls_cert, tls_key) */
	/* AK-to-EK binding: the EKs (DER SPKI) whose TPMs may enroll an AK, and the credentials
	 * sealed to them awaiting activation (single use, nonce_ttl_s). */
	uint8_t *eks[MAX_AKS];
	size_t ek_len[MAX_AKS], n_eks;
	struct enrollment {
		char id[33];
		uint8_t secret[32];
		uint8_t ak[1024];
		size_t ak_len;
		char ek_fpr[65];
		time_t created;
	} enr[MAX_ENROLL];
	size_t n_enr;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* --- the decision log ------------------------------------------------------------------ */

static void decide(struct broker *b, const char *peer, const char *sess, const char *op,
                   const char *what, bool allowed, const char *reason, json_t *extra)
{
	json_t *o = json_object();
	char ts[32], *line;
	time_t now = time(NULL);

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "peer", json_string(peer ? peer : ""));
	json_object_set_new(o, "session", json_string(sess ? sess : ""));
	json_object_set_new(o, "op", json_string(op));
	if (what)
		json_object_set_new(o, "resource", json_string(what));
	json_object_set_new(o, "allowed", json_boolean(allowed));
	if (reason)
		json_object_set_new(o, "reason", json_string(reason));
	if (extra)
		json_object_set(o, "evidence", extra);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		return;
	if (b->dlog) {
		fprintf(b->dlog, "%s\n", line);
		fflush(b->dlog);
	}
	if (!allowed)
		fprintf(stderr, "vigil-kbs: %s refused: %s\n", op, reason ? reason : "");
	free(line);
}

/* --- sessions ---------------------------------------------------------------------------- */

static void session_free(struct session *s)
{
	json_decref(s->tee_pubkey);
	json_decref(s->claims);
	memset(s, 0, sizeof(*s));
}

static void sessions_expire(struct broker *b)
{
	time_t now = time(NULL);
	size_t i = 0;

	while (i < b->n_sess) {
		struct session *s = &b->sess[i];
		long life = s->attested ? b->token_ttl : b->nonce_ttl;

		/* Kept a minute past its TTL so that a late attest is told "nonce expired". */
		if (now - s->created > life + 60) {
			session_free(s);
			b->sess[i] = b->sess[--b->n_sess];
			memset(&b->sess[b->n_sess], 0, sizeof(b->sess[0]));
		} else {
			i++;
		}
	}
}

static struct session *session_find(struct broker *b, const char *id)
{
	size_t i;

	if (!id)
		return NULL;
	for (i = 0; i < b->n_sess; i++)
		if (strcmp(b->sess[i].id, id) == 0)
			return &b->sess[i];
	return NULL;
}

/* --- tokens: JWT, HS256 under a key that lives as long as the broker --------------------- */

static char *token_issue(struct broker *b, const struct session *s)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	time_t now = time(NULL);
	json_t *claims =
	    json_pack("{s:s, s:s, s:I, s:I, s:O, s:O}", "iss", "vigil-kbs", "sub", s->id, "iat",
	              (json_int_t)now, "exp", (json_int_t)(now + b->token_ttl), "tee-pubkey",
	              s->tee_pubkey, "vigil", s->claims);
	char *payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	char *h64 = kbs_b64(hdr, strlen(hdr), true), *p64 = NULL, *sig64 = NULL, *tok = NULL;
	uint8_t mac[32];
	unsigned int ml = 32;
	char *signing = NULL;

	json_decref(claims);
	if (payload && h64)
		p64 = kbs_b64(payload, strlen(payload), true);
	if (p64 && asprintf(&signing, "%s.%s", h64, p64) > 0 &&
	    HMAC(EVP_sha256(), b->hmac_key, 32, (uint8_t *)signing, strlen(signing), mac, &ml) &&
	    (sig64 = kbs_b64(mac, ml, true)) && asprintf(&tok, "%s.%s", signing, sig64) < 0)
		tok = NULL;
	free(payload);
	free(h64);
	free(p64);
	free(sig64);
	free(signing);
	return tok;
}

/* The token's claims when its MAC verifies and it has not expired; why not in reason. */
static json_t *token_check(struct broker *b, const char *tok, const char **reason)
{
	const char *dot2 = tok ? strrchr(tok, '.') : NULL;
	uint8_t mac[32], *sig = NULL, *payload = NULL;
	unsigned int ml = 32;
	size_t sl = 0, pl;
	const char *dot1 = tok ? strchr(tok, '.') : NULL;
	json_t *claims = NULL;
	char *p64;

	*reason = "no token (Authorization: Bearer)";
	if (!dot1 || !dot2 || dot1 == dot2)
		return NULL;
	*reason = "token signature does not verify";
	HMAC(EVP_sha256(), b->hmac_key, 32, (const uint8_t *)tok, (size_t)(dot2 - tok), mac, &ml);
	sig = kbs_unb64(dot2 + 1, &sl);
	if (!sig || sl != 32 || CRYPTO_memcmp(sig, mac, 32) != 0) {
		free(sig);
		return NULL;
	}
	free(sig);
	p64 = strndup(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	payload = p64 ? kbs_unb64(p64, &pl) : NULL;
	free(p64);
	if (payload)
		claims = json_loadb((const char *)payload, pl, 0, NULL);
	free(payload);
	*reason = "token has expired";
	if (!claims ||
	    json_integer_value(json_object_get(claims, "exp")) < (json_int_t)time(NULL)) {
		json_decref(claims);
		return NULL;
	}
	*reason = NULL;
	return claims;
}

/* --- responses --------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *body,
                             const char *cookie)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/json");
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned int status, json_t *o,
                                  const char *cookie)
{
	char *s = json_dumps(o, JSON_COMPACT);
	enum MHD_Result r = reply(c, status, s ? s : "{}", cookie);

	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
	json_decref(o);
	return r;
}

/* Trustee's error body: {"type": ".../errors/<Kind>", "detail": "..."}. */
static enum MHD_Result reply_err(struct MHD_Connection *c, unsigned int status, const char *kind,
                                 const char *detail)
{
	char type[256];

	snprintf(type, sizeof(type), ERR_PREFIX "%s", kind);
	return reply_json(c, status, json_pack("{s:s, s:s}", "type", type, "detail", detail), NULL);
}

/* --- /kbs/v0/auth ------------------------------------------------------------------------ */

static enum MHD_Result h_auth(struct broker *b, struct MHD_Connection *c, const char *peer,
                              const char *body, size_t len)
{
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *ver = json_string_value(json_object_get(req, "version"));
	const char *tee = json_string_value(json_object_get(req, "tee"));
	struct session *s;
	uint8_t rnd[32];
	char *n64, cookie[128];

	if (!ver || strcmp(ver, KBS_PROTOCOL_VERSION) != 0) {
		json_decref(req);
		decide(b, peer, NULL, "auth", NULL, false, "protocol version is not 0.4.0", NULL);
		return reply_err(c, 400, "ProtocolVersion",
		                 "expected version \"" KBS_PROTOCOL_VERSION "\"");
	}
	if (!tee || strcmp(tee, "tpm") != 0) {
		json_decref(req);
		decide(b, peer, NULL, "auth", NULL, false, "tee is not \"tpm\"", NULL);
		return reply_err(c, 400, "UnsupportedTee", "this broker verifies \"tpm\" evidence");
	}
	json_decref(req);
	sessions_expire(b);
	if (b->n_sess == MAX_SESSIONS)
		return reply_err(c, 503, "TooManySessions", "try again later");
	s = &b->sess[b->n_sess++];
	memset(s, 0, sizeof(*s));
	RAND_bytes(rnd, 16);
	kbs_hex(rnd, 16, s->id);
	RAND_bytes(rnd, 32);
	n64 = kbs_b64(rnd, 32, false);
	snprintf(s->nonce, sizeof(s->nonce), "%s", n64);
	free(n64);
	s->created = time(NULL);
	snprintf(cookie, sizeof(cookie), "kbs-session-id=%s; Path=/kbs; HttpOnly", s->id);
	decide(b, peer, s->id, "auth", NULL, true, NULL, NULL);
	return reply_json(c, 200, json_pack("{s:s, s:{}}", "nonce", s->nonce, "extra-params"),
	                  cookie);
}

/* --- /kbs/v0/attest ---------------------------------------------------------------------- */

static bool ak_trusted(struct broker *b, const uint8_t *der, size_t len)
{
	size_t i;

	for (i = 0; i < b->n_aks; i++)
		if (b->ak_len[i] == len && memcmp(b->aks[i], der, len) == 0)
			return true;
	return false;
}

static json_t *claims_json(const struct log_claims *lc, const char *ak_fpr)
{
	json_t *pol = json_array();
	size_t i, k;

	for (i = 0; i < lc->n_policies; i++) {
		json_t *signers = json_array();

		for (k = 0; k < lc->policy[i].n_signers; k++)
			json_array_append_new(signers, json_string(lc->policy[i].signers[k]));
		json_array_append_new(
		    pol, json_pack("{s:s, s:I, s:s, s:o}", "name", lc->policy[i].name, "serial",
		                   (json_int_t)lc->policy[i].serial, "bundle_sha256",
		                   lc->policy[i].bundle_sha256, "signers", signers));
	}
	return json_pack("{s:s, s:s, s:o, s:b, s:I}", "ak_sha256", ak_fpr, "vigild_sha256",
	                 lc->vigild_sha256, "policies", pol, "checkpoint_key", lc->checkpoint_key,
	                 "log_records", (json_int_t)lc->records);
}

/* The checks, in order; 0 and *claims, or a reason and the error kind. */
/* additional_evidence as Trustee takes it: {"tdx":{"quote":<base64>}} or {"snp":
 * {"attestation_report":<Trustee's JSON layout>,"cert_chain":...}}; its report data must be
 * SHA-384(JCS({"nonce","tee-pubkey"})) zero-padded, Trustee's runtime data for additional
 * evidence. *ret the claim (platform, digest, measurement, TCB, what was and was not verified). */
static int tee_check(struct broker *b, const char *nonce, const json_t *jwk, const char *add,
                     json_t **ret, char *why, size_t whylen)
{
	json_t *j = json_loads(add, JSON_REJECT_DUPLICATES, NULL);
	json_t *tdx = json_object_get(j, "tdx"), *snp = json_object_get(j, "snp");
	const char *b64 = json_string_value(json_object_get(tdx, "quote"));
	const char *want = json_string_value(json_object_get(b->cfg, "require_tee_report"));
	enum attest_platform p = tdx ? ATTEST_PLATFORM_TDX : ATTEST_PLATFORM_SNP;
	const char *name = tdx ? "tdx" : "snp";
	uint8_t *rep = NULL, b0[48], rd[64], d[32];
	struct tee_report_info ti;
	size_t len = 0;
	char hex[65], m[97], tcb[33];
	int r = -EPERM;

	if (!j || json_object_size(j) != 1 || (!tdx && !snp)) {
		snprintf(why, whylen,
		         "additional_evidence is not {\"tdx\":{\"quote\"}} or "
		         "{\"snp\":{\"attestation_report\"}}");
		goto out;
	}
	if (tdx && (!b64 || !(rep = kbs_unb64(b64, &len)))) {
		snprintf(why, whylen, "additional_evidence: tdx.quote is not base64");
		goto out;
	}
	if (snp) {
		rep = malloc(SNP_REPORT_LEN);
		len = SNP_REPORT_LEN;
		/* Trustee's layout only: the field names and sizes its sev crate deserializes. */
		if (!rep ||
		    snp_report_from_trustee(json_object_get(snp, "attestation_report"), rep) < 0) {
			snprintf(
			    why, whylen,
			    "additional_evidence: snp.attestation_report is not an SNP report in "
			    "Trustee's layout");
			goto out;
		}
	}
	if (want && strcmp(want, name) != 0) {
		snprintf(why, whylen, "a %s report where require_tee_report is %s", name, want);
		goto out;
	}
	if (tee_report_parse(p, rep, len, &ti) < 0) {
		snprintf(why, whylen, "%s report: unknown version or cut short (%zu bytes)", name,
		         len);
		goto out;
	}
	memset(rd, 0, sizeof(rd));
	if (kbs_binding_digest(nonce, jwk, NULL, b0) < 0) {
		snprintf(why, whylen, "cannot canonicalize runtime-data (JCS)");
		goto out;
	}
	memcpy(rd, b0, sizeof(b0));
	if (memcmp(ti.report_data, rd, 64) != 0) {
		snprintf(why, whylen, "%s report: its report data is not the nonce binding", name);
		goto out;
	}
	EVP_Digest(rep, len, d, NULL, EVP_sha256(), NULL);
	kbs_hex(d, 32, hex);
	kbs_hex(ti.measurement, 48, m);
	kbs_hex(ti.tcb, ti.tcb_len, tcb);
	*ret = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:b}", "platform", name, "sha256", hex,
	                 "version", (int)ti.version, "measurement", m, "tcb", tcb,
	                 "report_data_bound", 1, "signature_verified", 0);
	r = 0;
out:
	free(rep);
	json_decref(j);
	return r;
}

static int verify_attestation(struct broker *b, struct session *s, json_t *req, json_t **claims,
                              const char **kind, char *why, size_t whylen)
{
	json_t *rt = json_object_get(req, "runtime-data");
	json_t *te = json_object_get(req, "tee-evidence");
	json_t *pe = json_object_get(te, "primary_evidence");
	json_t *q = json_object_get(pe, "tpm_quote");
	json_t *jwk = json_object_get(rt, "tee-pubkey");
	const char *nonce = json_string_value(json_object_get(rt, "nonce"));
	const char *add = json_string_value(json_object_get(te, "additional_evidence"));
	const char *ak64 = json_string_value(json_object_get(pe, "ak_public"));
	const char *m64 = json_string_value(json_object_get(q, "message"));
	const char *s64 = json_string_value(json_object_get(q, "signature"));
	const char *log64 = json_string_value(json_object_get(pe, "vigil_measurement_log"));
	const char *fw64;
	uint8_t binding[48], rd[64], *ak = NULL, *msg = NULL, *sig = NULL, *log = NULL, fpr[32];
	uint8_t *fw = NULL;
	size_t akl = 0, ml = 0, sl = 0, ll = 0, fwl = 0;
	json_t *tee = NULL;
	struct quote_verified qv;
	struct log_claims lc;
	EVP_PKEY *k = NULL;
	char fhex[65];
	json_t *refs;
	const char *key;
	json_t *v;
	int r = -EPERM;

	*kind = "AttestationFailed";
	if (!json_is_object(rt) || !json_is_object(pe) || !json_is_object(q) || !nonce || !ak64 ||
	    !m64 || !s64 || !json_is_object(jwk)) {
		*kind = "MalformedRequest";
		snprintf(why, whylen,
		         "attest: runtime-data.{nonce,tee-pubkey} or primary_evidence.{ak_public,"
		         "tpm_quote.{message,signature,pcrs}} missing");
		return -EINVAL;
	}
	/* 1. The nonce: this session's, within its TTL, presented once. */
	if (s->used) {
		snprintf(why, whylen, "nonce already used (replayed attestation)");
		return -EPERM;
	}
	s->used = true;
	if (time(NULL) - s->created > b->nonce_ttl) {
		snprintf(why, whylen, "nonce expired (older than %ld s)", b->nonce_ttl);
		return -EPERM;
	}
	if (strcmp(nonce, s->nonce) != 0) {
		snprintf(why, whylen, "runtime-data.nonce is not this session's nonce");
		return -EPERM;
	}
	/* 2. The ephemeral key must be one we can encrypt to. */
	if (kbs_jwk_import(jwk, &k, why, whylen) < 0) {
		*kind = "MalformedRequest";
		return -EINVAL;
	}
	EVP_PKEY_free(k);
	/* 3. The binding: SHA-384(JCS{additional-evidence, nonce, tee-pubkey}). */
	if (kbs_binding_digest(s->nonce, jwk, add ? add : "", binding) < 0) {
		snprintf(why, whylen, "cannot canonicalize runtime-data (JCS)");
		return -EINVAL;
	}
	/* 3b. TDX/SNP evidence (additional_evidence): its report data must be the binding of the
	 * nonce and the key alone. Its signature chain is NOT checked (no Intel/AMD collateral
	 * here): the claim says so, and a release policy cannot mistake it for a verified TEE. */
	if (add && *add && tee_check(b, s->nonce, jwk, add, &tee, why, whylen) < 0) {
		*kind = "AttestationFailed";
		return -EPERM;
	}
	if ((!add || !*add) && json_string_value(json_object_get(b->cfg, "require_tee_report"))) {
		snprintf(why, whylen, "no %s report in additional_evidence (require_tee_report)",
		         json_string_value(json_object_get(b->cfg, "require_tee_report")));
		return -EPERM;
	}
	/* 4. The AK: trusted. */
	ak = kbs_unb64(ak64, &akl);
	msg = kbs_unb64(m64, &ml);
	sig = kbs_unb64(s64, &sl);
	if (!ak || !msg || !sig) {
		*kind = "MalformedRequest";
		snprintf(why, whylen, "ak_public, tpm_quote.message or signature is not base64");
		r = -EINVAL;
		goto out;
	}
	EVP_Digest(ak, akl, fpr, NULL, EVP_sha256(), NULL);
	kbs_hex(fpr, 32, fhex);
	if (!ak_trusted(b, ak, akl)) {
		snprintf(why, whylen, "unknown AK (sha256 of its SPKI %s is not in trusted_aks)",
		         fhex);
		goto out;
	}
	/* 5. The quote: signature, qualifying data = the binding, selection, PCR digest. */
	kbs_report_data(binding, b->report_data_len, rd);
	r = quote_verify(ak, akl, msg, ml, sig, sl, json_object_get(q, "pcrs"), rd,
	                 b->report_data_len, &qv, why, whylen);
	if (r < 0)
		goto out;
	/* 6. Firmware PCRs against reference values. */
	refs = json_object_get(b->cfg, "reference_pcrs");
	json_object_foreach(refs, key, v)
	{
		uint8_t want[32];
		char *end;
		long idx = strtol(key, &end, 10);

		if (*end || idx < 0 || idx > 22 || !json_string_value(v) ||
		    kbs_unhex(json_string_value(v), want, 32) < 0 ||
		    memcmp(want, qv.pcr[idx], 32) != 0) {
			snprintf(why, whylen, "PCR %s does not match its reference value", key);
			r = -EPERM;
			goto out;
		}
	}
	/* 7. The runtime measurement log, replayed against the quoted PCR 23. */
	if (!log64 || !(log = kbs_unb64(log64, &ll))) {
		snprintf(why, whylen,
		         "no vigil_measurement_log in the evidence: nothing to replay");
		r = -EPERM;
		goto out;
	}
	r = log_claims_from_buf(log, ll, qv.pcr[23], &lc, why, whylen);
	if (r < 0)
		goto out;
	if (!lc.vigild_sha256[0]) {
		snprintf(why, whylen, "log: no vigild start record with vigild_sha256");
		r = -EPERM;
		goto out;
	}
	/* 8. The firmware event log: replayed against the quoted PCRs 0-7, named by digest. */
	fw64 = json_string_value(json_object_get(pe, "eventlog"));
	if (!fw64 && json_is_true(json_object_get(b->cfg, "require_firmware_log"))) {
		snprintf(why, whylen, "no firmware event log (eventlog) in the evidence");
		r = -EPERM;
		goto out;
	}
	if (fw64 && !(fw = kbs_unb64(fw64, &fwl))) {
		*kind = "MalformedRequest";
		snprintf(why, whylen, "eventlog is not base64");
		r = -EINVAL;
		goto out;
	}
	if (fw) {
		uint8_t fpcr[TCG_FW_PCRS][32];
		unsigned nev = 0, i;
		char got[17], want[17];

		r = tcg_eventlog_replay(fw, fwl, fpcr, &nev, why, whylen);
		if (r < 0) {
			r = -EPERM;
			goto out;
		}
		for (i = 0; i < TCG_FW_PCRS && memcmp(fpcr[i], qv.pcr[i], 32) == 0; i++)
			;
		if (i < TCG_FW_PCRS) {
			kbs_hex(fpcr[i], 8, got);
			kbs_hex(qv.pcr[i], 8, want);
			snprintf(
			    why, whylen,
			    "firmware event log: its %u events replay PCR %u to %s..., the quote "
			    "has %s...",
			    nev, i, got, want);
			r = -EPERM;
			goto out;
		}
	}
	*claims = claims_json(&lc, fhex);
	if (tee) {
		json_object_set_new(*claims, "tee_report", tee);
		tee = NULL;
	}
	if (fw) {
		uint8_t fd[32];
		char fdh[65];

		EVP_Digest(fw, fwl, fd, NULL, EVP_sha256(), NULL);
		kbs_hex(fd, 32, fdh);
		json_object_set_new(*claims, "firmware_log_sha256", json_string(fdh));
	}
	json_decref(s->tee_pubkey);
	s->tee_pubkey = json_deep_copy(jwk);
	r = 0;
out:
	free(ak);
	free(msg);
	free(sig);
	free(log);
	free(fw);
	json_decref(tee);
	return r;
}

static enum MHD_Result h_attest(struct broker *b, struct MHD_Connection *c, const char *peer,
                                const char *body, size_t len)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kbs-session-id");
	struct session *s;
	json_t *req, *claims = NULL;
	const char *kind;
	char why[512];
	char *tok;
	int r;

	sessions_expire(b);
	s = session_find(b, sid);
	if (!s) {
		decide(b, peer, sid, "attest", NULL, false,
		       "no session (kbs-session-id unknown or expired)", NULL);
		return reply_err(c, 401, "UnAuthenticatedCookie",
		                 "no session: POST /kbs/v0/auth first (or the nonce expired)");
	}
	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	r = verify_attestation(b, s, req, &claims, &kind, why, sizeof(why));
	json_decref(req);
	b->attestations++;
	if (r < 0) {
		decide(b, peer, s->id, "attest", NULL, false, why, NULL);
		return reply_err(c, r == -EINVAL ? 400 : 401, kind, why);
	}
	/* Which binding layout this broker checked, for whoever compares it with Trustee's. */
	json_object_set_new(claims, "report_data_len",
	                    json_integer((json_int_t)b->report_data_len));
	s->claims = claims;
	s->attested = true;
	s->created = time(NULL); /* from now on the session lives as long as its token */
	tok = token_issue(b, s);
	decide(b, peer, s->id, "attest", NULL, tok != NULL, tok ? NULL : "token", claims);
	if (!tok)
		return reply_err(c, 500, "TokenIssueFailed", "cannot sign the token");
	return reply_json(c, 200, json_pack("{s:s}", "token", tok), NULL);
}

/* --- /kbs/v0/resource/<repository>/<type>/<tag> ------------------------------------------- */

static bool str_in(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) if (json_is_string(v) &&
	                                  strcmp(json_string_value(v), s) == 0) return true;
	return false;
}

/* The release policy: vigild digests, and every policy in force allowed by name, minimum serial
 * and (when listed) a signer. */
static int release_allowed(json_t *rel, json_t *claims, char *why, size_t whylen)
{
	json_t *digests = json_object_get(rel, "vigild_sha256");
	json_t *allowed = json_object_get(rel, "policies");
	json_t *pols = json_object_get(claims, "policies"), *p;
	const char *vd = json_string_value(json_object_get(claims, "vigild_sha256"));
	size_t i;

	if (json_is_array(digests) && !str_in(digests, vd ? vd : "")) {
		snprintf(why, whylen, "vigild %s is not an allowed vigild_sha256", vd ? vd : "?");
		return -EPERM;
	}
	if (json_is_true(json_object_get(rel, "require_checkpoint_key")) &&
	    !json_is_true(json_object_get(claims, "checkpoint_key"))) {
		snprintf(why, whylen, "no audit checkpoint key measured in the log");
		return -EPERM;
	}
	if (!json_is_array(allowed))
		return 0;
	if (json_array_size(pols) == 0) {
		snprintf(why, whylen, "no policy bundle in force");
		return -EPERM;
	}
	json_array_foreach(pols, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		json_int_t serial = json_integer_value(json_object_get(p, "serial"));
		json_t *a;
		size_t k;
		bool ok = false;
		const char *near = NULL;

		json_array_foreach(allowed, k, a)
		{
			json_t *signers = json_object_get(a, "signers"), *sv;
			size_t m;
			bool sig_ok = !json_is_array(signers);

			if (!name ||
			    strcmp(json_string_value(json_object_get(a, "name")) ?: "", name))
				continue;
			if (serial < json_integer_value(json_object_get(a, "min_serial"))) {
				near = "serial below min_serial";
				continue;
			}
			json_array_foreach(json_object_get(p, "signers"), m,
			                   sv) if (json_is_string(sv) &&
			                           str_in(signers, json_string_value(sv))) sig_ok =
			    true;
			if (!sig_ok) {
				near = "no allowed signer";
				continue;
			}
			ok = true;
		}
		if (!ok) {
			snprintf(why, whylen, "policy \"%s\" serial %lld is not allowed (%s)",
			         name ? name : "?", (long long)serial,
			         near ? near : "name not listed");
			return -EPERM;
		}
	}
	return 0;
}

/* The whole file (at most 1 MiB, empty allowed), or NULL. */
static uint8_t *read_file(const char *path, size_t *len)
{
	char *buf;

	return vigil_read_file(path, 1 << 20, VIGIL_READ_ALLOW_EMPTY, &buf, len) < 0
	           ? NULL
	           : (uint8_t *)buf;
}

static enum MHD_Result h_resource(struct broker *b, struct MHD_Connection *c, const char *peer,
                                  const char *res)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kbs-session-id");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *reason = NULL, *sub;
	json_t *claims = NULL, *rc, *jwe = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	char why[512];
	int r;

	sessions_expire(b);
	if (auth && strncmp(auth, "Bearer ", 7) == 0) {
		claims = token_check(b, auth + 7, &reason);
	} else if (sid && session_find(b, sid) && session_find(b, sid)->attested) {
		struct session *s = session_find(b, sid);

		claims = json_pack("{s:s, s:O, s:O}", "sub", s->id, "tee-pubkey", s->tee_pubkey,
		                   "vigil", s->claims);
	} else {
		reason = "no token and no attested session";
	}
	if (!claims) {
		decide(b, peer, sid, "resource", res, false, reason, NULL);
		return reply_err(c, 401, "TokenNotFound", reason);
	}
	sub = json_string_value(json_object_get(claims, "sub"));
	/* A token belongs to the session that attested: presented with another session's cookie,
	 * it is someone else's. */
	if (sid && (!sub || strcmp(sid, sub) != 0)) {
		decide(b, peer, sid, "resource", res, false, "token of another session", NULL);
		json_decref(claims);
		return reply_err(c, 401, "TokenSessionMismatch",
		                 "token of another session: the cookie names another session");
	}
	rc = json_object_get(json_object_get(b->cfg, "resources"), res);
	if (!rc) {
		decide(b, peer, sub, "resource", res, false, "no such resource", NULL);
		json_decref(claims);
		return reply_err(c, 404, "ResourceNotFound", "no such resource");
	}
	r = release_allowed(json_object_get(rc, "release"), json_object_get(claims, "vigil"), why,
	                    sizeof(why));
	if (r < 0) {
		decide(b, peer, sub, "resource", res, false, why, json_object_get(claims, "vigil"));
		json_decref(claims);
		return reply_err(c, 403, "PolicyDeny", why);
	}
	data = read_file(json_string_value(json_object_get(rc, "file")) ?: "", &len);
	if (!data) {
		decide(b, peer, sub, "resource", res, false, "resource file unreadable", NULL);
		json_decref(claims);
		return reply_err(c, 500, "ResourceUnreadable", "the resource cannot be read");
	}
	r = kbs_jwe_encrypt(json_object_get(claims, "tee-pubkey"), data, len, &jwe);
	OPENSSL_cleanse(data, len);
	free(data);
	decide(b, peer, sub, "resource", res, r == 0, r == 0 ? NULL : "JWE encryption failed",
	       json_object_get(claims, "vigil"));
	json_decref(claims);
	if (r < 0)
		return reply_err(c, 500, "JweFailed", "cannot encrypt to the tee-pubkey");
	return reply_json(c, 200, jwe, NULL);
}

/* --- the HTTP glue ----------------------------------------------------------------------- */

struct req {
	char *body;
	size_t len;
	bool too_big;
};

/* --- /vigil/v0/ak-enroll and ak-activate: AK-to-EK binding (vigil's extension) ----------- */

static bool ek_trusted(struct broker *b, const uint8_t *der, size_t len)
{
	size_t i;

	for (i = 0; i < b->n_eks; i++)
		if (b->ek_len[i] == len && memcmp(b->eks[i], der, len) == 0)
			return true;
	return false;
}

static void enroll_expire(struct broker *b)
{
	time_t now = time(NULL);
	size_t i = 0;

	while (i < b->n_enr)
		if (now - b->enr[i].created > b->nonce_ttl) {
			OPENSSL_cleanse(&b->enr[i], sizeof(b->enr[i]));
			b->enr[i] = b->enr[--b->n_enr];
		} else {
			i++;
		}
}

static enum MHD_Result h_enroll(struct broker *b, struct MHD_Connection *c, const char *peer,
                                const char *body, size_t len)
{
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *rep;
	const char *e64 = json_string_value(json_object_get(req, "ek_public"));
	const char *t64 = json_string_value(json_object_get(req, "ak_tpmt"));
	uint8_t *ek = NULL, *tpmt = NULL, *blob = NULL, *es = NULL, fpr[32];
	size_t ekl = 0, tl = 0, bl = 0, esl = 0;
	struct enrollment *en;
	char why[256], *b1, *b2;
	enum MHD_Result ret;

	enroll_expire(b);
	ek = e64 ? kbs_unb64(e64, &ekl) : NULL;
	tpmt = t64 ? kbs_unb64(t64, &tl) : NULL;
	json_decref(req);
	if (!ek || !tpmt) {
		free(ek);
		free(tpmt);
		decide(b, peer, NULL, "ak-enroll", NULL, false, "no ek_public or ak_tpmt", NULL);
		return reply_err(c, 400, "MalformedRequest", "want {ek_public, ak_tpmt} in base64");
	}
	EVP_Digest(ek, ekl, fpr, NULL, EVP_sha256(), NULL);
	if (b->n_enr == MAX_ENROLL) {
		free(ek);
		free(tpmt);
		return reply_err(c, 503, "TooManyEnrollments", "try again later");
	}
	en = &b->enr[b->n_enr];
	memset(en, 0, sizeof(*en));
	kbs_hex(fpr, 32, en->ek_fpr);
	en->ak_len = sizeof(en->ak);
	RAND_bytes(en->secret, sizeof(en->secret));
	if (!ek_trusted(b, ek, ekl)) {
		snprintf(why, sizeof(why),
		         "EK not trusted (sha256 of its SPKI %s is not in trusted_eks)",
		         en->ek_fpr);
		ret = MHD_NO;
	} else if (kbs_make_credential(ek, ekl, tpmt, tl, en->secret, sizeof(en->secret), &blob,
	                               &bl, &es, &esl, en->ak, &en->ak_len, why,
	                               sizeof(why)) == 0) {
		ret = MHD_YES;
	} else {
		ret = MHD_NO;
	}
	free(ek);
	free(tpmt);
	if (ret == MHD_NO) {
		OPENSSL_cleanse(en, sizeof(*en));
		decide(b, peer, NULL, "ak-enroll", NULL, false, why, NULL);
		return reply_err(c, 403, "EnrollmentRefused", why);
	}
	RAND_bytes(fpr, 16);
	kbs_hex(fpr, 16, en->id);
	en->created = time(NULL);
	b->n_enr++;
	b1 = kbs_b64(blob, bl, false);
	b2 = kbs_b64(es, esl, false);
	free(blob);
	free(es);
	rep = json_pack("{s:s, s:s, s:s}", "id", en->id, "credential_blob", b1 ? b1 : "",
	                "encrypted_secret", b2 ? b2 : "");
	free(b1);
	free(b2);
	req = json_pack("{s:s}", "ek_sha256", en->ek_fpr);
	decide(b, peer, en->id, "ak-enroll", NULL, true, NULL, req);
	json_decref(req);
	return reply_json(c, 200, rep, NULL);
}

static enum MHD_Result h_activate(struct broker *b, struct MHD_Connection *c, const char *peer,
                                  const char *body, size_t len)
{
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *id = json_string_value(json_object_get(req, "id"));
	const char *s64 = json_string_value(json_object_get(req, "secret"));
	uint8_t *sec = NULL, fpr[32];
	size_t sl = 0, i;
	struct enrollment en;
	char fhex[65], idc[33];
	bool ok;

	enroll_expire(b);
	for (i = 0; id && i < b->n_enr; i++)
		if (strcmp(b->enr[i].id, id) == 0)
			break;
	if (!id || i >= b->n_enr) {
		json_decref(req);
		decide(b, peer, id, "ak-activate", NULL, false,
		       "no enrollment (id unknown, used or expired)", NULL);
		return reply_err(c, 401, "EnrollmentRefused",
		                 "no enrollment (id unknown, used or expired)");
	}
	/* Single use: whatever the answer, this credential is spent. */
	snprintf(idc, sizeof(idc), "%s", id);
	id = idc;
	en = b->enr[i];
	OPENSSL_cleanse(&b->enr[i], sizeof(b->enr[i]));
	b->enr[i] = b->enr[--b->n_enr];
	sec = s64 ? kbs_unb64(s64, &sl) : NULL;
	json_decref(req);
	ok = sec && sl == sizeof(en.secret) && CRYPTO_memcmp(sec, en.secret, sl) == 0;
	free(sec);
	OPENSSL_cleanse(en.secret, sizeof(en.secret));
	if (!ok) {
		decide(
		    b, peer, id, "ak-activate", NULL, false,
		    "credential not activated: the secret is wrong (AK not resident in the TPM of "
		    "that EK)",
		    NULL);
		return reply_err(c, 401, "EnrollmentRefused",
		                 "credential not activated: the secret is wrong");
	}
	EVP_Digest(en.ak, en.ak_len, fpr, NULL, EVP_sha256(), NULL);
	kbs_hex(fpr, 32, fhex);
	if (!ak_trusted(b, en.ak, en.ak_len)) {
		uint8_t *d = b->n_aks < MAX_AKS ? malloc(en.ak_len) : NULL;

		if (!d) {
			decide(b, peer, id, "ak-activate", NULL, false, "too many trusted AKs",
			       NULL);
			return reply_err(c, 503, "TooManyAKs", "too many trusted AKs");
		}
		memcpy(d, en.ak, en.ak_len);
		b->aks[b->n_aks] = d;
		b->ak_len[b->n_aks++] = en.ak_len;
	}
	req = json_pack("{s:s, s:s}", "ek_sha256", en.ek_fpr, "ak_sha256", fhex);
	decide(b, peer, id, "ak-activate", NULL, true, NULL, req);
	json_decref(req);
	return reply_json(c, 200, json_pack("{s:s}", "ak_sha256", fhex), NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct broker *b = cls;
	struct req *rq = *con_cls;
	const union MHD_ConnectionInfo *ci;
	char peer[64] = "";

	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > MAX_BODY) {
			rq->too_big = true;
		} else {
			char *p = realloc(rq->body, rq->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + rq->len, upload_data, *upload_size);
			rq->body = p;
			rq->len += *upload_size;
			rq->body[rq->len] = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer,
		          sizeof(peer));
	if (rq->too_big)
		return reply_err(c, 413, "RequestTooLarge", "request body too large");
	if (strcmp(method, "POST") == 0 && strcmp(url, "/kbs/v0/auth") == 0)
		return h_auth(b, c, peer, rq->body ? rq->body : "", rq->len);
	if (strcmp(method, "POST") == 0 && strcmp(url, "/kbs/v0/attest") == 0)
		return h_attest(b, c, peer, rq->body ? rq->body : "", rq->len);
	if (strcmp(method, "GET") == 0 && strncmp(url, "/kbs/v0/resource/", 17) == 0)
		return h_resource(b, c, peer, url + 17);
	if (strcmp(method, "POST") == 0 && strcmp(url, "/vigil/v0/ak-enroll") == 0)
		return h_enroll(b, c, peer, rq->body ? rq->body : "", rq->len);
	if (strcmp(method, "POST") == 0 && strcmp(url, "/vigil/v0/ak-activate") == 0)
		return h_activate(b, c, peer, rq->body ? rq->body : "", rq->len);
	return reply_err(c, 404, "NotFound", "no such endpoint");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

/* --- configuration ----------------------------------------------------------------------- */

/* A PEM public key file into a DER SPKI list (trusted_aks, trusted_eks). */
static int load_pubkey(const char *path, const char *what, uint8_t **list, size_t *lens, size_t *n)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int len;

	if (f && !k) { /* DER SPKI too: what `vigil attest quote --out` writes (ek.der) */
		rewind(f);
		k = d2i_PUBKEY_fp(f, NULL);
	}
	if (f)
		fclose(f);
	if (!k) {
		fprintf(stderr, "vigil-kbs: %s: %s: not a PEM or DER public key\n", path, what);
		return -EINVAL;
	}
	len = i2d_PUBKEY(k, &der);
	EVP_PKEY_free(k);
	if (len <= 0 || *n == MAX_AKS)
		return -EINVAL;
	list[*n] = der;
	lens[(*n)++] = (size_t)len;
	return 0;
}

/* tls_cert / tls_key: both or neither; the key must be the certificate's (checked here, with
 * OpenSSL, so that a mismatch is one line at start and not a handshake failure later). */
static int load_tls(struct broker *b, const char *path)
{
	const char *cp = json_string_value(json_object_get(b->cfg, "tls_cert"));
	const char *kp = json_string_value(json_object_get(b->cfg, "tls_key"));
	size_t cl = 0, kl = 0;
	BIO *bio;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int ok;

	if (!cp && !kp)
		return 0;
	if (!cp || !kp) {
		fprintf(stderr, "vigil-kbs: %s: tls_cert and tls_key: both or neither\n", path);
		return -EINVAL;
	}
	b->tls_cert = (char *)read_file(cp, &cl);
	b->tls_key = (char *)read_file(kp, &kl);
	if (!b->tls_cert || !b->tls_key) {
		fprintf(stderr, "vigil-kbs: %s: cannot read %s\n", path, b->tls_cert ? kp : cp);
		return -EINVAL;
	}
	b->tls_cert[cl] = 0;
	b->tls_key[kl] = 0;
	bio = BIO_new_mem_buf(b->tls_cert, (int)cl);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	bio = BIO_new_mem_buf(b->tls_key, (int)kl);
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ok = x && k && X509_check_private_key(x, k) == 1;
	if (!ok)
		fprintf(stderr, "vigil-kbs: %s: %s\n", path,
		        !x   ? "tls_cert: not a PEM certificate"
		        : !k ? "tls_key: not a PEM private key (unencrypted)"
		             : "tls_key is not tls_cert's key");
	X509_free(x);
	EVP_PKEY_free(k);
	return ok ? 0 : -EINVAL;
}

static int load_config(struct broker *b, const char *path)
{
	json_error_t je;
	json_t *aks, *eks, *v;
	size_t i;

	b->cfg = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!b->cfg) {
		fprintf(stderr, "vigil-kbs: %s: line %d: %s\n", path, je.line, je.text);
		return -EINVAL;
	}
	b->nonce_ttl = json_integer_value(json_object_get(b->cfg, "nonce_ttl_s")) ?: 60;
	b->token_ttl = json_integer_value(json_object_get(b->cfg, "token_ttl_s")) ?: 300;
	b->report_data_len = (size_t)(json_integer_value(json_object_get(b->cfg, "report_data_len"))
	                                  ?: KBS_REPORT_DATA_DEFAULT);
	if (b->report_data_len != 32 && b->report_data_len != 64) {
		fprintf(stderr, "vigil-kbs: %s: report_data_len: 32 or 64\n", path);
		return -EINVAL;
	}
	aks = json_object_get(b->cfg, "trusted_aks");
	eks = json_object_get(b->cfg, "trusted_eks");
	/* No AK trusted by either route would refuse everyone: a config error, said at start. */
	if ((aks && !json_is_array(aks)) || (eks && !json_is_array(eks)) ||
	    json_array_size(aks) + json_array_size(eks) == 0) {
		fprintf(stderr,
		        "vigil-kbs: %s: trusted_aks and/or trusted_eks: non-empty arrays of PEM "
		        "files\n",
		        path);
		return -EINVAL;
	}
	json_array_foreach(aks, i, v)
	{
		if (!json_is_string(v) || load_pubkey(json_string_value(v), "trusted_aks", b->aks,
		                                      b->ak_len, &b->n_aks) < 0)
			return -EINVAL;
	}
	json_array_foreach(eks, i, v)
	{
		if (!json_is_string(v) || load_pubkey(json_string_value(v), "trusted_eks", b->eks,
		                                      b->ek_len, &b->n_eks) < 0)
			return -EINVAL;
	}
	if (!json_is_object(json_object_get(b->cfg, "resources"))) {
		fprintf(stderr,
		        "vigil-kbs: %s: resources: an object \"repo/type/tag\" -> {file, "
		        "release}\n",
		        path);
		return -EINVAL;
	}
	if (json_string_value(json_object_get(b->cfg, "decision_log"))) {
		b->dlog = fopen(json_string_value(json_object_get(b->cfg, "decision_log")), "a");
		if (!b->dlog) {
			fprintf(stderr, "vigil-kbs: %s: decision_log: cannot open\n", path);
			return -EINVAL;
		}
	}
	return load_tls(b, path);
}

/* `vigil-kbs seal JWK-FILE IN-FILE`: a JWE for the tests' independent decoder. */
static int do_seal(const char *jwk_path, const char *in_path)
{
	json_t *jwk = json_load_file(jwk_path, 0, NULL), *jwe = NULL;
	size_t len = 0;
	uint8_t *data = read_file(in_path, &len);
	int r = jwk && data ? kbs_jwe_encrypt(jwk, data, len, &jwe) : -EINVAL;

	if (r == 0)
		json_dumpf(jwe, stdout, JSON_COMPACT), putchar('\n');
	else
		fprintf(stderr, "vigil-kbs: seal: cannot encrypt %s to %s\n", in_path, jwk_path);
	free(data);
	json_decref(jwk);
	json_decref(jwe);
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},   {"port-file", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},         {0},
	};
	static struct broker b;
	const char *cfg = NULL, *listen_addr = "127.0.0.1", *port_file = NULL;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;
	/* TLS 1.2 and 1.3 only; the last item alone is the empty list (plain HTTP). */
	struct MHD_OptionItem tls[] = {
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, NULL},
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, NULL},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
	    {MHD_OPTION_END, 0, NULL},
	};
	long port = 8080;
	int c;

	if (argc == 4 && strcmp(argv[1], "seal") == 0)
		return do_seal(argv[2], argv[3]);
	while ((c = getopt_long(argc, argv, "c:l:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 'l':
			listen_addr = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'P':
			port_file = optarg;
			break;
		default:
			printf("usage: vigil-kbs --config FILE [--listen ADDR] [--port N] "
			       "[--port-file FILE]\n       vigil-kbs seal JWK-FILE IN-FILE\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!cfg) {
		fprintf(stderr, "vigil-kbs: --config FILE is required\n");
		return 2;
	}
	if (inet_pton(AF_INET, listen_addr, &sin.sin_addr) != 1 || port < 0 || port > 65535) {
		fprintf(stderr, "vigil-kbs: --listen %s --port %ld: not an IPv4 address and port\n",
		        listen_addr, port);
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);
	if (load_config(&b, cfg) < 0)
		return 3;
	RAND_bytes(b.hmac_key, sizeof(b.hmac_key));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (b.tls_cert && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		fprintf(stderr,
		        "vigil-kbs: this libmicrohttpd has no TLS: cannot serve tls_cert\n");
		return 3;
	}
	tls[0].ptr_value = b.tls_key;
	tls[1].ptr_value = b.tls_cert;
	/* One polling thread: sessions need no lock, and throughput is one core's. */
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (b.tls_cert ? MHD_USE_TLS : 0), 0,
	    NULL, NULL, on_request, &b, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_NOTIFY_COMPLETED,
	    on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_ARRAY,
	    b.tls_cert ? tls : tls + 3, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "vigil-kbs: cannot listen on %s:%ld\n", listen_addr, port);
		return 1;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (di)
		port = di->port;
	printf("vigil-kbs: listening on %s://%s:%ld\n", b.tls_cert ? "https" : "http", listen_addr,
	       port);
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (f) {
			fprintf(f, "%ld\n", port);
			fclose(f);
		}
	}
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	fprintf(stderr, "vigil-kbs: %llu attestations\n", (unsigned long long)b.attestations);
	return 0;
}
