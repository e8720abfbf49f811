/* vTPM backend: tpm2-tss ESAPI through a tctildr TCTI (device, swtpm); every call mapped once. */
#include "attest/attest.h"
#include "attest/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

struct attest_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	/* An ESAPI context runs one command at a time; the audit writer thread extends too. */
	pthread_mutex_t lock;
	/* Banks of a PCR vigil cannot hash, left unextended: for the caller to tell once. */
	char notice[160];
};

/* The last failure's command and response code, for attest_tpm_strerror (never printed here). */
static __thread struct {
	int r;
	char what[96];
} tpm_last;

static int tpm_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tpm_fail(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tpm_last.what, sizeof(tpm_last.what), fmt, ap);
	va_end(ap);
	tpm_last.r = r;
	return r;
}

/*
 * The one error mapping, keeping the failure's kind: a missing handle or NV index is
 * ATTEST_TPM_BAD_HANDLE (callers expect it), a TCTI error ATTEST_TPM_UNREACHABLE, and a command
 * the TPM answered with an error ATTEST_TPM_REFUSED.
 */
static int tpm_rc(TSS2_RC rc, const char *what)
{
	TSS2_RC base = rc & 0xffff;

	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if ((base & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_HANDLE)
		return tpm_fail(-ATTEST_TPM_BAD_HANDLE, "%s: 0x%x", what, rc);
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
		return tpm_fail(-ATTEST_TPM_UNREACHABLE, "%s: TCTI error 0x%x", what, rc);
	return tpm_fail(-ATTEST_TPM_REFUSED, "%s: response code 0x%x", what, rc);
}

int attest_tpm_rc(uint32_t rc, const char *what)
{
	return tpm_rc(rc, what);
}

const char *attest_tpm_strerror(int r)
{
	static __thread char buf[160];
	const char *kind;

	switch (r) {
	case -ATTEST_TPM_UNREACHABLE:
		kind = "TPM unreachable";
		break;
	case -ATTEST_TPM_REFUSED:
		kind = "command refused by the TPM";
		break;
	case -ATTEST_TPM_BAD_HANDLE:
		kind = "no such TPM handle or NV index";
		break;
	default:
		return strerror(-r);
	}
	if (tpm_last.r == r && *tpm_last.what)
		snprintf(buf, sizeof(buf), "%s (%s)", kind, tpm_last.what);
	else
		snprintf(buf, sizeof(buf), "%s", kind);
	return buf;
}

int attest_tpm_open(const char *tcti, struct attest_tpm **ret)
{
	struct attest_tpm *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	/* Errors are reported once, by tpm_rc; tss2's own log would repeat them (TSS2_LOG
	 * overrides). */
	setenv("TSS2_LOG", "all+none", 0);
	/* Unreachable is the caller's one line to report (it names the TCTI). */
	r = Tss2_TctiLdr_Initialize(tcti, &t->tcti) == TSS2_RC_SUCCESS
	        ? 0
	        : tpm_fail(-ATTEST_TPM_UNREACHABLE, "Tss2_TctiLdr_Initialize");
	if (r == 0)
		r = tpm_rc(Esys_Initialize(&t->esys, t->tcti, NULL), "Esys_Initialize");
	if (r < 0) {
		attest_tpm_close(t);
		return r;
	}
	*ret = t;
	return 0;
}

int attest_tpm_open_err(const char *tcti, struct attest_tpm **ret, struct vigil_error *err)
{
	int r = attest_tpm_open(tcti, ret);

	return r < 0 ? vigil_errorf(err, r, "cannot open the TPM through '%s': %s", tcti,
	                            attest_tpm_strerror(r))
	             : 0;
}

void attest_tpm_close(struct attest_tpm *t)
{
	if (!t)
		return;
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void select_pcr(TPMS_PCR_SELECTION *s, uint16_t alg, unsigned int pcr)
{
	memset(s, 0, sizeof(*s));
	s->hash = alg;
	s->sizeofSelect = 3;
	s->pcrSelect[pcr / 8] = (uint8_t)(1u << (pcr % 8));
}

static int tpm_banks_unlocked(struct attest_tpm *t, unsigned int pcr, uint16_t *algs, size_t *n)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	size_t i, k = 0, nskipped = 0;
	char skipped[64] = "";
	int r;

	if (pcr > 23)
		return -EINVAL;
	r = tpm_rc(Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
	                              TPM2_CAP_PCRS, 0, 1, &more, &cap),
	           "GetCapability(PCRS)");
	if (r < 0)
		return r;
	for (i = 0; i < cap->data.assignedPCR.count && k < ATTEST_MAX_BANKS; i++) {
		const TPMS_PCR_SELECTION *s = &cap->data.assignedPCR.pcrSelections[i];

		if (pcr / 8 >= s->sizeofSelect || !(s->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
			continue;
		if (!attest_alg_name(s->hash)) {
			/* A bank we cannot hash stays unextended; the caller says so rather than
			 * fail (attest_tpm_notice). */
			size_t used = strlen(skipped);

			if (used + 10 < sizeof(skipped))
				snprintf(skipped + used, sizeof(skipped) - used, "%s0x%x",
				         used ? ", " : "", s->hash);
			nskipped++;
			continue;
		}
		algs[k++] = s->hash;
	}
	Esys_Free(cap);
	if (nskipped)
		snprintf(t->notice, sizeof(t->notice),
		         "tpm: PCR %u bank%s %s not supported, left unextended", pcr,
		         nskipped > 1 ? "s" : "", skipped);
	*n = k;
	return k ? 0 : -ENOTSUP;
}

static int tpm_extend_unlocked(struct attest_tpm *t, unsigned int pcr,
                               const struct attest_digests *d)
{
	TPML_DIGEST_VALUES v = {.count = (UINT32)d->n};
	size_t i;

	for (i = 0; i < d->n; i++) {
		v.digests[i].hashAlg = d->v[i].alg;
		memcpy(&v.digests[i].digest, d->v[i].d, d->v[i].len);
	}
	return tpm_rc(Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                              ESYS_TR_NONE, &v),
	              "PCR_Extend");
}

static int tpm_read_unlocked(struct attest_tpm *t, unsigned int pcr, uint16_t alg,
                             struct attest_digest *out)
{
	TPML_PCR_SELECTION sel = {.count = 1};
	TPML_PCR_SELECTION *sel_out = NULL;
	TPML_DIGEST *values = NULL;
	UINT32 counter;
	int r;

	select_pcr(&sel.pcrSelections[0], alg, pcr);
	r = tpm_rc(Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
	                         &sel_out, &values),
	           "PCR_Read");
	if (r == 0 && (values->count != 1 || values->digests[0].size > ATTEST_MAX_DIGEST))
		r = -ENOENT; /* bank not allocated */
	if (r == 0) {
		out->alg = alg;
		out->len = (uint8_t)values->digests[0].size;
		memcpy(out->d, values->digests[0].buffer, out->len);
	}
	Esys_Free(sel_out);
	Esys_Free(values);
	return r;
}

