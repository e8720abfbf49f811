/* vTPM evidence: vigil's persistent attestation key, the EK, TPM2_Quote over PCRs 0-23, and the
 * Trustee `tpm` evidence object. Every transient ESAPI handle is flushed on every path. */
#include "attest/internal.h"
#include "attest/kbs.h"
#include "lib/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

struct attest_ak {
	struct attest_tpm *t;
	ESYS_TR handle; /* the persistent object's ESYS_TR: closed, never flushed */
	TPM2B_PUBLIC pub;
};

/* tpm.c's mapping; err gets the command and the failure's kind in words. */
static int qrc(TSS2_RC rc, const char *what, struct vigil_error *err)
{
	int r = attest_tpm_rc(rc, what);

	return r < 0 ? vigil_errorf(err, r, "tpm: %s", attest_tpm_strerror(r)) : 0;
}

#define AK_ATTRS                                                                                   \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |                    \
	 TPMA_OBJECT_SIGN_ENCRYPT)

/* A restricted signing key: it signs only what the TPM itself produced (quotes), never a
 * digest a caller chose that starts with TPM_GENERATED_VALUE. */
static void ak_template(enum attest_ak_alg alg, TPM2B_PUBLIC *p)
{
	memset(p, 0, sizeof(*p));
	p->publicArea.nameAlg = TPM2_ALG_SHA256;
	p->publicArea.objectAttributes = AK_ATTRS;
	if (alg == ATTEST_AK_RSA) {
		p->publicArea.type = TPM2_ALG_RSA;
		p->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		p->publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p->publicArea.parameters.rsaDetail.keyBits = 2048;
	} else {
		p->publicArea.type = TPM2_ALG_ECC;
		p->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	}
}

static bool ak_matches(const TPM2B_PUBLIC *p, enum attest_ak_alg alg)
{
	const TPMT_PUBLIC *a = &p->publicArea;

	if ((a->objectAttributes & AK_ATTRS) != AK_ATTRS || a->nameAlg != TPM2_ALG_SHA256)
		return false;
	if (alg == ATTEST_AK_RSA)
		return a->type == TPM2_ALG_RSA && a->parameters.rsaDetail.keyBits == 2048 &&
		       a->parameters.rsaDetail.scheme.scheme == TPM2_ALG_RSASSA;
	return a->type == TPM2_ALG_ECC && a->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
	       a->parameters.eccDetail.scheme.scheme == TPM2_ALG_ECDSA;
}

static int ak_open_locked(ESYS_CONTEXT *e, struct attest_ak *ak, enum attest_ak_alg alg,
                          struct vigil_error *err)
{
	uint32_t h = alg == ATTEST_AK_RSA ? ATTEST_AK_HANDLE_RSA : ATTEST_AK_HANDLE_ECC;
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION none = {0};
	TPM2B_PUBLIC tmpl, *pub = NULL;
	ESYS_TR tr = ESYS_TR_NONE, transient = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	rc = Esys_TR_FromTPMPublic(e, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	if (rc != TSS2_RC_SUCCESS) {
		/* Absent: create it once, in the owner hierarchy, and make it persistent. */
		ak_template(alg, &tmpl);
		r = qrc(Esys_CreatePrimary(e, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		                           ESYS_TR_NONE, &sens, &tmpl, &outside, &none, &transient,
		                           NULL, NULL, NULL, NULL),
		        "CreatePrimary(AK)", err);
		if (r == 0)
			r = qrc(Esys_EvictControl(e, ESYS_TR_RH_OWNER, transient, ESYS_TR_PASSWORD,
			                          ESYS_TR_NONE, ESYS_TR_NONE, h, &tr),
			        "EvictControl(AK)", err);
		if (transient != ESYS_TR_NONE)
			Esys_FlushContext(e, transient);
		if (r < 0)
			return r;
	}
	r = qrc(Esys_ReadPublic(e, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL),
	        "ReadPublic(AK)", err);
	if (r == 0 && !ak_matches(pub, alg)) {
		r = vigil_errorf(err, -EKEYREJECTED,
		                 "tpm: the object at 0x%08x is not a restricted %s signing key", h,
		                 alg == ATTEST_AK_RSA ? "RSA-2048 RSASSA" : "P-256 ECDSA");
	}
	if (r == 0) {
		ak->pub = *pub;
		ak->handle = tr;
	} else {
		Esys_TR_Close(e, &tr);
	}
	Esys_Free(pub);
	return r;
}

int attest_ak_open(struct attest_tpm *t, enum attest_ak_alg alg, struct attest_ak **ret,
                   struct vigil_error *err)
{
	struct attest_ak *ak = calloc(1, sizeof(*ak));
	ESYS_CONTEXT *e;
	int r;

