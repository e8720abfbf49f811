/* Bank algorithms: TPM algorithm ids, their names in the log, hashing and the extend operation. */
#include "attest/attest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

static const struct {
	uint16_t alg;
	const char *name;
} algs[] = {
    {0x0004, "sha1"},
    {0x000b, "sha256"},
    {0x000c, "sha384"},
    {0x000d, "sha512"},
};

const char *attest_alg_name(uint16_t alg)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return NULL;
}

uint16_t attest_alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return algs[i].alg;
	return 0;
}

static const EVP_MD *alg_md(uint16_t alg)
{
	const char *name = attest_alg_name(alg);

	return name ? EVP_get_digestbyname(name) : NULL;
}

int attest_hash(uint16_t alg, const void *data, size_t len, struct attest_digest *out)
{
	const EVP_MD *md = alg_md(alg);
	unsigned int n;

	if (!md)
		return -ENOTSUP;
	if (EVP_Digest(data, len, out->d, &n, md, NULL) != 1)
		return -EIO;
	out->alg = alg;
	out->len = (uint8_t)n;
	return 0;
}

int attest_extend_value(struct attest_digest *reg, const struct attest_digest *d)
{
	const EVP_MD *md = alg_md(reg->alg);
	EVP_MD_CTX *ctx;
	unsigned int n;
	int ok;

	if (!md || d->alg != reg->alg || d->len != reg->len)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	     EVP_DigestUpdate(ctx, reg->d, reg->len) == 1 &&
	     EVP_DigestUpdate(ctx, d->d, d->len) == 1 && EVP_DigestFinal_ex(ctx, reg->d, &n) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -EIO;
}
