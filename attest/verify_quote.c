/* Verifying vTPM evidence: the quote (structure, qualifying data, exact PCR selection, PCR digest,
 * signature) and the runtime measurement log replayed against the quoted PCR 23. */
#include "attest/kbs.h"
#include "attest/internal.h"

#include <errno.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

/* Exactly one selection: the sha256 bank, registers 0-23, each once. */
static int check_selection(const TPML_PCR_SELECTION *s, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < s->count; i++)
		for (j = i + 1; j < s->count; j++)
			if (s->pcrSelections[i].hash == s->pcrSelections[j].hash)
				return attest_errf(
				    err, errlen, -EPERM,
				    "quote: PCR selection names bank 0x%x twice (duplicated "
				    "or reordered registers)",
				    s->pcrSelections[i].hash);
	if (s->count != 1)
		return attest_errf(err, errlen, -EPERM,
		                   "quote: PCR selection has %u banks, want exactly sha256:0-23",
		                   s->count);
	if (s->pcrSelections[0].hash != TPM2_ALG_SHA256)
		return attest_errf(err, errlen, -EPERM,
		                   "quote: PCR selection is bank 0x%x, want sha256 (0xb)",
		                   s->pcrSelections[0].hash);
	if (s->pcrSelections[0].sizeofSelect != 3 || s->pcrSelections[0].pcrSelect[0] != 0xff ||
	    s->pcrSelections[0].pcrSelect[1] != 0xff || s->pcrSelections[0].pcrSelect[2] != 0xff)
		return attest_errf(
		    err, errlen, -EPERM,
		    "quote: PCR selection is not registers 0-23 exactly (select %u bytes "
		    "%02x%02x%02x)",
		    s->pcrSelections[0].sizeofSelect, s->pcrSelections[0].pcrSelect[0],
		    s->pcrSelections[0].pcrSelect[1], s->pcrSelections[0].pcrSelect[2]);
	return 0;
}

static int verify_sig(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t msg_len,
                      const uint8_t *sig, size_t sig_len, char *err, size_t errlen)
{
	const unsigned char *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)spki_len);
	TPMT_SIGNATURE s;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	const uint8_t *sbytes;
	size_t off = 0, slen;
	int r = -EKEYREJECTED, n;

	memset(&s, 0, sizeof(s));
	if (!k || p != spki + spki_len)
		return attest_errf(err, errlen, -EINVAL,
		                   "ak_public: not a DER SubjectPublicKeyInfo");
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sig, sig_len, &off, &s) != TSS2_RC_SUCCESS ||
	    off != sig_len) {
		r = attest_errf(err, errlen, -EINVAL, "tpm_quote.signature: not a TPMT_SIGNATURE");
		goto out;
	}
	if (EVP_PKEY_is_a(k, "RSA")) {
		if (s.sigAlg != TPM2_ALG_RSASSA || s.signature.rsassa.hash != TPM2_ALG_SHA256) {
			r = attest_errf(err, errlen, -EKEYREJECTED,
			                "tpm_quote.signature: scheme 0x%x, want RSASSA-SHA256",
			                s.sigAlg);
			goto out;
		}
		sbytes = s.signature.rsassa.sig.buffer;
		slen = s.signature.rsassa.sig.size;
	} else if (EVP_PKEY_is_a(k, "EC")) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *br, *bs;

		if (s.sigAlg != TPM2_ALG_ECDSA || s.signature.ecdsa.hash != TPM2_ALG_SHA256 ||
		    !es) {
			ECDSA_SIG_free(es);
			r = attest_errf(err, errlen, -EKEYREJECTED,
			                "tpm_quote.signature: scheme 0x%x, want ECDSA-SHA256",
			                s.sigAlg);
			goto out;
		}
		br = BN_bin2bn(s.signature.ecdsa.signatureR.buffer,
		               s.signature.ecdsa.signatureR.size, NULL);
		bs = BN_bin2bn(s.signature.ecdsa.signatureS.buffer,
		               s.signature.ecdsa.signatureS.size, NULL);
		if (!br || !bs || !ECDSA_SIG_set0(es, br, bs)) {
			BN_free(br);
			BN_free(bs);
			ECDSA_SIG_free(es);
			goto out;
		}
		n = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (n <= 0)
			goto out;
		sbytes = der;
		slen = (size_t)n;
	} else {
		r = attest_errf(err, errlen, -EKEYREJECTED, "ak_public: neither RSA nor EC");
		goto out;
	}
	md = EVP_MD_CTX_new();
	if (md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k) > 0 &&
	    (!EVP_PKEY_is_a(k, "RSA") ||
	     EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0) &&
	    EVP_DigestVerify(md, sbytes, slen, msg, msg_len) == 1)
		r = 0;
	else
		r = attest_errf(err, errlen, -EKEYREJECTED,
		                "quote: the signature does not verify under the AK");
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return r;
}

