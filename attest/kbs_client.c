/* The Trustee KBS protocol "0.4.0" client: auth, attest (vTPM evidence), resource (JWE). libcurl,
 * TLS with a CA file, timeouts, retries with backoff for transport errors and 5xx (never for a
 * certificate that fails verification). */
#include "attest/kbs.h"
#include "attest/internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->n + n > (8u << 20))
		return 0; /* a resource or token is small: refuse a flood */
	p = realloc(b->p, b->n + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, ptr, n);
	b->p = p;
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

static uint64_t now_us(void)
{
	return vigil_clock_ns(CLOCK_MONOTONIC) / 1000u;
}

static CURL *handle_new(const struct kbs_client_opts *o)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_COOKIEFILE, ""); /* the cookie engine: kbs-session-id */
	curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 10L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->timeout_s > 0 ? o->timeout_s : 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (o->cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cafile);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	return c;
}

static bool tls_verify_failed(CURLcode cr)
{
	switch (cr) {
	case CURLE_PEER_FAILED_VERIFICATION: /* also CURLE_SSL_CACERT (the same code since 7.62) */
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CERTPROBLEM:
		return true;
	default:
		return false;
	}
}

/* One request with retries; *ret the body (2xx), or err says why (the broker's error type). */
static int request(CURL *c, const struct kbs_client_opts *o, const char *path, const char *body,
                   const char *bearer, char **ret, uint64_t *http_us, char *err, size_t errlen)
{
	char url[2048], auth[4096];
	int retries = o->retries > 0 ? o->retries : 3, attempt;
	long status = 0;

	snprintf(url, sizeof(url), "%s%s", o->url, path);
	for (attempt = 0;; attempt++) {
		struct curl_slist *h = NULL;
		struct buf b = {0};
		uint64_t t0 = now_us();
		CURLcode cr;

		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
		if (body) {
			h = curl_slist_append(h, "Content-Type: application/json");
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		}
		if (bearer) {
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
			h = curl_slist_append(h, auth);
		}
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		cr = curl_easy_perform(c);
		curl_slist_free_all(h);
		if (http_us)
			*http_us += now_us() - t0;
		status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cr == CURLE_OK && status >= 200 && status < 300) {
			*ret = b.p ? b.p : strdup("");
			return 0;
		}
		if (cr == CURLE_OK && status < 500) {
			/* A refusal: retrying the same message changes nothing. */
			json_t *e = b.p ? json_loads(b.p, 0, NULL) : NULL;
			const char *type = json_string_value(json_object_get(e, "type"));
			const char *detail = json_string_value(json_object_get(e, "detail"));
			const char *slash = type ? strrchr(type, '/') : NULL;

			attest_errf(err, errlen, -EACCES,
			            "kbs: %s: broker refused (HTTP %ld, %s): %s", path, status,
			            slash ? slash + 1 : "no error type",
			            detail ? detail : (b.p ? b.p : ""));
			json_decref(e);
			free(b.p);
			return -EACCES;
		}
		free(b.p);
		/* The broker's certificate failed verification (or the CA file is unusable): a
		 * retry meets the same certificate, and a man in the middle is no transient error:
		 * fail at once. */
		if (tls_verify_failed(cr))
			return attest_errf(err, errlen, -EKEYREJECTED,
			                   "kbs: %s: TLS: %s (certificate verification failed; not "
			                   "retried)",
			                   url, curl_easy_strerror(cr));
		if (attempt >= retries) {
			if (cr != CURLE_OK)
				return attest_errf(err, errlen, -EHOSTUNREACH,
				                   "kbs: %s: %s (after %d tries)", url,
				                   curl_easy_strerror(cr), attempt + 1);
			return attest_errf(err, errlen, -EIO, "kbs: %s: HTTP %ld (after %d tries)",
			                   url, status, attempt + 1);
		}
		usleep(
		    (useconds_t)(100000u << (attempt < 5 ? attempt : 5))); /* 0.1 s, 0.2 s, ... */
	}
}

