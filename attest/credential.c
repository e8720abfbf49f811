/*
 * AK-to-EK binding (TPM 2.0 Part 1, "Credential Protection"): the broker seals a random secret to
 * an EK it trusts and to the AK's name in software (MakeCredential); only the TPM holding that EK,
 * with that exact AK loaded, can recover it (TPM2_ActivateCredential). The EK's template is TCG's
 * L-1 (RSA 2048, OAEP-SHA256 seed with the label "IDENTITY", AES-128-CFB, SHA-256 name).
 */
#include "attest/internal.h"
#include "attest/kbs.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#define AK_REQUIRED                                                                                \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

/* KDFa (Part 1, 11.4.10.2) with SHA-256: the label is NUL-terminated in the input. */
static int kdfa(const uint8_t *key, size_t klen, const char *label, const uint8_t *u, size_t ulen,
                uint8_t *out, size_t outlen)
{
	uint8_t buf[128 + 64], blk[32];
	uint32_t bits = (uint32_t)outlen * 8, i;
	size_t n, ll = strlen(label) + 1, done = 0;
	unsigned int bl;

	if (4 + ll + ulen + 4 > sizeof(buf))
		return -EINVAL;
	for (i = 1; done < outlen; i++) {
		n = 0;
		buf[n++] = (uint8_t)(i >> 24), buf[n++] = (uint8_t)(i >> 16);
		buf[n++] = (uint8_t)(i >> 8), buf[n++] = (uint8_t)i;
		memcpy(buf + n, label, ll), n += ll;
		if (ulen)
			memcpy(buf + n, u, ulen), n += ulen;
		buf[n++] = (uint8_t)(bits >> 24), buf[n++] = (uint8_t)(bits >> 16);
		buf[n++] = (uint8_t)(bits >> 8), buf[n++] = (uint8_t)bits;
		if (!HMAC(EVP_sha256(), key, (int)klen, buf, n, blk, &bl))
			return -EIO;
		memcpy(out + done, blk, outlen - done < 32 ? outlen - done : 32);
		done += outlen - done < 32 ? outlen - done : 32;
	}
	OPENSSL_cleanse(blk, sizeof(blk));
	return 0;
}

/* RSA-OAEP(SHA-256, label "IDENTITY\0") of the seed to the EK. */
static int seed_encrypt(EVP_PKEY *ek, const uint8_t *seed, size_t slen, uint8_t *out,
                        size_t *outlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
	unsigned char *label = OPENSSL_malloc(9);
	int ok = c && label && EVP_PKEY_encrypt_init(c) > 0 &&
	         EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
	         EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0 &&
	         EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0;

	if (ok) {
		memcpy(label, "IDENTITY", 9);
		ok = EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, 9) > 0;
		if (ok)
			label = NULL; /* owned by c now */
	}
	ok = ok && EVP_PKEY_encrypt(c, out, outlen, seed, slen) > 0;
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EIO;
}

int kbs_make_credential(const uint8_t *ek_spki, size_t ek_len, const uint8_t *ak_tpmt,
                        size_t tpmt_len, const uint8_t *secret, size_t slen, uint8_t **blob,
                        size_t *blob_len, uint8_t **enc_secret, size_t *es_len, uint8_t *ak_spki,
                        size_t *ak_spki_len, char *err, size_t errlen)
{
	const uint8_t *p = ek_spki;
	EVP_PKEY *ek = NULL;
	TPM2B_PUBLIC ak = {0};
	TPM2B_ID_OBJECT id = {0};
	TPM2B_ENCRYPTED_SECRET es = {0};
	uint8_t name[34], seed[32], symkey[16], hkey[32], plain[2 + 64], enc[sizeof(plain)];
	uint8_t hmac[32], *ob = NULL, *sb = NULL;
	size_t off = 0, n = sizeof(es.secret), ol = 0, sl = 0;
	unsigned int hl;
	EVP_CIPHER_CTX *cc = NULL;
	int r, len = 0, fl = 0;

	*blob = *enc_secret = NULL;
	if (slen == 0 || slen > 64)
		return attest_errf(err, errlen, -EINVAL, "credential: secret of %zu bytes", slen);
	if (Tss2_MU_TPMT_PUBLIC_Unmarshal(ak_tpmt, tpmt_len, &off, &ak.publicArea) !=
	        TSS2_RC_SUCCESS ||
	    off != tpmt_len)
		return attest_errf(err, errlen, -EINVAL, "ak_tpmt is not a marshalled TPMT_PUBLIC");
	/* The name binds the whole public area: a restricted signing key the TPM keeps. */
	if ((ak.publicArea.objectAttributes & AK_REQUIRED) != AK_REQUIRED ||
	    (ak.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT) ||
	    ak.publicArea.nameAlg != TPM2_ALG_SHA256)
		return attest_errf(
		    err, errlen, -EPERM,
		    "the AK is not a fixedTPM restricted signing key with a SHA-256 name");
	r = attest_pub_spki(&ak, ak_spki, ak_spki_len);
	if (r < 0)
		return attest_errf(err, errlen, r, "the AK's public area is not RSA-2048 or P-256");
	name[0] = TPM2_ALG_SHA256 >> 8;
	name[1] = TPM2_ALG_SHA256 & 0xff;
	EVP_Digest(ak_tpmt, tpmt_len, name + 2, NULL, EVP_sha256(), NULL);
	ek = d2i_PUBKEY(NULL, &p, (long)ek_len);
	if (!ek || EVP_PKEY_get_base_id(ek) != EVP_PKEY_RSA || EVP_PKEY_get_bits(ek) != 2048) {
		EVP_PKEY_free(ek);
		return attest_errf(err, errlen, -EINVAL, "ek_public is not an RSA-2048 DER SPKI");
	}
	r = -EIO;
	if (RAND_bytes(seed, sizeof(seed)) != 1 ||
	    seed_encrypt(ek, seed, sizeof(seed), es.secret, &n) < 0)
		goto out;
	es.size = (UINT16)n;
	if (kdfa(seed, sizeof(seed), "STORAGE", name, sizeof(name), symkey, sizeof(symkey)) < 0 ||
	    kdfa(seed, sizeof(seed), "INTEGRITY", NULL, 0, hkey, sizeof(hkey)) < 0)
		goto out;
	/* The credential as a TPM2B_DIGEST, AES-128-CFB with a zero IV. */
	plain[0] = (uint8_t)(slen >> 8);
	plain[1] = (uint8_t)slen;
	memcpy(plain + 2, secret, slen);
	cc = EVP_CIPHER_CTX_new();
	if (!cc || EVP_EncryptInit_ex(cc, EVP_aes_128_cfb128(), NULL, symkey, NULL) != 1 ||
	    EVP_EncryptUpdate(cc, enc, &len, plain, (int)(2 + slen)) != 1 ||
	    EVP_EncryptFinal_ex(cc, enc + len, &fl) != 1)
		goto out;
	len += fl;
	{
		uint8_t mac_in[sizeof(enc) + sizeof(name)];

		memcpy(mac_in, enc, (size_t)len);
		memcpy(mac_in + len, name, sizeof(name));
		if (!HMAC(EVP_sha256(), hkey, sizeof(hkey), mac_in, (size_t)len + sizeof(name),
		          hmac, &hl))
			goto out;
	}
	id.size = (UINT16)(2 + 32 + len);
	id.credential[0] = 0;
	id.credential[1] = 32;
	memcpy(id.credential + 2, hmac, 32);
	memcpy(id.credential + 34, enc, (size_t)len);
	ob = malloc(sizeof(id));
	sb = malloc(sizeof(es));
	if (!ob || !sb || Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, ob, sizeof(id), &ol) ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&es, sb, sizeof(es), &sl))
		goto out;
	*blob = ob, *blob_len = ol;
	*enc_secret = sb, *es_len = sl;
	ob = sb = NULL;
	r = 0;
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hkey, sizeof(hkey));
	OPENSSL_cleanse(plain, sizeof(plain));
	EVP_CIPHER_CTX_free(cc);
	EVP_PKEY_free(ek);
	free(ob);
	free(sb);
	return r < 0 ? attest_errf(err, errlen, r, "credential: OpenSSL failed") : 0;
}

