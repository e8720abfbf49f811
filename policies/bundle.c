/* DSSE policy bundles: strict envelope decoding, PAE, OpenSSL 3 signing and verification, trust roots. */
#include "policies/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* --- base64 ------------------------------------------------------------------------------ */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *bundle_b64_encode(const uint8_t *in, size_t len)
{
	size_t i, o = 0;
	char *out;

	if (len > SIZE_MAX / 2)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = 0;
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Rejects rather than repairs: whitespace, missing padding and non-zero trailing bits all fail. */
int bundle_b64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	size_t i, o = 0, pad = 0;
	uint8_t *out;

	if (len % 4 != 0)
		return -EINVAL;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4], k;

		for (k = 0; k < 4; k++) {
			bool is_pad = last && k >= 4 - (int)pad;

			v[k] = is_pad ? 0 : b64_value(in[i + k]);
			if (v[k] < 0)
				goto bad;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* Canonical form only: the bits padding drops must be zero. */
		if (last && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff))))
			goto bad;
		out[o++] = w >> 16;
		if (!last || pad < 2)
			out[o++] = (w >> 8) & 0xff;
		if (!last || pad < 1)
			out[o++] = w & 0xff;
	}
	*ret = out;
	*ret_len = o;
	return 0;
bad:
	free(out);
	return -EINVAL;
}

/* --- envelope ------------------------------------------------------------------------------ */

static void sha256(const void *buf, size_t len, uint8_t out[POLICY_SHA256_LEN])
{
	EVP_Digest(buf, len, out, NULL, EVP_sha256(), NULL);
}

void bundle_free(struct bundle *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n_sigs; i++)
		free(b->sigs[i].sig);
	free(b->payload_type);
	free(b->payload);
	free(b);
}

bool bundle_is_envelope(const char *buf, size_t len)
{
	json_t *root = json_loadb(buf, len, 0, NULL);
	bool is = json_is_object(root) && json_object_get(root, "payloadType");

	json_decref(root);
	return is;
}

static bool is_keyid(const char *s)
{
	size_t i;

	for (i = 0; i < BUNDLE_KEYID_HEX - 1; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == 0;
}

/* Every field is required and nothing else may appear: an envelope is never "repaired". */
static int only_keys(json_t *obj, const char *a, const char *b, const char *c)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, a) && strcmp(key, b) && (!c || strcmp(key, c)))
			return -EINVAL;
	}
	return 0;
}

static int decode_sig(json_t *s, size_t i, const char *origin, struct bundle_sig *out,
		      struct policy_error *err)
{
	json_t *keyid = json_object_get(s, "keyid"), *sig = json_object_get(s, "sig");

	if (!json_is_object(s) || only_keys(s, "keyid", "sig", NULL) < 0)
		return policy_errorf(err, -EINVAL,
				     "%s: signatures[%zu]: expected an object with keyid and sig",
				     origin, i);
	if (!json_is_string(keyid) || !is_keyid(json_string_value(keyid)))
		return policy_errorf(err, -EINVAL,
				     "%s: signatures[%zu].keyid: expected 64 lower-case hex digits",
				     origin, i);
	if (!json_is_string(sig) || json_string_length(sig) > BUNDLE_SIG_MAX ||
	    bundle_b64_decode(json_string_value(sig), json_string_length(sig), &out->sig,
			      &out->sig_len) < 0 ||
	    out->sig_len == 0)
		return policy_errorf(err, -EINVAL,
				     "%s: signatures[%zu].sig: expected canonical base64 of at most "
				     "%u characters",
				     origin, i, BUNDLE_SIG_MAX);
	memcpy(out->keyid, json_string_value(keyid), BUNDLE_KEYID_HEX);
	return 0;
}

static int decode_root(json_t *root, const char *origin, struct bundle *b, struct policy_error *err)
{
	json_t *type = json_object_get(root, "payloadType");
	json_t *payload = json_object_get(root, "payload");
	json_t *sigs = json_object_get(root, "signatures");
	size_t i;
	int r;

	if (!json_is_object(root))
		return policy_errorf(err, -EINVAL, "%s: a bundle is a JSON object", origin);
	if (only_keys(root, "payloadType", "payload", "signatures") < 0)
		return policy_errorf(err, -EINVAL,
				     "%s: unknown field (a bundle has payloadType, payload, "
				     "signatures)",
				     origin);
	if (!json_is_string(type) || json_string_length(type) == 0 ||
	    json_string_length(type) > 256 ||
	    strlen(json_string_value(type)) != json_string_length(type))
		return policy_errorf(err, -EINVAL, "%s: payloadType: expected a string", origin);
	if (!json_is_string(payload) ||
	    bundle_b64_decode(json_string_value(payload), json_string_length(payload), &b->payload,
			      &b->payload_len) < 0)
		return policy_errorf(err, -EINVAL, "%s: payload: expected canonical base64", origin);
	if (!json_is_array(sigs) || json_array_size(sigs) == 0 ||
	    json_array_size(sigs) > BUNDLE_MAX_SIGS)
		return policy_errorf(err, -EINVAL, "%s: signatures: expected 1 to %u signatures",
				     origin, BUNDLE_MAX_SIGS);
	b->payload_type = strdup(json_string_value(type));
	if (!b->payload_type)
		return -ENOMEM;
	for (i = 0; i < json_array_size(sigs); i++) {
		r = decode_sig(json_array_get(sigs, i), i, origin, &b->sigs[i], err);
		if (r < 0)
			return r;
		b->n_sigs++;
	}
	sha256(b->payload, b->payload_len, b->payload_digest);
	return 0;
}