static int do_auth(CURL *c, const struct kbs_client_opts *o, char **nonce, uint64_t *http_us,
                   char *err, size_t errlen)
{
	char *resp = NULL;
	json_t *j;
	const char *n;
	int r;

	r = request(c, o, "/kbs/v0/auth",
	            "{\"version\":\"" KBS_PROTOCOL_VERSION
	            "\",\"tee\":\"tpm\",\"extra-params\":{}}",
	            NULL, &resp, http_us, err, errlen);
	if (r < 0)
		return r;
	j = json_loads(resp, 0, NULL);
	n = json_string_value(json_object_get(j, "nonce"));
	if (n)
		*nonce = strdup(n);
	else
		r = attest_errf(err, errlen, -EPROTO,
		                "kbs: /kbs/v0/auth: the challenge has no nonce");
	json_decref(j);
	free(resp);
	return r;
}

/* The fault the log-tamper test injects: the last record's content changes and its digests are
 * recomputed, so only the replay against PCR 23 can notice. */
static int tamper_log(json_t *ev)
{
	const char *b64 = json_string_value(json_object_get(ev, "vigil_measurement_log"));
	size_t len, start;
	uint8_t *raw = b64 ? kbs_unb64(b64, &len) : NULL;
	json_t *rec, *d;
	char *line, *out, *text;
	size_t i;

	if (!raw || len < 2)
		return -EINVAL;
	for (start = len - 1; start > 0 && raw[start - 1] != '\n'; start--)
		;
	if (start == len - 1) /* the final newline: the last line starts before it */
		for (start = len - 1; start > 0 && raw[start - 1] != '\n'; start--)
			;
	line = strndup((const char *)raw + start, len - start);
	rec = json_loads(line, 0, NULL);
	free(line);
	if (!rec) {
		free(raw);
		return -EINVAL;
	}
	text = NULL;
	if (asprintf(&text, "%s ", json_string_value(json_object_get(rec, "content"))) < 0)
		text = NULL;
	json_object_set_new(rec, "content", json_string(text));
	json_array_foreach(json_object_get(rec, "digests"), i, d)
	{
		struct attest_digest dg;
		char hex[129];

		attest_hash(attest_alg_from_name(json_string_value(json_object_get(d, "hashAlg"))),
		            text, strlen(text), &dg);
		kbs_hex(dg.d, dg.len, hex);
		json_object_set_new(d, "digest", json_string(hex));
	}
	free(text);
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	out = malloc(start + strlen(line) + 2);
	memcpy(out, raw, start);
	sprintf(out + start, "%s\n", line);
	free(line);
	text = kbs_b64(out, strlen(out), false);
	json_object_set_new(ev, "vigil_measurement_log", json_string(text));
	free(text);
	free(out);
	free(raw);
	return 0;
}

/* A DER SPKI from a PEM public key file (the other-EK fault). */
static int pem_spki(const char *path, uint8_t *der, size_t *len)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	unsigned char *p = der;
	int n = k ? i2d_PUBKEY(k, NULL) : -1;

	if (f)
		fclose(f);
	if (n <= 0 || (size_t)n > *len) {
		EVP_PKEY_free(k);
		return -EINVAL;
	}
	n = i2d_PUBKEY(k, &p);
	EVP_PKEY_free(k);
	*len = (size_t)n;
	return 0;
}