	if (!ak)
		return vigil_errorf(err, -ENOMEM, "tpm: out of memory");
	ak->t = t;
	ak->handle = ESYS_TR_NONE;
	e = attest_tpm_esys_lock(t);
	r = ak_open_locked(e, ak, alg, err);
	attest_tpm_esys_unlock(t);
	if (r < 0) {
		free(ak);
		return r;
	}
	*ret = ak;
	return 0;
}

void attest_ak_close(struct attest_ak *ak)
{
	ESYS_CONTEXT *e;

	if (!ak)
		return;
	e = attest_tpm_esys_lock(ak->t);
	if (ak->handle != ESYS_TR_NONE)
		Esys_TR_Close(e, &ak->handle); /* persistent: release the ESYS_TR only */
	attest_tpm_esys_unlock(ak->t);
	free(ak);
}

/* DER SPKI of a TPM public area (RSA or ECC P-256). */
int attest_pub_spki(const TPM2B_PUBLIC *p, uint8_t *der, size_t *len)
{
	const TPMT_PUBLIC *a = &p->publicArea;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *out = NULL;
	uint8_t point[65];
	int k = -1, ok = 0;

	if (!bld)
		return -ENOMEM;
	if (a->type == TPM2_ALG_RSA) {
		uint32_t exp =
		    a->parameters.rsaDetail.exponent ? a->parameters.rsaDetail.exponent : 65537;

		n = BN_bin2bn(a->unique.rsa.buffer, a->unique.rsa.size, NULL);
		e = BN_new();
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		ok = n && e && ctx && BN_set_word(e, exp) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	} else if (a->type == TPM2_ALG_ECC && a->unique.ecc.x.size == 32 &&
	           a->unique.ecc.y.size == 32) {
		point[0] = 4;
		memcpy(point + 1, a->unique.ecc.x.buffer, 32);
		memcpy(point + 33, a->unique.ecc.y.buffer, 32);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		ok = ctx &&
		     OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
		                                     0) &&
		     OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
		                                      sizeof(point));
	}
	if (ok && (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0)
		k = i2d_PUBKEY(pkey, &out);
	if (k > 0 && (size_t)k <= *len) {
		memcpy(der, out, (size_t)k);
		*len = (size_t)k;
	}
	OPENSSL_free(out);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return k > 0 && (size_t)k == *len ? 0 : -EKEYREJECTED;
}

ESYS_TR attest_ak_handle(const struct attest_ak *ak)
{
	return ak->handle;
}

struct attest_tpm *attest_ak_tpm(const struct attest_ak *ak)
{
	return ak->t;
}

int attest_ak_tpmt(const struct attest_ak *ak, uint8_t *buf, size_t *len)
{
	size_t off = 0;

	if (Tss2_MU_TPMT_PUBLIC_Marshal(&ak->pub.publicArea, buf, *len, &off) != TSS2_RC_SUCCESS)
		return -ENOBUFS;
	*len = off;
	return 0;
}

int attest_ak_spki(const struct attest_ak *ak, uint8_t *der, size_t *len)
{
	return attest_pub_spki(&ak->pub, der, len);
}

/* TCG EK credential profile, template L-1 (RSA 2048, policy A). */
static const uint8_t ek_policy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

void attest_ek_template(TPM2B_PUBLIC *t)
{
	TPM2B_PUBLIC tmpl = {0};

	tmpl.publicArea.type = TPM2_ALG_RSA;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes =
	    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
	    TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	tmpl.publicArea.authPolicy.size = 32;
	memcpy(tmpl.publicArea.authPolicy.buffer, ek_policy, 32);
	tmpl.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
	tmpl.publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
	tmpl.publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	tmpl.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	tmpl.publicArea.parameters.rsaDetail.keyBits = 2048;
	tmpl.publicArea.unique.rsa.size = 256;
	*t = tmpl;
}

int attest_ek_spki(struct attest_tpm *t, uint8_t *der, size_t *len, struct vigil_error *err)
{
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION none = {0};
	TPM2B_PUBLIC tmpl, *pub = NULL;
	ESYS_TR ek = ESYS_TR_NONE;
	ESYS_CONTEXT *e;
	int r;

	attest_ek_template(&tmpl);
	e = attest_tpm_esys_lock(t);
	r = qrc(Esys_CreatePrimary(e, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                           ESYS_TR_NONE, &sens, &tmpl, &outside, &none, &ek, &pub, NULL,
	                           NULL, NULL),
	        "CreatePrimary(EK)", err);
	if (ek != ESYS_TR_NONE)
		Esys_FlushContext(e, ek);
	attest_tpm_esys_unlock(t);
	if (r == 0 && (r = attest_pub_spki(pub, der, len)) < 0)
		vigil_errorf(err, r, "tpm: the EK's public key: %s", strerror(-r));
	Esys_Free(pub);
	return r;
}