static int tpm_reset_unlocked(struct attest_tpm *t, unsigned int pcr)
{
	return tpm_rc(Esys_PCR_Reset(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                             ESYS_TR_NONE),
	              "PCR_Reset");
}

/* The ESYS_TR of an NV index, closed by the caller on every path. */
static int nv_handle(struct attest_tpm *t, uint32_t index, ESYS_TR *ret)
{
	return tpm_rc(
	    Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret),
	    "TR_FromTPMPublic(NV)");
}

static int tpm_nv_read_unlocked(struct attest_tpm *t, uint32_t index, void *buf, size_t len)
{
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	int r;

	r = nv_handle(t, index, &nv);
	if (r < 0)
		return r;
	r = tpm_rc(Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                        ESYS_TR_NONE, (UINT16)len, 0, &data),
	           "NV_Read");
	if (r == 0 && data->size != len)
		r = -EBADMSG;
	if (r == 0)
		memcpy(buf, data->buffer, len);
	Esys_Free(data);
	Esys_TR_Close(t->esys, &nv);
	return r;
}

static int nv_define(struct attest_tpm *t, uint32_t index, size_t len, ESYS_TR *ret)
{
	TPM2B_AUTH auth = {0};
	TPM2B_NV_PUBLIC pub = {
	    .nvPublic =
	        {
	            .nvIndex = index,
	            .nameAlg = TPM2_ALG_SHA256,
	            /* Owner-authorised both ways; the workload never reaches the TPM. */
	            .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA |
	                          (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT),
	            .dataSize = (UINT16)len,
	        },
	};

	return tpm_rc(Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                                  ESYS_TR_NONE, &auth, &pub, ret),
	              "NV_DefineSpace");
}