int kbs_enroll(const struct kbs_client_opts *o, char *err, size_t errlen)
{
	struct attest_tpm *tpm = NULL;
	struct attest_ak *ak = NULL;
	struct vigil_error verr = {0};
	uint8_t ek[1024], tpmt[1024], sec[64], *blob = NULL, *es = NULL;
	size_t ekl = sizeof(ek), tl = sizeof(tpmt), sl = sizeof(sec), bl = 0, esl = 0;
	char *e64 = NULL, *t64 = NULL, *body = NULL, *resp = NULL, *s64 = NULL;
	json_t *j = NULL, *req = NULL;
	const char *id;
	CURL *c = NULL;
	int r;

	r = attest_tpm_open(o->tcti, &tpm);
	if (r < 0)
		return attest_errf(err, errlen, r, "kbs: enroll: no vTPM at %s", o->tcti);
	r = attest_ak_open(tpm, o->ak_alg, &ak, &verr);
	if (r == 0)
		r = attest_ak_tpmt(ak, tpmt, &tl) < 0
		        ? vigil_errorf(&verr, -EIO, "marshalling the AK")
		        : 0;
	if (r == 0 && o->fault == KBS_FAULT_OTHER_EK)
		r = pem_spki(o->fault_file, ek, &ekl) < 0
		        ? vigil_errorf(&verr, -EINVAL, "fault other-ek: %s is not a PEM public key",
		                       o->fault_file ? o->fault_file : "(none)")
		        : 0;
	else if (r == 0)
		r = attest_ek_spki(tpm, ek, &ekl, &verr);
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: enroll: %s", verr.msg);
		goto out;
	}
	e64 = kbs_b64(ek, ekl, false);
	t64 = kbs_b64(tpmt, tl, false);
	req = json_pack("{s:s, s:s}", "ek_public", e64, "ak_tpmt", t64);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	c = handle_new(o);
	if (!e64 || !t64 || !body || !c) {
		r = attest_errf(err, errlen, -ENOMEM, "kbs: out of memory");
		goto out;
	}
	r = request(c, o, "/vigil/v0/ak-enroll", body, NULL, &resp, NULL, err, errlen);
	if (r < 0)
		goto out;
	j = json_loads(resp, 0, NULL);
	id = json_string_value(json_object_get(j, "id"));
	blob = kbs_unb64(json_string_value(json_object_get(j, "credential_blob")) ?: "", &bl);
	es = kbs_unb64(json_string_value(json_object_get(j, "encrypted_secret")) ?: "", &esl);
	if (!id || !blob || !es) {
		r = attest_errf(err, errlen, -EPROTO,
		                "kbs: /vigil/v0/ak-enroll: no id, credential_blob or "
		                "encrypted_secret");
		goto out;
	}
	/* Only the TPM holding that EK, with this AK resident, recovers the secret. */
	r = attest_activate_credential(ak, blob, bl, es, esl, sec, &sl, &verr);
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: enroll: %s", verr.msg);
		goto out;
	}
	if (o->fault == KBS_FAULT_BAD_SECRET)
		sec[0] ^= 1;
	s64 = kbs_b64(sec, sl, false);
	OPENSSL_cleanse(sec, sizeof(sec));
	json_decref(req);
	req = json_pack("{s:s, s:s}", "id", id, "secret", s64 ? s64 : "");
	free(body);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	free(resp);
	resp = NULL;
	r = body ? request(c, o, "/vigil/v0/ak-activate", body, NULL, &resp, NULL, err, errlen)
	         : attest_errf(err, errlen, -ENOMEM, "kbs: out of memory");
out:
	if (s64)
		OPENSSL_cleanse(s64, strlen(s64));
	free(s64);
	free(e64);
	free(t64);
	free(body);
	free(resp);
	free(blob);
	free(es);
	json_decref(j);
	json_decref(req);
	curl_easy_cleanup(c);
	attest_ak_close(ak);
	attest_tpm_close(tpm);
	return r;
}

/*
 * TDX/SNP evidence when the guest has configfs-tsm, as Trustee takes additional_evidence: the
 * report data is SHA-384 of JCS({"nonce","tee-pubkey"}) zero-padded to 64 (Trustee's runtime data
 * for additional evidence); {"tdx":{"quote":<base64>}} or {"snp":{"attestation_report":<the report
 * in Trustee's JSON layout>,"cert_chain":null}}. The TPM quote's binding covers it. *ret: "" when
 * there is no TEE.
 */