int attest_ek_cert(struct attest_tpm *t, uint8_t **der, size_t *len, struct vigil_error *err)
{
	TPM2B_NV_PUBLIC *nvpub = NULL;
	TPM2B_MAX_NV_BUFFER *chunk = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	ESYS_CONTEXT *e;
	uint8_t *buf = NULL;
	size_t size = 0, off = 0;
	int r;

	e = attest_tpm_esys_lock(t);
	if (Esys_TR_FromTPMPublic(e, ATTEST_EK_CERT_NV_RSA, ESYS_TR_NONE, ESYS_TR_NONE,
	                          ESYS_TR_NONE, &nv) != TSS2_RC_SUCCESS) {
		attest_tpm_esys_unlock(t);
		return vigil_errorf(err, -ENOENT, "tpm: no EK certificate at NV index 0x%08x",
		                    ATTEST_EK_CERT_NV_RSA);
	}
	r = qrc(Esys_NV_ReadPublic(e, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL),
	        "NV_ReadPublic(EK cert)", err);
	if (r == 0) {
		size = nvpub->nvPublic.dataSize;
		buf = malloc(size ? size : 1);
		if (!buf)
			r = vigil_errorf(err, -ENOMEM, "tpm: out of memory");
	}
	while (r == 0 && off < size) {
		UINT16 n = (UINT16)(size - off > 1024 ? 1024 : size - off);

		/* The EK certificate index is readable with its own (empty) auth. */
		r = qrc(Esys_NV_Read(e, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
		                     (UINT16)off, &chunk),
		        "NV_Read(EK cert)", err);
		if (r == 0 && chunk->size != n)
			r = vigil_errorf(err, -EIO, "tpm: NV_Read(EK cert): %u bytes, not %u",
			                 (unsigned int)chunk->size, (unsigned int)n);
		if (r == 0)
			memcpy(buf + off, chunk->buffer, n);
		Esys_Free(chunk);
		chunk = NULL;
		off += n;
	}
	Esys_Free(nvpub);
	Esys_TR_Close(e, &nv);
	attest_tpm_esys_unlock(t);
	if (r < 0) {
		free(buf);
		return r;
	}
	*der = buf;
	*len = size;
	return 0;
}

/* --- PCR selections --- */

void attest_pcr_sel_default(struct attest_pcr_sel *s)
{
	s->n = 1;
	s->v[0].alg = TPM2_ALG_SHA256;
	s->v[0].mask = 0xffffff;
}

int attest_pcr_sel_parse(const char *spec, struct attest_pcr_sel *ret)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	memset(ret, 0, sizeof(*ret));
	for (tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		char *colon = strchr(tok, ':');
		unsigned int a, b;
		uint16_t alg;
		int used = 0;

		if (!colon || ret->n == 4)
			return -EINVAL;
		*colon = 0;
		alg = attest_alg_from_name(tok);
		if (!alg)
			return -EINVAL;
		if (sscanf(colon + 1, "%u-%u%n", &a, &b, &used) != 2 || colon[1 + used] || a > b ||
		    b > 23)
			return -EINVAL;
		ret->v[ret->n].alg = alg;
		ret->v[ret->n].mask = (uint32_t)((1ull << (b + 1)) - (1ull << a));
		ret->n++;
	}
	return ret->n ? 0 : -EINVAL;
}

static void sel_to_tpm(const struct attest_pcr_sel *s, TPML_PCR_SELECTION *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->count = (UINT32)s->n;
	for (i = 0; i < s->n; i++) {
		t->pcrSelections[i].hash = s->v[i].alg;
		t->pcrSelections[i].sizeofSelect = 3;
		t->pcrSelections[i].pcrSelect[0] = (uint8_t)s->v[i].mask;
		t->pcrSelections[i].pcrSelect[1] = (uint8_t)(s->v[i].mask >> 8);
		t->pcrSelections[i].pcrSelect[2] = (uint8_t)(s->v[i].mask >> 16);
	}
}

/* The values of the selection, in the order a quote digests them (selection order, then
 * register number). PCR_Read returns at most 8 digests a call: read one register at a time. */
