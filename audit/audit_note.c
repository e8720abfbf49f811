/* Audit checkpoint keys (Ed25519 file key, ECDSA P-256 TPM key) and C2SP signed-note checkpoints.
 */
#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EM_DASH_SP "\xe2\x80\x94 "

static int b64_encode(const uint8_t *in, size_t n, char *out, size_t size)
{
	if (4 * ((n + 2) / 3) + 1 > size)
		return -ENOBUFS;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decodes standard padded base64 of at most max bytes; anything else is malformed. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t max, size_t *ret_len)
{
	uint8_t buf[256];
	size_t pad;
	int n;

	if (len == 0 || len % 4 || len / 4 * 3 > sizeof(buf))
		return -EBADMSG;
	pad = (in[len - 1] == '=') + (len > 1 && in[len - 2] == '=');
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n - pad > max)
		return -EBADMSG;
	memcpy(out, buf, (size_t)n - pad);
	*ret_len = (size_t)n - pad;
	return 0;
}

/* Decodes exactly want bytes of standard padded base64; anything else is malformed. */
static int b64_decode_exact(const char *in, size_t len, uint8_t *out, size_t want)
{
	size_t got;

	return b64_decode(in, len, out, want, &got) < 0 || got != want ? -EBADMSG : 0;
}

static int sha256_parts(const void *a, size_t alen, const void *b, size_t blen, uint8_t h[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) && EVP_DigestUpdate(md, a, alen) &&
	         EVP_DigestUpdate(md, b, blen) && EVP_DigestFinal_ex(md, h, NULL);

	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}

/* C2SP: Ed25519 ids hash name, type and key; ECDSA (type 0x02) ids hash the SPKI alone. */
static int key_id(struct audit_key *k)
{
	uint8_t h[32], prefix[AUDIT_ORIGIN_MAX + 2];
	size_t n = strlen(k->name);
	int r;

	if (k->type == AUDIT_SIG_ECDSA) {
		r = sha256_parts(k->pub, k->pub_len, "", 0, h);
	} else {
		memcpy(prefix, k->name, n);
		prefix[n] = '\n';
		prefix[n + 1] = AUDIT_SIG_ED25519;
		r = sha256_parts(prefix, n + 2, k->pub, k->pub_len, h);
	}
	if (r == 0)
		memcpy(k->id, h, 4);
	return r;
}

/* Fills type, pub, name and id from k->pkey: Ed25519 or ECDSA P-256, nothing else. */
static int key_finish(struct audit_key *k, const char *name)
{
	size_t len = sizeof(k->pub);
	char curve[32];
	unsigned char *der = NULL;
	int n;

	if (strlen(name) > AUDIT_ORIGIN_MAX || strpbrk(name, " +\n"))
		return -EINVAL; /* note key names have no spaces or '+' */
	if (EVP_PKEY_is_a(k->pkey, "ED25519")) {
		if (!EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) || len != 32)
			return -EKEYREJECTED;
		k->type = AUDIT_SIG_ED25519;
	} else if (EVP_PKEY_is_a(k->pkey, "EC") &&
	           EVP_PKEY_get_utf8_string_param(k->pkey, "group", curve, sizeof(curve), NULL) &&
	           strcmp(curve, "prime256v1") == 0) {
		n = i2d_PUBKEY(k->pkey, &der);
		if (n <= 0 || (size_t)n > sizeof(k->pub)) {
			OPENSSL_free(der);
			return -EKEYREJECTED;
		}
		memcpy(k->pub, der, (size_t)n);
		OPENSSL_free(der);
		len = (size_t)n;
		k->type = AUDIT_SIG_ECDSA;
	} else {
		return -EKEYREJECTED;
	}
	k->pub_len = len;
	snprintf(k->name, sizeof(k->name), "%s", name);
	return key_id(k);
}

