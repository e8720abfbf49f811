/* Bundle signing and verification: Ed25519 / ECDSA P-256 keys through OpenSSL 3 EVP, trust roots.
 */
#include "policies/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRUST_KEY_MAX_BYTES (16u << 10)

struct bundle_key {
	EVP_PKEY *pkey;
};

struct trust_key {
	EVP_PKEY *pkey;
	char keyid[BUNDLE_KEYID_HEX];
	char *file;
};

/* --- keys ------------------------------------------------------------------------------------ */

/* The two signature schemes vigil accepts; anything else in a trust directory is an error. */
static bool key_type_ok(EVP_PKEY *pkey)
{
	char group[64];

	if (EVP_PKEY_is_a(pkey, "ED25519"))
		return true;
	return EVP_PKEY_is_a(pkey, "EC") &&
	       EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL) &&
	       strcmp(group, "prime256v1") == 0;
}

/* keyid: hex SHA-256 of the DER SubjectPublicKeyInfo. */
static int pkey_keyid(EVP_PKEY *pkey, char out[BUNDLE_KEYID_HEX])
{
	unsigned char *der = NULL;
	uint8_t d[POLICY_SHA256_LEN];
	int n = i2d_PUBKEY(pkey, &der);

	if (n <= 0)
		return -EINVAL;
	EVP_Digest(der, (size_t)n, d, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	vigil_hex(d, sizeof(d), out);
	return 0;
}

void bundle_key_keyid(const struct bundle_key *k, char out[BUNDLE_KEYID_HEX])
{
	if (pkey_keyid(k->pkey, out) < 0)
		out[0] = 0;
}

void bundle_key_free(struct bundle_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

static int key_wrap(EVP_PKEY *pkey, struct bundle_key **ret)
{
	struct bundle_key *k = calloc(1, sizeof(*k));

	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	*ret = k;
	return 0;
}

int bundle_key_generate(enum bundle_key_type type, struct bundle_key **ret)
{
	EVP_PKEY *pkey = type == BUNDLE_KEY_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
	                                            : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (!pkey)
		return -EIO;
	return key_wrap(pkey, ret);
}

static EVP_PKEY *pem_read(const char *buf, size_t len, bool private)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *pkey;

	if (!bio)
		return NULL;
	pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
	               : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return pkey;
}

int bundle_key_load(const char *path, struct bundle_key **ret, struct policy_error *err)
{
	EVP_PKEY *pkey;
	size_t len;
	char *buf;
	int r;

	r = bundle_read_file(path, TRUST_KEY_MAX_BYTES, &buf, &len, err);
	if (r < 0)
		return r;
	pkey = pem_read(buf, len, true);
	explicit_bzero(buf, len);
	free(buf);
	if (!pkey)
		return policy_errorf(err, -EINVAL, "%s: not a PEM private key", path);
	if (!key_type_ok(pkey)) {
		EVP_PKEY_free(pkey);
		return policy_errorf(err, -EINVAL, "%s: key type must be Ed25519 or ECDSA P-256",
		                     path);
	}
	return key_wrap(pkey, ret);
}

static int write_pem(const char *path, mode_t mode, const struct bundle_key *k, bool private,
                     struct policy_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return policy_errorf(err, -errno, "%s: cannot create: %s", path, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	ok = private ? PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL)
	             : PEM_write_PUBKEY(f, k->pkey);
	if (fclose(f) != 0 || !ok)
		return policy_errorf(err, -EIO, "%s: write failed", path);
	return 0;
}

int bundle_key_save(const struct bundle_key *k, const char *priv_path, const char *pub_path,
                    struct policy_error *err)
{
	int r = write_pem(priv_path, 0600, k, true, err);

	if (r < 0)
		return r;
	return write_pem(pub_path, 0644, k, false, err);
}

/* Ed25519 signs the message itself; ECDSA P-256 signs its SHA-256 (DER signature). */
static const EVP_MD *sig_md(EVP_PKEY *pkey)
{
	return EVP_PKEY_is_a(pkey, "ED25519") ? NULL : EVP_sha256();
}

int bundle_sign(struct bundle *b, const struct bundle_key *k, struct policy_error *err)
{
	struct bundle_sig *s = &b->sigs[b->n_sigs];
	EVP_MD_CTX *ctx = NULL;
	uint8_t *pae = NULL;
	size_t pae_len, i;
	int r;

	if (b->n_sigs >= BUNDLE_MAX_SIGS)
		return policy_errorf(err, -E2BIG, "bundle already has %u signatures",
		                     BUNDLE_MAX_SIGS);
	r = pkey_keyid(k->pkey, s->keyid);
	if (r < 0)
		return policy_errorf(err, r, "cannot encode the public key");
	for (i = 0; i < b->n_sigs; i++)
		if (strcmp(b->sigs[i].keyid, s->keyid) == 0)
			return policy_errorf(err, -EEXIST, "bundle already signed by key %s",
			                     s->keyid);
	r = bundle_pae(b->payload_type, b->payload, b->payload_len, &pae, &pae_len);
	if (r < 0)
		return r;
	s->sig = malloc(BUNDLE_SIG_MAX);
	s->sig_len = BUNDLE_SIG_MAX;
	ctx = EVP_MD_CTX_new();
	if (!s->sig || !ctx || EVP_DigestSignInit(ctx, NULL, sig_md(k->pkey), NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, s->sig, &s->sig_len, pae, pae_len) != 1) {
		free(s->sig);
		s->sig = NULL;
		r = policy_errorf(err, -EIO, "signing failed");
	} else {
		b->n_sigs++;
	}
	EVP_MD_CTX_free(ctx);
	free(pae);
	return r;
}

/* --- trust roots ---------------------------------------------------------------------------- */

void trust_free(struct trust_store *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n_keys; i++) {
		EVP_PKEY_free(t->keys[i].pkey);
		free(t->keys[i].file);
	}
	free(t->keys);
	free(t);
}