static int tee_evidence(const struct kbs_client_opts *o, const char *nonce, const json_t *jwk,
                        char **ret, char *err, size_t errlen)
{
	const char *root = o->tsm_root ? o->tsm_root : ATTEST_TSM_ROOT;
	struct tsm_result tr;
	uint8_t b0[48], rd[64];
	char terr[512], *b64;
	json_t *j;
	int r;

	*ret = NULL;
	/* No configfs-tsm: a vTPM-only guest; its evidence is the quote alone. */
	if (strcmp(root, "none") == 0 || (!o->tsm_root && access(root, F_OK) < 0)) {
		*ret = strdup("");
		return *ret ? 0 : attest_errf(err, errlen, -ENOMEM, "kbs: out of memory");
	}
	r = kbs_binding_digest(nonce, jwk, NULL, b0);
	if (r < 0)
		return attest_errf(err, errlen, r, "kbs: cannot compute the TEE report binding");
	memset(rd, 0, sizeof(rd));
	memcpy(rd, b0, sizeof(b0));
	/* A TEE that is there but does not report: fail closed, as any other evidence failure. */
	r = tsm_report(root, rd, &tr, terr, sizeof(terr));
	if (r < 0)
		return attest_errf(err, errlen, r, "kbs: TEE report: %s", terr);
	if (tr.platform == ATTEST_PLATFORM_TDX) {
		b64 = kbs_b64(tr.report, tr.len, false);
		j = b64 ? json_pack("{s:{s:s}}", "tdx", "quote", b64) : NULL;
		free(b64);
	} else {
		json_t *ar = snp_report_to_trustee(tr.report, tr.len);

		if (!ar) {
			tsm_result_clear(&tr);
			return attest_errf(err, errlen, -EBADMSG,
			                   "kbs: TEE report: the SNP report has reserved bits set "
			                   "(not expressible in Trustee's layout)");
		}
		/* No cert_chain: Trustee then fetches the VCEK from AMD's KDS itself. */
		j = ar ? json_pack("{s:{s:o, s:n}}", "snp", "attestation_report", ar, "cert_chain")
		       : NULL;
	}
	*ret = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	tsm_result_clear(&tr);
	return *ret ? 0 : attest_errf(err, errlen, -ENOMEM, "kbs: out of memory");
}