int audit_key_from_public(const char *name, const uint8_t *pub, size_t len, struct audit_key *k)
{
	const unsigned char *p = pub;
	int r;

	memset(k, 0, sizeof(*k));
	if (len == 32)
		k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	else if (len <= AUDIT_PUB_MAX)
		k->pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (!k->pkey || (len != 32 && p != pub + len))
		r = -EKEYREJECTED; /* trailing bytes: not one key */
	else
		r = key_finish(k, name);
	if (r < 0)
		audit_key_free(k);
	return r;
}

int audit_key_from_raw(const char *name, const uint8_t pub[32], struct audit_key *k)
{
	return audit_key_from_public(name, pub, 32, k);
}

int audit_key_from_base64(const char *name, const char *b64, struct audit_key *k)
{
	uint8_t pub[AUDIT_PUB_MAX];
	size_t len;

	memset(k, 0, sizeof(*k));
	if (b64_decode(b64, strlen(b64), pub, sizeof(pub), &len) < 0)
		return -EBADMSG;
	return audit_key_from_public(name, pub, len, k);
}

int audit_key_pubkey_base64(const struct audit_key *k, char *out, size_t size)
{
	return b64_encode(k->pub, k->pub_len, out, size);
}

int audit_key_external(const char *name, const uint8_t *spki, size_t len, audit_sign_fn sign,
                       void (*sign_free)(void *ctx), void *ctx, struct audit_key *k)
{
	int r = audit_key_from_public(name, spki, len, k);

	if (r == 0 && k->type != AUDIT_SIG_ECDSA) {
		audit_key_free(k);
		r = -EKEYREJECTED;
	}
	if (r < 0) {
		if (sign_free)
			sign_free(ctx); /* the caller handed it over either way */
		return r;
	}
	k->sign = sign;
	k->sign_free = sign_free;
	k->sign_ctx = ctx;
	return 0;
}

void audit_key_free(struct audit_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
	if (k->sign_free)
		k->sign_free(k->sign_ctx);
	k->sign_free = NULL;
	k->sign = NULL;
	k->sign_ctx = NULL;
}

static int key_create(const char *path, struct audit_key *k)
{
	FILE *f;
	int fd, r = 0;

	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k->pkey)
		return -EIO;
	/* 0600 is the most a umask leaves; fchmod makes it exactly that whatever the umask. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) {
		r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	if (!PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0 ||
	    fsync(fd) < 0)
		r = -EIO;
	fclose(f);
	if (r < 0)
		unlink(path); /* a half-written key would fail every later start */
	return r;
}

/* The key must be vigild's alone: a regular file owned by us, no access for group or others. */
static int key_file_private(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* Fail closed: a key others could read may already be copied; refuse, do not repair. */
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

int audit_key_load_or_create(const char *state_dir, const char *name, struct audit_key *k)
{
	char path[4096];
	FILE *f;
	int fd, r;

	memset(k, 0, sizeof(*k));
	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/" AUDIT_KEY_FILE, state_dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		r = key_create(path, k);
	} else if (fd < 0) {
		r = -errno;
	} else if ((r = key_file_private(fd)) < 0) {
		close(fd);
	} else {
		f = fdopen(fd, "r");
		if (!f) {
			close(fd);
			return -ENOMEM;
		}
		k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		r = k->pkey ? 0 : -EKEYREJECTED;
	}
	if (r >= 0)
		r = key_finish(k, name);
	if (r >= 0 && k->type != AUDIT_SIG_ED25519)
		r = -EKEYREJECTED; /* the file key is Ed25519; ECDSA keys live in the TPM */
	if (r < 0)
		audit_key_free(k);
	return r;
}