static int load_trust_key(struct trust_store *t, const char *dir, const char *name,
                          struct policy_error *err)
{
	struct trust_key *k = &t->keys[t->n_keys];
	char path[4096];
	size_t len, i;
	char *buf;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = bundle_read_file(path, TRUST_KEY_MAX_BYTES, &buf, &len, err);
	if (r < 0)
		return r;
	k->pkey = pem_read(buf, len, false);
	free(buf);
	if (!k->pkey)
		return policy_errorf(err, -EINVAL, "%s: not a PEM public key", path);
	if (!key_type_ok(k->pkey) || pkey_keyid(k->pkey, k->keyid) < 0) {
		EVP_PKEY_free(k->pkey);
		return policy_errorf(err, -EINVAL, "%s: key type must be Ed25519 or ECDSA P-256",
		                     path);
	}
	for (i = 0; i < t->n_keys; i++)
		if (strcmp(t->keys[i].keyid, k->keyid) == 0) {
			EVP_PKEY_free(k->pkey);
			/* A duplicate would let one signer count twice toward the threshold. */
			return policy_errorf(err, -EINVAL, "%s: same key as %s", path,
			                     t->keys[i].file);
		}
	k->file = strdup(name);
	if (!k->file) {
		EVP_PKEY_free(k->pkey);
		return -ENOMEM;
	}
	t->n_keys++;
	return 0;
}

static int load_threshold(struct trust_store *t, const char *dir, struct policy_error *err)
{
	char path[4096], *buf, *end;
	unsigned long k;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/threshold", dir);
	t->threshold = 1;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	r = bundle_read_file(path, 32, &buf, &len, err);
	if (r < 0)
		return r;
	errno = 0;
	k = strtoul(buf, &end, 10);
	if (end == buf || (*end && strcmp(end, "\n")) || errno || k == 0 || k > t->n_keys) {
		free(buf);
		return policy_errorf(err, -EINVAL, "%s: expected a number of signers from 1 to %zu",
		                     path, t->n_keys);
	}
	free(buf);
	t->threshold = (unsigned int)k;
	return 0;
}

static int pem_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".pem") == 0;
}