static int read_sel(ESYS_CONTEXT *e, const struct attest_pcr_sel *s, struct attest_quote *q,
                    struct vigil_error *err)
{
	size_t i;
	unsigned int pcr;

	q->npcrs = 0;
	for (i = 0; i < s->n; i++) {
		for (pcr = 0; pcr < 24; pcr++) {
			TPML_PCR_SELECTION sel = {.count = 1};
			TPML_PCR_SELECTION *sel_out = NULL;
			TPML_DIGEST *values = NULL;
			UINT32 counter;
			int r;

			if (!(s->v[i].mask & (1u << pcr)))
				continue;
			sel.pcrSelections[0].hash = s->v[i].alg;
			sel.pcrSelections[0].sizeofSelect = 3;
			sel.pcrSelections[0].pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
			r = qrc(Esys_PCR_Read(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel,
			                      &counter, &sel_out, &values),
			        "PCR_Read", err);
			if (r == 0 && (values->count != 1 || values->digests[0].size > 64 ||
			               q->npcrs == sizeof(q->pcrs) / sizeof(q->pcrs[0])))
				r = vigil_errorf(err, -ENODATA, /* bank not allocated */
				                 "tpm: PCR_Read: no %s value for PCR %u",
				                 attest_alg_name(s->v[i].alg)
				                     ? attest_alg_name(s->v[i].alg)
				                     : "unknown bank",
				                 pcr);
			if (r == 0) {
				struct attest_digest *d = &q->pcrs[q->npcrs++];

				d->alg = s->v[i].alg;
				d->len = (uint8_t)values->digests[0].size;
				memcpy(d->d, values->digests[0].buffer, d->len);
			}
			Esys_Free(sel_out);
			Esys_Free(values);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* H_sha256(concatenated values): what the quote's pcrDigest must be (the AK's scheme hash). */
static void pcr_digest(const struct attest_quote *q, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t i;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (i = 0; i < q->npcrs; i++)
		EVP_DigestUpdate(md, q->pcrs[i].d, q->pcrs[i].len);
	EVP_DigestFinal_ex(md, out, NULL);
	EVP_MD_CTX_free(md);
}

int attest_quote(struct attest_tpm *t, struct attest_ak *ak, const struct attest_pcr_sel *sel,
                 const uint8_t *qd, size_t qd_len, struct attest_quote *ret,
                 struct vigil_error *err)
{
	TPM2B_DATA data = {.size = (UINT16)qd_len};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL}; /* the key's own */
	TPML_PCR_SELECTION tsel;
	TPM2B_ATTEST *quoted = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TPMS_ATTEST att;
	ESYS_CONTEXT *e;
	uint8_t want[32], buf[1024];
	size_t off;
	int r = 0, tries;

	memset(ret, 0, sizeof(*ret));
	if (qd_len > sizeof(data.buffer))
		return vigil_errorf(err, -EINVAL,
		                    "tpm: Quote: %zu bytes of qualifying data, at most %zu", qd_len,
		                    sizeof(data.buffer));
	memcpy(data.buffer, qd, qd_len);
	sel_to_tpm(sel, &tsel);
	e = attest_tpm_esys_lock(t);
	for (tries = 0; tries < 3; tries++) {
		Esys_Free(quoted);
		Esys_Free(sig);
		quoted = NULL;
		sig = NULL;
		r = qrc(Esys_Quote(e, ak->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
		                   &data, &scheme, &tsel, &quoted, &sig),
		        "Quote", err);
		if (r == 0)
			r = read_sel(e, sel, ret, err);
		if (r < 0)
			break;
		/* A register extended between the quote and the read: quote again. */
		off = 0;
		memset(&att, 0, sizeof(att));
		if (Tss2_MU_TPMS_ATTEST_Unmarshal(quoted->attestationData, quoted->size, &off,
		                                  &att) != TSS2_RC_SUCCESS) {
			r = vigil_errorf(err, -EBADMSG,
			                 "tpm: Quote: cannot unmarshal the TPMS_ATTEST");
			break;
		}
		pcr_digest(ret, want);
		if (att.attested.quote.pcrDigest.size == 32 &&
		    memcmp(att.attested.quote.pcrDigest.buffer, want, 32) == 0)
			break;
		r = vigil_errorf(
		    err, -EAGAIN,
		    "tpm: Quote: the PCRs kept changing between the quote and the read");
	}
	attest_tpm_esys_unlock(t);
	off = 0;
	if (r == 0 &&
	    Tss2_MU_TPMT_SIGNATURE_Marshal(sig, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		r = vigil_errorf(err, -EIO, "tpm: Quote: cannot marshal the TPMT_SIGNATURE");
	if (r == 0) {
		ret->message = malloc(quoted->size);
		ret->signature = malloc(off);
		if (!ret->message || !ret->signature)
			r = vigil_errorf(err, -ENOMEM, "tpm: out of memory");
	}
	if (r == 0) {
		memcpy(ret->message, quoted->attestationData, quoted->size);
		ret->message_len = quoted->size;
		memcpy(ret->signature, buf, off);
		ret->signature_len = off;
	}
	Esys_Free(quoted);
	Esys_Free(sig);
	if (r < 0)
		attest_quote_clear(ret);
	return r;
}

void attest_quote_clear(struct attest_quote *q)
{
	free(q->message);
	free(q->signature);
	memset(q, 0, sizeof(*q));
}

/* The whole file (under 64 MiB, empty allowed), or NULL. */
static uint8_t *slurp(const char *path, size_t *len)
{
	char *buf;

	return vigil_read_file(path, (64 << 20) - 1, VIGIL_READ_ALLOW_EMPTY, &buf, len) < 0
	           ? NULL
	           : (uint8_t *)buf;
}

static json_t *jb64(const void *d, size_t n)
{
	char *s = kbs_b64(d, n, false);
	json_t *v = s ? json_string(s) : NULL;

	free(s);
	return v;
}

int attest_evidence_firmware_log(json_t *ev, const char *path)
{
	/* securityfs reports a size of 0: read to EOF, up to a bound. */
	size_t cap = 1u << 16, len = 0, max = 4u << 20;
	uint8_t *buf = NULL, *nb;
	int fd;

	if (!path || strcmp(path, "none") == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no firmware log (direct kernel boot, no TPM driver): nothing to send */
	for (;;) {
		ssize_t n;

		if (!buf || len == cap) {
			if (buf)
				cap *= 2;
			if (cap > max || !(nb = realloc(buf, cap))) {
				len = 0;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			len = 0;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	/* Unreadable or oversized: sent without it; the broker decides whether it needs it. */
	if (len)
		json_object_set_new(ev, "eventlog", jb64(buf, len));
	free(buf);
	return len ? 1 : 0;
}

int kbs_report_data(const uint8_t binding[48], size_t len, uint8_t out[64])
{
	if (len != 32 && len != 64)
		return -EINVAL;
	memset(out, 0, 64);
	memcpy(out, binding, len == 32 ? 32 : 48);
	return 0;
}

int attest_tpm_evidence(struct attest_tpm *t, enum attest_ak_alg alg,
                        const struct attest_pcr_sel *sel, const uint8_t *qd, size_t qd_len,
                        const char *log_path, json_t **ret, struct vigil_error *err)
{
	struct attest_ak *ak = NULL;
	struct attest_quote q;
	uint8_t spki[1024];
	size_t spki_len = sizeof(spki), i;
	json_t *pcrs = NULL, *ev = NULL;
	int r;

	r = attest_ak_open(t, alg, &ak, err);
	if (r < 0)
		return r;
	r = attest_ak_spki(ak, spki, &spki_len);
	if (r < 0)
		vigil_errorf(err, r, "tpm: the AK's public key: %s", strerror(-r));
	else
		r = attest_quote(t, ak, sel, qd, qd_len, &q, err);
	attest_ak_close(ak);
	if (r < 0)
		return r;
	pcrs = json_array();
	for (i = 0; pcrs && i < q.npcrs; i++) {
		char hex[129];

		kbs_hex(q.pcrs[i].d, q.pcrs[i].len, hex);
		json_array_append_new(pcrs, json_string(hex));
	}
	ev = json_pack("{s:o, s:{s:o, s:o, s:o}}", "ak_public", jb64(spki, spki_len), "tpm_quote",
	               "message", jb64(q.message, q.message_len), "signature",
	               jb64(q.signature, q.signature_len), "pcrs", pcrs);
	attest_quote_clear(&q);
	if (!ev)
		return vigil_errorf(err, -ENOMEM, "tpm: out of memory");
	if (log_path) {
		size_t len;
		uint8_t *log = slurp(log_path, &len);

		if (!log) {
			json_decref(ev);
			return vigil_errorf(err, -ENOENT, "cannot read the measurement log %s",
			                    log_path);
		}
		json_object_set_new(ev, "vigil_measurement_log", jb64(log, len));
		free(log);
	}
	*ret = ev;
	return 0;
}