int audit_key_vkey(const struct audit_key *k, char *out, size_t size)
{
	uint8_t raw[1 + AUDIT_PUB_MAX];
	char b64[4 * ((sizeof(raw) + 2) / 3) + 1], id[9];
	int n;

	raw[0] = k->type;
	memcpy(raw + 1, k->pub, k->pub_len);
	b64_encode(raw, 1 + k->pub_len, b64, sizeof(b64));
	vigil_hex(k->id, 4, id);
	n = snprintf(out, size, "%s+%s+%s", k->name, id, b64);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

/* A vkey line `name+hex8+base64(type||pub)`: the id must match what name and key give. */
static int key_parse_vkey(const char *line, struct audit_key *k)
{
	const char *p1 = strchr(line, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	uint8_t raw[1 + AUDIT_PUB_MAX], id[4];
	char name[AUDIT_ORIGIN_MAX + 1];
	size_t len;
	int r;

	if (!p2 || p2 - p1 != 9 || (size_t)(p1 - line) > AUDIT_ORIGIN_MAX ||
	    vigil_unhex(p1 + 1, 4, id) < 0 ||
	    b64_decode(p2 + 1, strcspn(p2 + 1, "\r\n"), raw, sizeof(raw), &len) < 0 || len < 2)
		return -EBADMSG;
	memcpy(name, line, (size_t)(p1 - line));
	name[p1 - line] = 0;
	if (!((raw[0] == AUDIT_SIG_ED25519 && len == 33) ||
	      (raw[0] == AUDIT_SIG_ECDSA && len != 33)))
		return -EBADMSG;
	r = audit_key_from_public(name, raw + 1, len - 1, k);
	if (r == 0 && (memcmp(id, k->id, 4) != 0 || k->type != raw[0])) {
		audit_key_free(k);
		return -EKEYREJECTED;
	}
	return r;
}

int audit_key_read_public(const char *path, const char *name, struct audit_key *k)
{
	char buf[4096];
	struct stat st;
	size_t len;
	FILE *f;
	int fd, r;

	memset(k, 0, sizeof(*k));
	/* A regular-file check: a FIFO in the key's place must not hang us. */
	fd = vigil_open_regular(path, 0, &st);
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	buf[len] = 0;
	if (len == 0) {
		r = -ENODATA; /* an empty key file is no key: fail closed */
	} else if (strncmp(buf, "-----BEGIN", 10) == 0) {
		rewind(f);
		k->pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		r = k->pkey ? key_finish(k, name ? name : "") : -EBADMSG;
		if (r < 0)
			audit_key_free(k);
	} else {
		r = key_parse_vkey(buf, k);
	}
	fclose(f);
	return r;
}

/* Signs the note text: Ed25519 over the text, ECDSA over its SHA-256 (DER signature). */
static int note_sign(const struct audit_key *k, const char *text, size_t len, uint8_t *sig,
                     size_t *sig_len)
{
	uint8_t digest[AUDIT_HASH_LEN];
	EVP_MD_CTX *md;
	int ok;

	if (k->sign) {
		int r = sha256_parts(text, len, "", 0, digest);

		return r < 0 ? r : k->sign(k->sign_ctx, digest, sig, sig_len);
	}
	md = EVP_MD_CTX_new();
	ok = md &&
	     EVP_DigestSignInit(md, NULL, k->type == AUDIT_SIG_ECDSA ? EVP_sha256() : NULL, NULL,
	                        k->pkey) &&
	     EVP_DigestSign(md, sig, sig_len, (const unsigned char *)text, len);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}

static bool note_verify(const struct audit_key *k, const char *text, size_t len, const uint8_t *sig,
                        size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	/* Ed25519 signatures have one length; a DER ECDSA signature is checked by OpenSSL. */
	ok = md && (k->type != AUDIT_SIG_ED25519 || sig_len == 64) &&
	     EVP_DigestVerifyInit(md, NULL, k->type == AUDIT_SIG_ECDSA ? EVP_sha256() : NULL, NULL,
	                          k->pkey) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)text, len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

int audit_checkpoint_sign(const struct audit_key *k, const struct audit_checkpoint *cp, char *out,
                          size_t size)
{
	uint8_t sig[4 + AUDIT_SIG_MAX];
	char root[64], sigb64[4 * ((sizeof(sig) + 2) / 3) + 1];
	size_t siglen = AUDIT_SIG_MAX;
	int body, n, r;

	b64_encode(cp->root, AUDIT_HASH_LEN, root, sizeof(root));
	body = snprintf(out, size, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->n, root);
	if (body < 0 || (size_t)body >= size)
		return -ENOBUFS;
	r = note_sign(k, out, (size_t)body, sig + 4, &siglen);
	if (r < 0)
		return r;
	if (siglen > AUDIT_SIG_MAX || (k->type == AUDIT_SIG_ED25519 && siglen != 64))
		return -EIO;
	memcpy(sig, k->id, 4);
	b64_encode(sig, 4 + siglen, sigb64, sizeof(sigb64));
	n = snprintf(out + body, size - (size_t)body, "\n" EM_DASH_SP "%s %s\n", k->name, sigb64);
	if (n < 0 || (size_t)n >= size - (size_t)body)
		return -ENOBUFS;
	return body + n;
}

/* Parses the checkpoint body: origin, size and root hash lines, nothing else. */
static int parse_body(const char *body, size_t len, struct audit_checkpoint *cp)
{
	const char *l1 = memchr(body, '\n', len), *l2, *l3;
	char num[24];
	char *end;

	if (!l1 || (size_t)(l1 - body) > AUDIT_ORIGIN_MAX || l1 == body)
		return -EBADMSG;
	l2 = memchr(l1 + 1, '\n', len - (size_t)(l1 + 1 - body));
	if (!l2 || l2 - l1 - 1 <= 0 || l2 - l1 - 1 >= (long)sizeof(num))
		return -EBADMSG;
	l3 = memchr(l2 + 1, '\n', len - (size_t)(l2 + 1 - body));
	if (!l3 || l3 + 1 != body + len)
		return -EBADMSG;
	memcpy(cp->origin, body, (size_t)(l1 - body));
	cp->origin[l1 - body] = 0;
	memcpy(num, l1 + 1, (size_t)(l2 - l1 - 1));
	num[l2 - l1 - 1] = 0;
	if (num[0] < '0' || num[0] > '9' || (num[0] == '0' && num[1]))
		return -EBADMSG;
	errno = 0;
	cp->n = strtoull(num, &end, 10);
	if (*end || errno)
		return -EBADMSG;
	return b64_decode_exact(l2 + 1, (size_t)(l3 - l2 - 1), cp->root, AUDIT_HASH_LEN);
}

int audit_checkpoint_open(const struct audit_key *k, const char *note, size_t len,
                          struct audit_checkpoint *ret)
{
	const char *split = NULL, *p, *end = note + len;
	size_t body_len, nlen = strlen(k->name);
	int r;

	if (len > AUDIT_NOTE_MAX || len < 2 || note[len - 1] != '\n')
		return -EBADMSG;
	for (p = note; p + 1 < end; p++)
		if (p[0] == '\n' && p[1] == '\n')
			split = p; /* the last blank line separates text and signatures */
	if (!split)
		return -EBADMSG;
	body_len = (size_t)(split + 1 - note);
	r = parse_body(note, body_len, ret);
	if (r < 0)
		return r;
	for (p = split + 2; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		uint8_t sig[4 + AUDIT_SIG_MAX];
		size_t sig_len;
		const char *b64;

		if (!eol || (size_t)(eol - p) < 4 || memcmp(p, EM_DASH_SP, 4) != 0)
			return -EBADMSG;
		b64 = memchr(p + 4, ' ', (size_t)(eol - p - 4));
		if (!b64)
			return -EBADMSG;
		if ((size_t)(b64 - p - 4) != nlen || memcmp(p + 4, k->name, nlen) != 0 ||
		    b64_decode(b64 + 1, (size_t)(eol - b64 - 1), sig, sizeof(sig), &sig_len) < 0 ||
		    sig_len < 5 || memcmp(sig, k->id, 4) != 0) {
			p = eol + 1; /* another signer's line: ignored, as the spec says */
			continue;
		}
		/* Fail closed: a line by this key that does not verify rejects the note. */
		return note_verify(k, note, body_len, sig + 4, sig_len - 4) ? 0 : -EKEYREJECTED;
	}
	return -ENOKEY;
}