int quote_verify(const uint8_t *ak_spki, size_t ak_len, const uint8_t *msg, size_t msg_len,
                 const uint8_t *sig, size_t sig_len, const json_t *pcrs_hex, const uint8_t *qd,
                 size_t qd_len, struct quote_verified *ret, char *err, size_t errlen)
{
	TPMS_ATTEST a;
	EVP_MD_CTX *md;
	uint8_t d[32];
	size_t off = 0, i;
	int r;

	memset(&a, 0, sizeof(a));
	/* The signature first: nothing unsigned is worth parsing further. */
	r = verify_sig(ak_spki, ak_len, msg, msg_len, sig, sig_len, err, errlen);
	if (r < 0)
		return r;
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(msg, msg_len, &off, &a) != TSS2_RC_SUCCESS ||
	    off != msg_len)
		return attest_errf(err, errlen, -EINVAL, "tpm_quote.message: not a TPMS_ATTEST");
	if (a.magic != TPM2_GENERATED_VALUE || a.type != TPM2_ST_ATTEST_QUOTE)
		return attest_errf(
		    err, errlen, -EINVAL,
		    "tpm_quote.message: magic 0x%x type 0x%x, not a TPM-generated quote", a.magic,
		    a.type);
	if (a.extraData.size != qd_len || memcmp(a.extraData.buffer, qd, qd_len) != 0)
		return attest_errf(
		    err, errlen, -EPERM,
		    "quote: qualifying data is not the nonce binding (stale or replayed "
		    "nonce, or another key)");
	r = check_selection(&a.attested.quote.pcrSelect, err, errlen);
	if (r < 0)
		return r;
	if (!json_is_array(pcrs_hex) || json_array_size(pcrs_hex) != KBS_NPCRS)
		return attest_errf(err, errlen, -EINVAL, "tpm_quote.pcrs: want %d hex values",
		                   KBS_NPCRS);
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (i = 0; i < KBS_NPCRS; i++) {
		const char *h = json_string_value(json_array_get(pcrs_hex, i));

		if (!h || kbs_unhex(h, ret->pcr[i], 32) < 0) {
			EVP_MD_CTX_free(md);
			return attest_errf(err, errlen, -EINVAL,
			                   "tpm_quote.pcrs[%zu]: not 64 lowercase hex digits", i);
		}
		EVP_DigestUpdate(md, ret->pcr[i], 32);
	}
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	if (a.attested.quote.pcrDigest.size != 32 ||
	    memcmp(a.attested.quote.pcrDigest.buffer, d, 32) != 0)
		return attest_errf(err, errlen, -EPERM,
		                   "quote: tpm_quote.pcrs do not hash to the quoted PCR digest");
	ret->clock = a.clockInfo.clock;
	ret->reset_count = a.clockInfo.resetCount;
	ret->restart_count = a.clockInfo.restartCount;
	return 0;
}

/* --- the measurement log's claims --- */

struct claims_ctx {
	struct log_claims *c;
	char *err;
	size_t errlen;
};