static int tpm_nv_write_unlocked(struct attest_tpm *t, uint32_t index, const void *buf, size_t len)
{
	TPM2B_MAX_NV_BUFFER data = {.size = (UINT16)len};
	ESYS_TR nv = ESYS_TR_NONE;
	int r;

	if (len > sizeof(data.buffer))
		return -EINVAL;
	memcpy(data.buffer, buf, len);
	r = nv_handle(t, index, &nv);
	if (r == -ENOENT)
		r = nv_define(t, index, len, &nv);
	if (r < 0)
		return r;
	r = tpm_rc(Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                         ESYS_TR_NONE, &data, 0),
	           "NV_Write");
	Esys_TR_Close(t->esys, &nv);
	return r;
}

/* The public entry points: each holds the context lock for its whole ESAPI sequence. */

int attest_tpm_banks(struct attest_tpm *t, unsigned int pcr, uint16_t *algs, size_t *n)
{
	int r;

	pthread_mutex_lock(&t->lock);
	t->notice[0] = 0;
	r = tpm_banks_unlocked(t, pcr, algs, n);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int attest_tpm_extend(struct attest_tpm *t, unsigned int pcr, const struct attest_digests *d)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = tpm_extend_unlocked(t, pcr, d);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int attest_tpm_read(struct attest_tpm *t, unsigned int pcr, uint16_t alg, struct attest_digest *out)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = tpm_read_unlocked(t, pcr, alg, out);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int attest_tpm_reset(struct attest_tpm *t, unsigned int pcr)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = tpm_reset_unlocked(t, pcr);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int attest_tpm_nv_read(struct attest_tpm *t, uint32_t index, void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = tpm_nv_read_unlocked(t, index, buf, len);
	pthread_mutex_unlock(&t->lock);
	return r;
}

int attest_tpm_nv_write(struct attest_tpm *t, uint32_t index, const void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&t->lock);
	r = tpm_nv_write_unlocked(t, index, buf, len);
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* --- the audit checkpoint key: TPM-resident, non-exportable ECDSA P-256 ----------------- */

struct attest_tpm_key {
	struct attest_tpm *t;
	ESYS_TR handle;
	TPM2B_PUBLIC pub;
};

/*
 * The key's parent: the TCG provisioning guidance's ECC storage root key, re-derived from the
 * owner seed at every start (same template, same key), so nothing about it is ever stored.
 */
static const TPM2B_PUBLIC srk_template = {
    .publicArea =
        {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
            .parameters.eccDetail =
                {
                    .symmetric = {.algorithm = TPM2_ALG_AES,
                                  .keyBits.aes = 128,
                                  .mode.aes = TPM2_ALG_CFB},
                    .scheme = {.scheme = TPM2_ALG_NULL},
                    .curveID = TPM2_ECC_NIST_P256,
                    .kdf = {.scheme = TPM2_ALG_NULL},
                },
            .unique.ecc = {.x = {.size = 32}, .y = {.size = 32}},
        },
};

/*
 * The signing key: generated inside the TPM (sensitiveDataOrigin), bound to this TPM and this
 * parent (fixedTPM, fixedParent: TPM2_Duplicate refuses it), sign only, ECDSA-SHA256 on P-256.
 */
#define AUDIT_KEY_ATTRS                                                                            \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT)

static const TPM2B_PUBLIC audit_key_template = {
    .publicArea =
        {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = AUDIT_KEY_ATTRS,
            .parameters.eccDetail =
                {
                    .symmetric = {.algorithm = TPM2_ALG_NULL},
                    .scheme = {.scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256},
                    .curveID = TPM2_ECC_NIST_P256,
                    .kdf = {.scheme = TPM2_ALG_NULL},
                },
        },
};

static int srk_create(struct attest_tpm *t, ESYS_TR *ret)
{
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};

	return tpm_rc(Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                                 ESYS_TR_NONE, &sens, &srk_template, &outside, &pcrs, ret,
	                                 NULL, NULL, NULL, NULL),
	              "CreatePrimary(SRK)");
}

