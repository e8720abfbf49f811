/* Ephemeral keys (JWK) and flattened JWE: A256GCM content, ECDH-ES+A256KW (Concat KDF, RFC 7518
 * 4.6) or RSA-OAEP-256 key management. Anything else is refused. */
#include "attest/kbs.h"
#include "attest/internal.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALG_EC  "ECDH-ES+A256KW"
#define ALG_RSA "RSA-OAEP-256"

static json_t *b64_bn(const EVP_PKEY *k, const char *param, size_t pad)
{
	BIGNUM *bn = NULL;
	uint8_t buf[512];
	json_t *v = NULL;
	char *s;
	int n;

	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		return NULL;
	n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	if (n <= 0 || (size_t)n > sizeof(buf))
		return NULL;
	s = kbs_b64(buf, (size_t)n, true);
	if (s)
		v = json_string(s);
	free(s);
	return v;
}

static json_t *jwk_of(const EVP_PKEY *k, enum kbs_key_alg alg, bool with_alg)
{
	json_t *j;

	if (alg == KBS_KEY_EC)
		j = json_pack("{s:s, s:o?, s:o?}", "crv", "P-256", "x",
		              b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32), "y",
		              b64_bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
	else
		j = json_pack("{s:o?, s:o?}", "n", b64_bn(k, OSSL_PKEY_PARAM_RSA_N, 0), "e",
		              b64_bn(k, OSSL_PKEY_PARAM_RSA_E, 0));
	if (!j)
		return NULL;
	json_object_set_new(j, "kty", json_string(alg == KBS_KEY_EC ? "EC" : "RSA"));
	if (with_alg)
		json_object_set_new(j, "alg", json_string(alg == KBS_KEY_EC ? ALG_EC : ALG_RSA));
	if ((alg == KBS_KEY_EC && (!json_object_get(j, "x") || !json_object_get(j, "y"))) ||
	    (alg == KBS_KEY_RSA && (!json_object_get(j, "n") || !json_object_get(j, "e")))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int kbs_ephemeral_new(enum kbs_key_alg alg, EVP_PKEY **ret, json_t **jwk)
{
	EVP_PKEY *k = alg == KBS_KEY_EC ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);

	if (!k)
		return -EIO;
	*jwk = jwk_of(k, alg, true);
	if (!*jwk) {
		EVP_PKEY_free(k);
		return -ENOMEM;
	}
	*ret = k;
	return 0;
}

/* A base64url member of exactly want bytes (0: any length up to 1024). */
static uint8_t *member_b64(const json_t *o, const char *name, size_t want, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, name));
	uint8_t *d;

	if (!s)
		return NULL;
	d = kbs_unb64(s, len);
	if (d && ((want && *len != want) || (!want && (*len == 0 || *len > 1024)))) {
		free(d);
		return NULL;
	}
	return d;
}