static int claim_one(const struct measure_entry *e, void *arg)
{
	struct claims_ctx *x = arg;
	struct log_claims *c = x->c;
	json_t *o;
	const char *s;
	size_t i, j;

	c->records++;
	if (strcmp(e->content_type, "vigil/audit-key") == 0) {
		c->checkpoint_key = true;
		snprintf(c->audit_vkey, sizeof(c->audit_vkey), "%.*s", (int)e->content_len,
		         e->content);
		return 0;
	}
	if (strcmp(e->content_type, "vigil/audit-checkpoint") == 0) {
		if (e->content_len >= sizeof(c->checkpoint_note)) {
			attest_errf(x->err, x->errlen, 0,
			            "log record %llu: checkpoint note too long",
			            (unsigned long long)e->recnum);
			return -E2BIG;
		}
		memcpy(c->checkpoint_note, e->content, e->content_len);
		c->checkpoint_note[e->content_len] = 0;
		return 0;
	}
	if (strcmp(e->content_type, ATTEST_CT_START) != 0 &&
	    strcmp(e->content_type, ATTEST_CT_BUNDLE) != 0)
		return 0;
	o = json_loadb(e->content, e->content_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		attest_errf(x->err, x->errlen, 0, "log record %llu: %s content is not JSON",
		            (unsigned long long)e->recnum, e->content_type);
		return -EINVAL;
	}
	if (strcmp(e->content_type, ATTEST_CT_START) == 0) {
		s = json_string_value(json_object_get(o, "vigild_sha256"));
		snprintf(c->vigild_sha256, sizeof(c->vigild_sha256), "%s", s ? s : "");
	} else {
		const char *name = json_string_value(json_object_get(o, "policy"));
		json_t *signers = json_object_get(o, "signers"), *sv;

		if (!name || !json_is_integer(json_object_get(o, "serial"))) {
			json_decref(o);
			attest_errf(x->err, x->errlen, 0,
			            "log record %llu: bundle record without policy/serial",
			            (unsigned long long)e->recnum);
			return -EINVAL;
		}
		for (i = 0; i < c->n_policies; i++)
			if (strcmp(c->policy[i].name, name) == 0)
				break;
		if (i == KBS_MAX_POLICIES) {
			json_decref(o);
			attest_errf(x->err, x->errlen, 0, "log: more than %d policy names",
			            KBS_MAX_POLICIES);
			return -E2BIG;
		}
		if (i == c->n_policies)
			c->n_policies++;
		memset(&c->policy[i], 0, sizeof(c->policy[i]));
		snprintf(c->policy[i].name, sizeof(c->policy[i].name), "%s", name);
		c->policy[i].serial = (uint64_t)json_integer_value(json_object_get(o, "serial"));
		s = json_string_value(json_object_get(o, "bundle_sha256"));
		snprintf(c->policy[i].bundle_sha256, sizeof(c->policy[i].bundle_sha256), "%s",
		         s ? s : "");
		json_array_foreach(signers, j, sv)
		{
			if (json_is_string(sv) && c->policy[i].n_signers < 4)
				snprintf(c->policy[i].signers[c->policy[i].n_signers++], 65, "%s",
				         json_string_value(sv));
		}
	}
	json_decref(o);
	return 0;
}

int log_claims_from_buf(const void *buf, size_t len, const uint8_t pcr23[32],
                        struct log_claims *ret, char *err, size_t errlen)
{
	struct measure_replay rp;
	struct claims_ctx x = {.c = ret, .err = err, .errlen = errlen};
	char path[64];
	size_t i;
	int fd, r;
	bool found = false;

	memset(ret, 0, sizeof(*ret));
	fd = memfd_create("vigil-measurements", MFD_CLOEXEC);
	if (fd < 0)
		return attest_errf(err, errlen, -errno, "log: memfd_create: %s", strerror(errno));
	if (write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		return attest_errf(err, errlen, -EIO, "log: cannot buffer it");
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = measure_replay_strict(path, true, &rp, err, errlen);
	if (r == 0 && rp.pcr != 23)
		r = attest_errf(err, errlen, -EPERM, "log: extends PCR %d, not 23", rp.pcr);
	for (i = 0; r == 0 && i < rp.pcr_banks.n; i++) {
		if (rp.pcr_banks.v[i].alg != TPM2_ALG_SHA256)
			continue;
		found = true;
		if (memcmp(rp.pcr_banks.v[i].d, pcr23, 32) != 0)
			r = attest_errf(
			    err, errlen, -EPERM,
			    "log: replay does not reproduce the quoted PCR 23 (tampered, "
			    "truncated or another log)");
	}
	if (r == 0 && !found)
		r = attest_errf(err, errlen, -EPERM,
		                "log: no sha256 digests to replay against PCR 23");
	if (r == 0) {
		r = measure_log_read(path, claim_one, &x, err, errlen);
		if (r > 0)
			r = -EINVAL;
	}
	close(fd);
	/* The "/proc/self/fd/N" name in the replay's messages means nothing to a reader. */
	if (r < 0) {
		char *p = strstr(err, path);

		if (p && strlen(path) >= 3) {
			memmove(p + 3, p + strlen(path), strlen(p + strlen(path)) + 1);
			memcpy(p, "log", 3);
		}
	}
	return r;
}