/* The blob: TPM2B_PUBLIC then TPM2B_PRIVATE, marshalled; the private part is the TPM's own
 * encryption under the SRK, useless to anyone without this TPM. */
static int blob_read(const char *path, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv)
{
	size_t len, off = 0;
	char *buf;
	int r = vigil_read_file(path, 2048, VIGIL_READ_NOFOLLOW, &buf, &len);

	/* Not a regular file, too large, empty, cut short: not a blob of ours. */
	if (r == -VIGIL_ENOTREG || r == -EFBIG || r == -ENODATA || r == -EIO)
		return -EBADMSG;
	if (r < 0)
		return r;
	memset(pub, 0, sizeof(*pub)); /* the unmarshallers refuse a destination with a size */
	memset(priv, 0, sizeof(*priv));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal((uint8_t *)buf, len, &off, pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal((uint8_t *)buf, len, &off, priv) != TSS2_RC_SUCCESS ||
	    off != len)
		r = -EBADMSG;
	free(buf);
	return r;
}

/* Written once, 0600 whatever the umask, then renamed into place: never half a blob. */
static int blob_write(const char *path, const TPM2B_PUBLIC *pub, const TPM2B_PRIVATE *priv)
{
	uint8_t buf[2048];
	char tmp[4096];
	size_t off = 0;
	ssize_t n;
	int fd, r = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -ENOBUFS;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0)
		r = -errno;
	else if ((n = write(fd, buf, off)) != (ssize_t)off)
		r = n < 0 ? -errno : -EIO; /* a short write sets no errno */
	else if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int key_create(struct attest_tpm *t, ESYS_TR srk, const char *path)
{
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	int r;

	r = tpm_rc(Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
	                       &audit_key_template, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL),
	           "Create(audit key)");
	if (r == 0)
		r = blob_write(path, pub, priv);
	Esys_Free(priv);
	Esys_Free(pub);
	return r;
}

static int tpm_key_open_unlocked(struct attest_tpm *t, const char *path, struct attest_tpm_key *k)
{
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	ESYS_TR srk = ESYS_TR_NONE;
	int r;

	r = srk_create(t, &srk);
	if (r < 0)
		return r;
	r = blob_read(path, &pub, &priv);
	if (r == -ENOENT) {
		r = key_create(t, srk, path);
		if (r == 0)
			r = blob_read(path, &pub, &priv);
	}
	if (r == 0)
		r = tpm_rc(Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
		                     &priv, &pub, &k->handle),
		           "Load(audit key)");
	Esys_FlushContext(t->esys, srk);
	if (r < 0)
		return r;
	/*
	 * Fail closed on a blob that is not ours: the TPM's Load checks that public and private
	 * belong together, and an imported key (whose private part someone knows) cannot carry
	 * fixedTPM; so these attributes prove the key was born in this TPM and stays there.
	 */
	if ((pub.publicArea.objectAttributes & AUDIT_KEY_ATTRS) != AUDIT_KEY_ATTRS ||
	    pub.publicArea.type != TPM2_ALG_ECC ||
	    pub.publicArea.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
	    pub.publicArea.unique.ecc.x.size != 32 || pub.publicArea.unique.ecc.y.size != 32) {
		Esys_FlushContext(t->esys, k->handle);
		k->handle = ESYS_TR_NONE;
		return -EKEYREJECTED;
	}
	k->pub = pub;
	return 0;
}