int kbs_jwk_import(const json_t *jwk, EVP_PKEY **ret, char *err, size_t errlen)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *x = NULL, *y = NULL, *n = NULL, *e = NULL, point[65];
	size_t xl, yl, nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	int r = -EINVAL;

	*ret = NULL;
	if (!bld)
		return -ENOMEM;
	if (kty && strcmp(kty, "EC") == 0) {
		const char *crv = json_string_value(json_object_get(jwk, "crv"));

		if (alg && strcmp(alg, ALG_EC) != 0) {
			r = attest_errf(err, errlen, -EINVAL,
			                "tee-pubkey: alg \"%s\" with an EC key", alg);
			goto out;
		}
		if (!crv || strcmp(crv, "P-256") != 0 || !(x = member_b64(jwk, "x", 32, &xl)) ||
		    !(y = member_b64(jwk, "y", 32, &yl))) {
			r = attest_errf(err, errlen, -EINVAL,
			                "tee-pubkey: not a P-256 EC JWK (crv, x, y)");
			goto out;
		}
		point[0] = 4;
		memcpy(point + 1, x, 32);
		memcpy(point + 33, y, 32);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
		                                     0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
		                                      sizeof(point)))
			goto out;
	} else if (kty && strcmp(kty, "RSA") == 0) {
		if (alg && strcmp(alg, ALG_RSA) != 0) {
			r = attest_errf(err, errlen, -EINVAL,
			                "tee-pubkey: alg \"%s\" with an RSA key", alg);
			goto out;
		}
		if (!(n = member_b64(jwk, "n", 0, &nl)) || !(e = member_b64(jwk, "e", 0, &el)) ||
		    nl < 256) {
			r = attest_errf(err, errlen, -EINVAL,
			                "tee-pubkey: not an RSA JWK of 2048 bits or more (n, e)");
			goto out;
		}
		bn = BN_bin2bn(n, (int)nl, NULL);
		be = BN_bin2bn(e, (int)el, NULL);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		if (!bn || !be || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
			goto out;
	} else {
		r = attest_errf(err, errlen, -EINVAL, "tee-pubkey: kty must be \"EC\" or \"RSA\"");
		goto out;
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	if (!ctx || !params || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, ret, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		r = attest_errf(err, errlen, -EINVAL, "tee-pubkey: OpenSSL refuses the key");
		goto out;
	}
	r = 0;
out:
	free(x);
	free(y);
	free(n);
	free(e);
	BN_free(bn);
	BN_free(be);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 7518 4.6.2: Concat KDF, one SHA-256 round for a 256-bit key-wrapping key. */
static int concat_kdf(const uint8_t *z, size_t zl, const uint8_t *apu, size_t apul,
                      const uint8_t *apv, size_t apvl, uint8_t kek[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t b4[4];
	const char *alg = ALG_EC;
	int ok;

	ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	put32(b4, 1);
	ok = ok && EVP_DigestUpdate(md, b4, 4) && EVP_DigestUpdate(md, z, zl);
	put32(b4, (uint32_t)strlen(alg));
	ok = ok && EVP_DigestUpdate(md, b4, 4) && EVP_DigestUpdate(md, alg, strlen(alg));
	put32(b4, (uint32_t)apul);
	ok = ok && EVP_DigestUpdate(md, b4, 4) && (!apul || EVP_DigestUpdate(md, apu, apul));
	put32(b4, (uint32_t)apvl);
	ok = ok && EVP_DigestUpdate(md, b4, 4) && (!apvl || EVP_DigestUpdate(md, apv, apvl));
	put32(b4, 256);
	ok = ok && EVP_DigestUpdate(md, b4, 4) && EVP_DigestFinal_ex(md, kek, NULL);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}

static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t z[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(priv, NULL);
	size_t zl = 32;
	int ok = c && EVP_PKEY_derive_init(c) > 0 && EVP_PKEY_derive_set_peer(c, peer) > 0 &&
	         EVP_PKEY_derive(c, z, &zl) > 0 && zl == 32;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EIO;
}

/* AES-256 key wrap (RFC 3394), both ways; out holds in_len + 8 (wrap) or in_len - 8. */
static int aes_kw(bool wrap, const uint8_t kek[32], const uint8_t *in, size_t in_len, uint8_t *out,
                  size_t *out_len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, ok;

	if (!c)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL, wrap) &&
	     EVP_CipherUpdate(c, out, &n, in, (int)in_len) && EVP_CipherFinal_ex(c, out + n, &f);
	EVP_CIPHER_CTX_free(c);
	*out_len = (size_t)(n + f);
	return ok ? 0 : -EBADMSG;
}

static int rsa_oaep(bool enc, EVP_PKEY *k, const uint8_t *in, size_t in_len, uint8_t *out,
                    size_t *out_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	int ok = c && (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) > 0 &&
	         EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) > 0 &&
	         EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) > 0 &&
	         EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0 &&
	         (enc ? EVP_PKEY_encrypt(c, out, out_len, in, in_len)
	              : EVP_PKEY_decrypt(c, out, out_len, in, in_len)) > 0;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

static int gcm(bool enc, const uint8_t cek[32], const uint8_t iv[12], const char *aad,
               const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) &&
	     EVP_CipherInit_ex(c, NULL, NULL, cek, iv, enc) &&
	     EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) &&
	     (len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)len)) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag)) &&
	     EVP_CipherFinal_ex(c, out + (len ? n : 0), &f) &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag));
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

