/* swtpm test helper: an audit log signed by the TPM-resident checkpoint key, and the key's
 * non-exportability checked through a second, independent ESAPI connection. */
#include "attest/attest.h"
#include "tests/tpm/tpm_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

/* What the audit library reports, on stderr. */
static void say(void *ctx, bool error, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "audit_tpm_writer: %s%s\n", error ? "error: " : "", msg);
}

/* write TCTI STATE LOG N: N events, a checkpoint every 10 records, a final one at close. */
static int do_write(const char *tcti, const char *state, const char *log, unsigned int n)
{
	struct attest_tpm *t;
	int r;

	r = attest_tpm_open(tcti, &t);
	if (r < 0)
		return fprintf(stderr, "tpm open: %s\n", strerror(-r)), 1;
	r = tpm_writer_run(log, state, "vigil/tpm-test", t, NULL, NULL, say, n);
	attest_tpm_close(t);
	return r;
}

/*
 * dup TCTI BLOB: loads the key from its blob under the SRK (same template as attest/tpm.c),
 * prints its attributes, and tries TPM2_Duplicate to no new parent (plain export): it must fail.
 */
static int do_dup(const char *tcti, const char *blob)
{
	TPM2B_PUBLIC srk_tmpl = {
	    .publicArea =
	        {
	            .type = TPM2_ALG_ECC,
	            .nameAlg = TPM2_ALG_SHA256,
	            .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
	                                TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
	                                TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
	                                TPMA_OBJECT_DECRYPT,
	            .parameters.eccDetail = {.symmetric = {.algorithm = TPM2_ALG_AES,
	                                                   .keyBits.aes = 128,
	                                                   .mode.aes = TPM2_ALG_CFB},
	                                     .scheme = {.scheme = TPM2_ALG_NULL},
	                                     .curveID = TPM2_ECC_NIST_P256,
	                                     .kdf = {.scheme = TPM2_ALG_NULL}},
	            .unique.ecc = {.x = {.size = 32}, .y = {.size = 32}},
	        },
	};
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0}, *enc_out = NULL;
	TPML_PCR_SELECTION pcrs = {0};
	TPMT_SYM_DEF_OBJECT sym = {.algorithm = TPM2_ALG_NULL};
	TPM2B_PRIVATE priv = {0}, *dup = NULL;
	TPM2B_ENCRYPTED_SECRET *seed = NULL;
	TPM2B_PUBLIC pub = {0}, *rpub = NULL;
	TPM2B_NAME *name = NULL, *qname = NULL;
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *e = NULL;
	ESYS_TR srk, key;
	uint8_t buf[2048];
	size_t len, off = 0;
	FILE *f = fopen(blob, "rb");
	TSS2_RC rc;

	if (!f)
		return perror(blob), 1;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub) ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, &priv) || off != len)
		return fprintf(stderr, "%s: not a public+private blob\n", blob), 1;
	if (Tss2_TctiLdr_Initialize(tcti, &tc) || Esys_Initialize(&e, tc, NULL) ||
	    Esys_CreatePrimary(e, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
	                       &sens, &srk_tmpl, &outside, &pcrs, &srk, NULL, NULL, NULL, NULL) ||
	    Esys_Load(e, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &key) ||
	    Esys_ReadPublic(e, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &rpub, &name, &qname))
		return fprintf(stderr, "cannot load the key blob\n"), 1;
	printf("attributes 0x%08x fixedTPM=%d fixedParent=%d sensitiveDataOrigin=%d sign=%d\n",
	       rpub->publicArea.objectAttributes,
	       !!(rpub->publicArea.objectAttributes & TPMA_OBJECT_FIXEDTPM),
	       !!(rpub->publicArea.objectAttributes & TPMA_OBJECT_FIXEDPARENT),
	       !!(rpub->publicArea.objectAttributes & TPMA_OBJECT_SENSITIVEDATAORIGIN),
	       !!(rpub->publicArea.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT));
	/* Duplicate needs a policy session for DUPLICATE; the attribute check comes first. */
	rc = Esys_Duplicate(e, key, ESYS_TR_RH_NULL, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
	                    NULL, &sym, &enc_out, &dup, &seed);
	printf("duplicate rc 0x%x%s\n", rc, rc ? "" : " (EXPORTED)");
	Esys_FlushContext(e, key);
	Esys_FlushContext(e, srk);
	Esys_Free(rpub);
	Esys_Free(name);
	Esys_Free(qname);
	Esys_Free(dup);
	Esys_Free(seed);
	Esys_Free(enc_out);
	Esys_Finalize(&e);
	Tss2_TctiLdr_Finalize(&tc);
	return rc ? 0 : 1;
}

int main(int argc, char **argv)
{
	setenv("TSS2_LOG", "all+none", 0); /* the refusals below are expected: no tss2 noise */
	if (argc == 6 && strcmp(argv[1], "write") == 0)
		return do_write(argv[2], argv[3], argv[4], (unsigned int)atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "dup") == 0)
		return do_dup(argv[2], argv[3]);
	fprintf(stderr, "usage: audit_tpm_writer write TCTI STATE LOG N | dup TCTI BLOB\n");
	return 2;
}