int bundle_decode(const char *buf, size_t len, const char *origin, struct bundle **ret,
		  struct policy_error *err)
{
	json_error_t jerr;
	struct bundle *b;
	json_t *root;
	int r;

	if (len > BUNDLE_MAX_BYTES)
		return policy_errorf(err, -EFBIG, "%s: bundle larger than %u bytes", origin,
				     BUNDLE_MAX_BYTES);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return policy_errorf(err, -EINVAL, "%s:%d:%d: %s", origin, jerr.line, jerr.column,
				     jerr.text);
	b = calloc(1, sizeof(*b));
	if (!b) {
		json_decref(root);
		return -ENOMEM;
	}
	r = decode_root(root, origin, b, err);
	json_decref(root);
	if (r < 0) {
		bundle_free(b);
		return r;
	}
	sha256(buf, len, b->digest);
	*ret = b;
	return 0;
}

int bundle_new(const void *payload, size_t len, struct bundle **ret)
{
	struct bundle *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->payload_type = strdup(BUNDLE_PAYLOAD_TYPE);
	b->payload = malloc(len ? len : 1);
	if (!b->payload_type || !b->payload) {
		bundle_free(b);
		return -ENOMEM;
	}
	memcpy(b->payload, payload, len);
	b->payload_len = len;
	sha256(b->payload, b->payload_len, b->payload_digest);
	*ret = b;
	return 0;
}

int bundle_encode(const struct bundle *b, char **ret, size_t *ret_len)
{
	json_t *root, *sigs = json_array();
	char *payload = bundle_b64_encode(b->payload, b->payload_len);
	size_t i;
	int r = -ENOMEM;

	root = payload && sigs ? json_pack("{s:s, s:s, s:o}", "payloadType", b->payload_type,
					   "payload", payload, "signatures", sigs)
			       : NULL;
	free(payload);
	if (!root) {
		json_decref(sigs);
		return -ENOMEM;
	}
	for (i = 0; i < b->n_sigs; i++) {
		char *sig = bundle_b64_encode(b->sigs[i].sig, b->sigs[i].sig_len);

		if (!sig || json_array_append_new(sigs, json_pack("{s:s, s:s}", "keyid",
								  b->sigs[i].keyid, "sig", sig))) {
			free(sig);
			goto out;
		}
		free(sig);
	}
	*ret = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (*ret) {
		*ret_len = strlen(*ret);
		r = 0;
	}
out:
	json_decref(root);
	return r;
}

int bundle_pae(const char *type, const uint8_t *body, size_t len, uint8_t **ret, size_t *ret_len)
{
	size_t tlen = strlen(type);
	char head[64];
	int h = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
	char mid[32];
	int m = snprintf(mid, sizeof(mid), " %zu ", len);
	uint8_t *out = malloc((size_t)h + tlen + (size_t)m + len + 1);

	if (!out)
		return -ENOMEM;
	memcpy(out, head, (size_t)h);
	memcpy(out + h, type, tlen);
	memcpy(out + h + tlen, mid, (size_t)m);
	memcpy(out + h + tlen + m, body, len);
	*ret = out;
	*ret_len = (size_t)h + tlen + (size_t)m + len;
	return 0;
}

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
	sha256(der, (size_t)n, d);
	OPENSSL_free(der);
	policy_hex(d, sizeof(d), out);
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

int bundle_read_file(const char *path, size_t max, char **ret, size_t *ret_len,
		     struct policy_error *err)
{
	struct stat st;
	size_t off = 0;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return policy_errorf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return policy_errorf(err, -EINVAL, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return policy_errorf(err, -EFBIG, "%s: larger than %zu bytes", path, max);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size && (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = 0;
	*ret = buf;
	*ret_len = off;
	return 0;
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
		return policy_errorf(err, -EINVAL,
				     "%s: expected a number of signers from 1 to %zu", path,
				     t->n_keys);
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
		return policy_errorf(err, -EPROTO, "payloadType '%s': expected '%s'",
				     b->payload_type, BUNDLE_PAYLOAD_TYPE);
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
			r = policy_errorf(err, -EKEYREJECTED,
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
		return policy_errorf(err, -ENOKEY,
				     "no signature by a trusted key (%zu by unknown signers, e.g. "
				     "%s)",
				     unknown, b->sigs[0].keyid);
	if (signers.n < t->threshold)
		return policy_errorf(err, -EACCES,
				     "%zu trusted signer%s, the trust directory requires %u", signers.n,
				     signers.n == 1 ? "" : "s", t->threshold);
	if (ret)
		*ret = signers;
	return 0;
}

int bundle_open(const char *buf, size_t len, const char *origin, const struct trust_store *t,
		struct bundle **ret_bundle, struct bundle_signers *ret_signers,
		struct policy **ret_policy, struct policy_error *err)
{
	struct policy_error verr = {{0}};
	struct bundle *b;
	int r;

	r = bundle_decode(buf, len, origin, &b, err);
	if (r < 0)
		return r;
	r = bundle_verify(b, t, ret_signers, &verr);
	if (r < 0) {
		policy_errorf(err, r, "%s: %s", origin, verr.msg);
		goto fail;
	}
	/* Only signed bytes reach the policy parser; its refusals are told apart from envelope ones. */
	r = policy_parse((const char *)b->payload, b->payload_len, origin, ret_policy, err);
	if (r < 0) {
		r = r == -ENOMEM ? r : -EBADMSG;
		goto fail;
	}
	*ret_bundle = b;
	return 0;
fail:
	bundle_free(b);
	return r;
}