int trust_load_dir(const char *dir, struct trust_store **ret, struct policy_error *err)
{
	struct dirent **names = NULL;
	struct trust_store *t;
	int n, i, r = 0;

	n = scandir(dir, &names, pem_filter, alphasort);
	if (n < 0)
		return policy_errorf(err, -errno, "%s: cannot read trust directory: %s", dir,
		                     strerror(errno));
	t = calloc(1, sizeof(*t));
	if (t)
		t->keys = calloc((size_t)(n ? n : 1), sizeof(*t->keys));
	if (!t || !t->keys)
		r = -ENOMEM;
	else if (n == 0)
		r = policy_errorf(err, -ENOKEY, "%s: no *.pem public keys", dir);
	else if (n > BUNDLE_MAX_KEYS)
		r = policy_errorf(err, -E2BIG, "%s: more than %u keys", dir, BUNDLE_MAX_KEYS);
	for (i = 0; i < n; i++) {
		if (r >= 0)
			r = load_trust_key(t, dir, names[i]->d_name, err);
		free(names[i]);
	}
	free(names);
	if (r >= 0)
		r = load_threshold(t, dir, err);
	if (r < 0) {
		trust_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

static const struct trust_key *trust_find(const struct trust_store *t, const char *keyid)
{
	size_t i;

	for (i = 0; i < t->n_keys; i++)
		if (strcmp(t->keys[i].keyid, keyid) == 0)
			return &t->keys[i];
	return NULL;
}

static bool sig_ok(EVP_PKEY *pkey, const struct bundle_sig *s, const uint8_t *pae, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, sig_md(pkey), NULL, pkey) == 1 &&
	          EVP_DigestVerify(ctx, s->sig, s->sig_len, pae, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok;
}

int bundle_verify(const struct bundle *b, const struct trust_store *t, struct bundle_signers *ret,
                  struct policy_error *err)
{
	struct bundle_signers signers = {0};
	size_t i, j, unknown = 0, pae_len;
	uint8_t *pae;
	int r;

	if (strcmp(b->payload_type, BUNDLE_PAYLOAD_TYPE) != 0)
		return vigil_reasonf(err, -EPROTO, "payload_type",
		                     "payloadType '%s': expected '%s'", b->payload_type,
		                     BUNDLE_PAYLOAD_TYPE);
	r = bundle_pae(b->payload_type, b->payload, b->payload_len, &pae, &pae_len);
	if (r < 0)
		return r;
	for (i = 0; i < b->n_sigs && r >= 0; i++) {
		const struct trust_key *k = trust_find(t, b->sigs[i].keyid);

		if (!k) {
			unknown++;
			continue;
		}
		/* A trusted key's signature that fails means tampering, not a missing vote. */
		if (!sig_ok(k->pkey, &b->sigs[i], pae, pae_len)) {
			r = vigil_reasonf(err, -EKEYREJECTED, "bad_signature",
			                  "signatures[%zu]: bad signature by trusted key %s (%s)",
			                  i, k->keyid, k->file);
			break;
		}
		for (j = 0; j < signers.n; j++)
			if (strcmp(signers.keyid[j], k->keyid) == 0)
				break;
		if (j == signers.n)
			memcpy(signers.keyid[signers.n++], k->keyid, BUNDLE_KEYID_HEX);
	}
	free(pae);
	if (r < 0)
		return r;
	if (signers.n == 0)
		return vigil_reasonf(err, -ENOKEY, "unknown_signer",
		                     "no signature by a trusted key (%zu by unknown signers, e.g. "
		                     "%s)",
		                     unknown, b->sigs[0].keyid);
	if (signers.n < t->threshold)
		return vigil_reasonf(err, -EACCES, "below_threshold",
		                     "%zu trusted signer%s, the trust directory requires %u",
		                     signers.n, signers.n == 1 ? "" : "s", t->threshold);
	if (ret)
		*ret = signers;
	return 0;
}

int bundle_open(const char *buf, size_t len, const char *origin, const struct trust_store *t,
                struct bundle **ret_bundle, struct bundle_signers *ret_signers,
                struct policy **ret_policy, struct policy_error *err)
{
	struct policy_error verr = {0};
	struct bundle *b;
	int r;

	r = bundle_decode(buf, len, origin, &b, err);
	if (r < 0)
		return r;
	r = bundle_verify(b, t, ret_signers, &verr);
	if (r < 0) {
		vigil_reasonf(err, r, verr.reason, "%s: %s", origin, verr.msg);
		goto fail;
	}
	/* Only signed bytes reach the policy parser; its refusals are told apart from envelope
	 * ones. */
	r = policy_parse((const char *)b->payload, b->payload_len, origin, ret_policy, err);
	if (r < 0) {
		r = r == -ENOMEM ? r : -EBADMSG;
		if (err)
			err->code = r;
		goto fail;
	}
	*ret_bundle = b;
	return 0;
fail:
	bundle_free(b);
	return r;
}