static int crc(TSS2_RC rc, const char *what, struct vigil_error *err)
{
	int r = attest_tpm_rc(rc, what);

	return r < 0 ? vigil_errorf(err, r, "tpm: %s", attest_tpm_strerror(r)) : 0;
}

int attest_activate_credential(struct attest_ak *ak, const uint8_t *blob, size_t blob_len,
                               const uint8_t *enc_secret, size_t es_len, uint8_t *secret,
                               size_t *secret_len, struct vigil_error *err)
{
	struct attest_tpm *t = attest_ak_tpm(ak);
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION none = {0};
	TPMT_SYM_DEF sym = {
	    .algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};
	TPM2B_PUBLIC tmpl;
	TPM2B_ID_OBJECT id = {0};
	TPM2B_ENCRYPTED_SECRET es = {0};
	TPM2B_DIGEST *cert = NULL;
	ESYS_TR ek = ESYS_TR_NONE, sess = ESYS_TR_NONE;
	ESYS_CONTEXT *e;
	size_t off = 0, off2 = 0;
	int r;

	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_len, &off, &id) || off != blob_len ||
	    Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret, es_len, &off2, &es) ||
	    off2 != es_len)
		return vigil_errorf(err, -EINVAL,
		                    "credential: not a TPM2B_ID_OBJECT and a "
		                    "TPM2B_ENCRYPTED_SECRET");
	attest_ek_template(&tmpl);
	e = attest_tpm_esys_lock(t);
	r = crc(Esys_CreatePrimary(e, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
	                           ESYS_TR_NONE, &sens, &tmpl, &outside, &none, &ek, NULL, NULL,
	                           NULL, NULL),
	        "CreatePrimary(EK)", err);
	/* The EK's policy A: PolicySecret(TPM_RH_ENDORSEMENT) in a policy session. */
	if (r == 0)
		r = crc(Esys_StartAuthSession(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
		                              ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_POLICY,
		                              &sym, TPM2_ALG_SHA256, &sess),
		        "StartAuthSession(policy)", err);
	if (r == 0)
		r = crc(Esys_PolicySecret(e, ESYS_TR_RH_ENDORSEMENT, sess, ESYS_TR_PASSWORD,
		                          ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL,
		                          NULL),
		        "PolicySecret(endorsement)", err);
	if (r == 0)
		r = crc(Esys_ActivateCredential(e, attest_ak_handle(ak), ek, ESYS_TR_PASSWORD, sess,
		                                ESYS_TR_NONE, &id, &es, &cert),
		        "ActivateCredential", err);
	if (sess != ESYS_TR_NONE)
		Esys_FlushContext(e, sess); /* may be gone already (not continued): harmless */
	if (ek != ESYS_TR_NONE)
		Esys_FlushContext(e, ek);
	attest_tpm_esys_unlock(t);
	if (r == 0) {
		if (cert->size > *secret_len) {
			r = vigil_errorf(err, -ENOBUFS, "credential: %u bytes", cert->size);
		} else {
			memcpy(secret, cert->buffer, cert->size);
			*secret_len = cert->size;
		}
		OPENSSL_cleanse(cert->buffer, sizeof(cert->buffer));
	}
	Esys_Free(cert);
	return r;
}
