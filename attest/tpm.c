/* vTPM backend: tpm2-tss ESAPI through a tctildr TCTI (device, swtpm); every call mapped once. */
#include "attest/attest.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

struct attest_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	/* An ESAPI context runs one command at a time; the audit writer thread extends too. */
	pthread_mutex_t lock;
};

/* The one error mapping: a missing handle or NV index is -ENOENT (callers expect it), all else
 * -EIO. */
static int tpm_rc(TSS2_RC rc, const char *what)
{
	TSS2_RC base = rc & 0xffff;

	if (rc == TSS2_RC_SUCCESS)
		return 0;
	if ((base & (TPM2_RC_FMT1 | 0x3f)) == TPM2_RC_HANDLE)
		return -ENOENT;
	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
		fprintf(stderr, "vigil: tpm: %s: TCTI error 0x%x (is the TPM reachable?)\n", what,
		        rc);
	else
		fprintf(stderr, "vigil: tpm: %s: error 0x%x\n", what, rc);
	return -EIO;
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
	r = tpm_rc(Tss2_TctiLdr_Initialize(tcti, &t->tcti), tcti);
	if (r == 0)
		r = tpm_rc(Esys_Initialize(&t->esys, t->tcti, NULL), "Esys_Initialize");
	if (r < 0) {
		attest_tpm_close(t);
		return r;
	}
	*ret = t;
	return 0;
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
	size_t i, k = 0;
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
			/* A bank we cannot hash stays unextended; say so rather than fail. */
			fprintf(stderr,
			        "vigil: tpm: PCR bank 0x%x not supported, left unextended\n",
			        s->hash);
			continue;
		}
		algs[k++] = s->hash;
	}
	Esys_Free(cap);
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