static json_t *b64s(const void *d, size_t n)
{
	char *s = kbs_b64(d, n, true);
	json_t *v = s ? json_string(s) : NULL;

	free(s);
	return v;
}

int kbs_jwe_encrypt(const json_t *jwk, const uint8_t *plain, size_t len, json_t **ret)
{
	EVP_PKEY *peer = NULL, *eph = NULL;
	json_t *hdr = NULL, *epk = NULL, *out = NULL;
	uint8_t cek[32], iv[12], tag[16], z[32], kek[32], ek[512], *ct = NULL;
	size_t ekl = sizeof(ek);
	char *hdr_text = NULL, *prot = NULL;
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	bool ec = kty && strcmp(kty, "EC") == 0;
	int r;

	r = kbs_jwk_import(jwk, &peer, NULL, 0);
	if (r < 0)
		return r;
	r = -EIO;
	if (RAND_bytes(cek, 32) != 1 || RAND_bytes(iv, 12) != 1)
		goto out;
	if (ec) {
		eph = EVP_EC_gen("P-256");
		epk = eph ? jwk_of(eph, KBS_KEY_EC, false) : NULL;
		if (!epk || ecdh(eph, peer, z) < 0 ||
		    concat_kdf(z, 32, NULL, 0, NULL, 0, kek) < 0 ||
		    aes_kw(true, kek, cek, 32, ek, &ekl) < 0)
			goto out;
		hdr = json_pack("{s:s, s:s, s:O}", "alg", ALG_EC, "enc", "A256GCM", "epk", epk);
	} else {
		if (rsa_oaep(true, peer, cek, 32, ek, &ekl) < 0)
			goto out;
		hdr = json_pack("{s:s, s:s}", "alg", ALG_RSA, "enc", "A256GCM");
	}
	if (!hdr || !(hdr_text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS)) ||
	    !(prot = kbs_b64(hdr_text, strlen(hdr_text), true)) || !(ct = malloc(len + 1)))
		goto out;
	r = gcm(true, cek, iv, prot, plain, len, ct, tag);
	if (r < 0)
		goto out;
	out = json_pack("{s:s, s:o, s:o, s:o, s:o}", "protected", prot, "encrypted_key",
	                b64s(ek, ekl), "iv", b64s(iv, 12), "ciphertext", b64s(ct, len), "tag",
	                b64s(tag, 16));
	r = out ? 0 : -ENOMEM;
	*ret = out;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(z, sizeof(z));
	if (ct)
		OPENSSL_cleanse(ct, len);
	free(ct);
	free(hdr_text);
	free(prot);
	json_decref(hdr);
	json_decref(epk);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(eph);
	return r;
}