int attest_tpm_key_open(struct attest_tpm *t, const char *path, struct attest_tpm_key **ret)
{
	struct attest_tpm_key *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->t = t;
	k->handle = ESYS_TR_NONE;
	pthread_mutex_lock(&t->lock);
	r = tpm_key_open_unlocked(t, path, k);
	pthread_mutex_unlock(&t->lock);
	if (r < 0) {
		free(k);
		return r;
	}
	*ret = k;
	return 0;
}

void attest_tpm_key_free(struct attest_tpm_key *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->t->lock);
	if (k->handle != ESYS_TR_NONE)
		Esys_FlushContext(k->t->esys, k->handle);
	pthread_mutex_unlock(&k->t->lock);
	free(k);
}

uint32_t attest_tpm_key_attributes(const struct attest_tpm_key *k)
{
	return k->pub.publicArea.objectAttributes;
}

int attest_tpm_key_spki(const struct attest_tpm_key *k, uint8_t *der, size_t *len)
{
	const TPMS_ECC_POINT *q = &k->pub.publicArea.unique.ecc;
	uint8_t point[65];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;
	unsigned char *out = NULL;
	int n = -1;

	point[0] = 0x04; /* uncompressed: x || y */
	memcpy(point + 1, q->x.buffer, 32);
	memcpy(point + 33, q->y.buffer, 32);
	if (bld && ctx &&
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) > 0 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0)
		n = i2d_PUBKEY(pkey, &out);
	if (n > 0 && (size_t)n <= *len) {
		memcpy(der, out, (size_t)n);
		*len = (size_t)n;
	}
	OPENSSL_free(out);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return n > 0 && (size_t)n == *len ? 0 : -EKEYREJECTED;
}

/* TPM2_Sign of a SHA-256 digest; the (r, s) pair comes back as a DER ECDSA-Sig-Value. */
int attest_tpm_key_sign(struct attest_tpm_key *k, const uint8_t digest[32], uint8_t *sig,
                        size_t *len)
{
	TPM2B_DIGEST d = {.size = 32};
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_ECDSA,
	                          .details.ecdsa.hashAlg = TPM2_ALG_SHA256};
	/* An unrestricted key signs any digest: the null ticket is what TPM2_Sign expects. */
	TPMT_TK_HASHCHECK check = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
	TPMT_SIGNATURE *s = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *p = sig;
	int r, n;

	memcpy(d.buffer, digest, 32);
	pthread_mutex_lock(&k->t->lock);
	r = tpm_rc(Esys_Sign(k->t->esys, k->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
	                     &d, &scheme, &check, &s),
	           "Sign(audit key)");
	pthread_mutex_unlock(&k->t->lock);
	if (r < 0)
		return r;
	r = -EIO;
	es = ECDSA_SIG_new();
	br = BN_bin2bn(s->signature.ecdsa.signatureR.buffer, s->signature.ecdsa.signatureR.size,
	               NULL);
	bs = BN_bin2bn(s->signature.ecdsa.signatureS.buffer, s->signature.ecdsa.signatureS.size,
	               NULL);
	if (es && br && bs && s->sigAlg == TPM2_ALG_ECDSA && ECDSA_SIG_set0(es, br, bs)) {
		br = bs = NULL; /* owned by es now */
		n = i2d_ECDSA_SIG(es, NULL);
		if (n > 0 && (size_t)n <= *len && i2d_ECDSA_SIG(es, &p) == n) {
			*len = (size_t)n;
			r = 0;
		}
	}
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	Esys_Free(s);
	return r;
}

/* For attest/quote.c: one ESAPI sequence under the context lock. */
ESYS_CONTEXT *attest_tpm_esys_lock(struct attest_tpm *t)
{
	pthread_mutex_lock(&t->lock);
	return t->esys;
}

void attest_tpm_esys_unlock(struct attest_tpm *t)
{
	pthread_mutex_unlock(&t->lock);
}

const char *attest_tpm_notice(const struct attest_tpm *t)
{
	return t && t->notice[0] ? t->notice : NULL;
}