int kbs_fetch(const struct kbs_client_opts *o, const char *resource, uint8_t **ret, size_t *ret_len,
              struct kbs_timing *timing, char *err, size_t errlen)
{
	struct kbs_timing tm = {0};
	uint64_t t0 = now_us(), t1;
	CURL *c = NULL, *c2 = NULL;
	EVP_PKEY *eph = NULL;
	json_t *jwk = NULL, *ev = NULL, *att = NULL, *jwe = NULL, *tok = NULL;
	struct attest_tpm *tpm = NULL;
	struct vigil_error verr = {0};
	struct attest_pcr_sel sel;
	uint8_t binding[48], qd[64];
	size_t rd_len = o->report_data_len ? o->report_data_len : KBS_REPORT_DATA_DEFAULT;
	char *nonce = NULL, *body = NULL, *resp = NULL, *token = NULL, path[1024];
	char *additional = NULL;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (o->enroll && (r = kbs_enroll(o, err, errlen)) < 0)
		return r;
	if (o->sel.n)
		sel = o->sel;
	else
		attest_pcr_sel_default(&sel);
	c = handle_new(o);
	if (!c)
		return attest_errf(err, errlen, -ENOMEM, "kbs: curl_easy_init failed");
	r = do_auth(c, o, &nonce, &tm.http_us, err, errlen);
	if (r < 0)
		goto out;
	r = kbs_ephemeral_new(o->key_alg, &eph, &jwk);
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: cannot generate the ephemeral key");
		goto out;
	}
	r = tee_evidence(o, o->fault == KBS_FAULT_WRONG_NONCE ? "not-the-broker-nonce" : nonce, jwk,
	                 &additional, err, errlen);
	if (r < 0)
		goto out;
	if (o->fault == KBS_FAULT_WRONG_NONCE)
		r = kbs_binding_digest("not-the-broker-nonce", jwk, additional, binding);
	else
		r = kbs_binding_digest(nonce, jwk, additional, binding);
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: cannot compute the evidence binding");
		goto out;
	}
	t1 = now_us();
	r = attest_tpm_open(o->tcti, &tpm);
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: no vTPM at %s: no attestation, no key", o->tcti);
		goto out;
	}
	r = kbs_report_data(binding, rd_len, qd);
	if (r == 0)
		r = attest_tpm_evidence(tpm, o->ak_alg, &sel, qd, rd_len, o->log_path, &ev, &verr);
	else
		vigil_errorf(&verr, r, "bad report data length %zu", o->report_data_len);
	attest_tpm_close(tpm);
	tm.tpm_us = now_us() - t1;
	if (r < 0) {
		attest_errf(err, errlen, r, "kbs: cannot produce the TPM evidence: %s", verr.msg);
		goto out;
	}
	attest_evidence_firmware_log(ev, o->firmware_log ? o->firmware_log : ATTEST_FIRMWARE_LOG);
	if (o->fault == KBS_FAULT_TAMPER_LOG && tamper_log(ev) < 0) {
		r = attest_errf(err, errlen, -EINVAL,
		                "kbs: fault injection: no log to tamper with");
		goto out;
	}
	att = json_pack("{s:n, s:{s:s, s:O}, s:{s:O, s:s}}", "init-data", "runtime-data", "nonce",
	                nonce, "tee-pubkey", jwk, "tee-evidence", "primary_evidence", ev,
	                "additional_evidence", additional);
	body = att ? json_dumps(att, JSON_COMPACT) : NULL;
	if (!body) {
		r = attest_errf(err, errlen, -ENOMEM, "kbs: out of memory");
		goto out;
	}
	if (o->fault == KBS_FAULT_STALE)
		sleep((unsigned int)o->fault_arg);
	r = request(c, o, "/kbs/v0/attest", body, NULL, &resp, &tm.http_us, err, errlen);
	if (r == 0 && o->fault == KBS_FAULT_REPLAY) {
		free(resp);
		resp = NULL;
		r = request(c, o, "/kbs/v0/attest", body, NULL, &resp, &tm.http_us, err, errlen);
	}
	if (r < 0)
		goto out;
	tok = json_loads(resp, 0, NULL);
	if (!json_string_value(json_object_get(tok, "token"))) {
		r = attest_errf(err, errlen, -EPROTO,
		                "kbs: /kbs/v0/attest: no token in the response");
		goto out;
	}
	token = strdup(json_string_value(json_object_get(tok, "token")));
	free(resp);
	resp = NULL;
	snprintf(path, sizeof(path), "/kbs/v0/resource/%s", resource);
	if (o->fault == KBS_FAULT_OTHER_SESSION) {
		char *n2 = NULL;

		c2 = handle_new(o);
		r = c2 ? do_auth(c2, o, &n2, &tm.http_us, err, errlen) : -ENOMEM;
		free(n2);
		if (r == 0)
			r = request(c2, o, path, NULL, token, &resp, &tm.http_us, err, errlen);
	} else {
		r = request(c, o, path, NULL, token, &resp, &tm.http_us, err, errlen);
	}
	if (r < 0)
		goto out;
	jwe = json_loads(resp, 0, NULL);
	if (!json_is_object(jwe)) {
		r = attest_errf(err, errlen, -EPROTO, "kbs: %s: the response is not a JWE object",
		                path);
		goto out;
	}
	if (o->fault == KBS_FAULT_TAMPER_JWE) {
		char *ct = strdup(json_string_value(json_object_get(jwe, "ciphertext")) ?: "A");

		ct[0] = ct[0] == 'A' ? 'B' : 'A';
		json_object_set_new(jwe, "ciphertext", json_string(ct));
		free(ct);
	}
	{
		char jerr[256];

		r = kbs_jwe_decrypt(eph, jwe, ret, ret_len, jerr, sizeof(jerr));
		if (r < 0)
			attest_errf(err, errlen, r, "kbs: %s: %s", path, jerr);
	}
out:
	/* The ephemeral private key dies with this attestation (OpenSSL clears it on free). */
	EVP_PKEY_free(eph);
	if (resp)
		OPENSSL_cleanse(resp, strlen(resp));
	free(resp);
	free(body);
	free(nonce);
	free(token);
	free(additional);
	json_decref(jwk);
	json_decref(ev);
	json_decref(att);
	json_decref(jwe);
	json_decref(tok);
	curl_easy_cleanup(c);
	curl_easy_cleanup(c2);
	tm.total_us = now_us() - t0;
	if (timing)
		*timing = tm;
	return r;
}