int kbs_jwe_decrypt(EVP_PKEY *key, const json_t *jwe, uint8_t **ret, size_t *ret_len, char *err,
                    size_t errlen)
{
	const char *prot = json_string_value(json_object_get(jwe, "protected"));
	const char *ct_s = json_string_value(json_object_get(jwe, "ciphertext"));
	uint8_t *hdr_raw = NULL, *ek = NULL, *iv = NULL, *tag = NULL, *ct = NULL, *apu = NULL,
	        *apv = NULL, *plain = NULL;
	size_t hl, ekl, ivl, tagl, ctl = 0, apul = 0, apvl = 0, cekl = 0;
	uint8_t cek[512], z[32], kek[32];
	EVP_PKEY *epk = NULL;
	json_t *hdr = NULL;
	const char *alg, *enc;
	bool key_ec = EVP_PKEY_is_a(key, "EC");
	int r = -EBADMSG;

	*ret = NULL;
	*ret_len = 0;
	if (!prot || !ct_s || !(hdr_raw = kbs_unb64(prot, &hl)) ||
	    !(hdr = json_loadb((const char *)hdr_raw, hl, JSON_REJECT_DUPLICATES, NULL)) ||
	    !json_is_object(hdr)) {
		r = attest_errf(err, errlen, r, "JWE: no valid \"protected\" header");
		goto out;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	enc = json_string_value(json_object_get(hdr, "enc"));
	if (!enc || strcmp(enc, "A256GCM") != 0) {
		r = attest_errf(err, errlen, r, "JWE: enc \"%s\" refused (A256GCM only)",
		                enc ? enc : "(none)");
		goto out;
	}
	if (!alg || strcmp(alg, key_ec ? ALG_EC : ALG_RSA) != 0) {
		r = attest_errf(err, errlen, r, "JWE: alg \"%s\" refused (this key takes %s)",
		                alg ? alg : "(none)", key_ec ? ALG_EC : ALG_RSA);
		goto out;
	}
	if (json_object_get(hdr, "zip") || json_object_get(hdr, "crit")) {
		r = attest_errf(err, errlen, r, "JWE: zip/crit headers refused");
		goto out;
	}
	if (!(ek = member_b64(jwe, "encrypted_key", 0, &ekl)) ||
	    !(iv = member_b64(jwe, "iv", 12, &ivl)) || !(tag = member_b64(jwe, "tag", 16, &tagl)) ||
	    !(ct = kbs_unb64(ct_s, &ctl))) {
		r = attest_errf(
		    err, errlen, r,
		    "JWE: encrypted_key, iv (12 bytes), tag (16 bytes) or ciphertext missing "
		    "or not base64url");
		goto out;
	}
	if (key_ec) {
		const char *s;

		if (kbs_jwk_import(json_object_get(hdr, "epk"), &epk, NULL, 0) < 0 ||
		    !EVP_PKEY_is_a(epk, "EC")) {
			r = attest_errf(err, errlen, r,
			                "JWE: \"epk\" is not a P-256 EC public JWK");
			goto out;
		}
		if ((s = json_string_value(json_object_get(hdr, "apu"))))
			apu = kbs_unb64(s, &apul);
		if ((s = json_string_value(json_object_get(hdr, "apv"))))
			apv = kbs_unb64(s, &apvl);
		if (ecdh(key, epk, z) < 0 || concat_kdf(z, 32, apu, apul, apv, apvl, kek) < 0 ||
		    ekl != 40 || aes_kw(false, kek, ek, ekl, cek, &cekl) < 0) {
			r = attest_errf(err, errlen, r,
			                "JWE: the content key does not unwrap (A256KW)");
			goto out;
		}
	} else {
		cekl = sizeof(cek);
		if (rsa_oaep(false, key, ek, ekl, cek, &cekl) < 0) {
			r = attest_errf(err, errlen, r,
			                "JWE: the content key does not decrypt (RSA-OAEP-256)");
			goto out;
		}
	}
	if (cekl != 32) {
		r = attest_errf(err, errlen, r, "JWE: the content key is %zu bytes, not 32", cekl);
		goto out;
	}
	plain = OPENSSL_secure_malloc(ctl + 1);
	if (!plain) {
		r = -ENOMEM;
		goto out;
	}
	r = gcm(false, cek, iv, prot, ct, ctl, plain, tag);
	if (r < 0) {
		OPENSSL_secure_clear_free(plain, ctl + 1);
		plain = NULL;
		r = attest_errf(err, errlen, r, "JWE: authentication failed (A256GCM tag)");
		goto out;
	}
	*ret = plain;
	*ret_len = ctl;
	/* The caller frees with the length it was given: keep the allocation size equal. */
	r = 0;
out:
	OPENSSL_cleanse(cek, sizeof(cek));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(z, sizeof(z));
	free(hdr_raw);
	free(ek);
	free(iv);
	free(tag);
	free(ct);
	free(apu);
	free(apv);
	EVP_PKEY_free(epk);
	json_decref(hdr);
	return r;
}
