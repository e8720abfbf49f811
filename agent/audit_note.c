/* Audit checkpoint keys (Ed25519) and C2SP signed-note tlog-checkpoints. */
#include "agent/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EM_DASH_SP  "\xe2\x80\x94 "
#define SIG_ED25519 0x01

static int b64_encode(const uint8_t *in, size_t n, char *out, size_t size)
{
	if (4 * ((n + 2) / 3) + 1 > size)
		return -ENOBUFS;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Decodes exactly want bytes of standard padded base64; anything else is malformed. */
static int b64_decode_exact(const char *in, size_t len, uint8_t *out, size_t want)
{
	uint8_t buf[256];
	size_t pad = 0;
	int n;

	if (len == 0 || len % 4 || len / 4 * 3 > sizeof(buf))
		return -EBADMSG;
	pad = (in[len - 1] == '=') + (len > 1 && in[len - 2] == '=');
	n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n - pad != want)
		return -EBADMSG;
	memcpy(out, buf, want);
	return 0;
}

static int key_id(const char *name, const uint8_t pub[32], uint8_t id[4])
{
	uint8_t h[32], type = SIG_ED25519;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	         EVP_DigestUpdate(md, name, strlen(name)) && EVP_DigestUpdate(md, "\n", 1) &&
	         EVP_DigestUpdate(md, &type, 1) && EVP_DigestUpdate(md, pub, 32) &&
	         EVP_DigestFinal_ex(md, h, NULL);

	EVP_MD_CTX_free(md);
	if (!ok)
		return -EIO;
	memcpy(id, h, 4);
	return 0;
}

/* Fills pub, name and id from k->pkey. */
static int key_finish(struct audit_key *k, const char *name)
{
	size_t len = sizeof(k->pub);

	if (strlen(name) > AUDIT_ORIGIN_MAX || strpbrk(name, " +\n"))
		return -EINVAL; /* note key names have no spaces or '+' */
	if (!EVP_PKEY_is_a(k->pkey, "ED25519") ||
	    !EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) || len != 32)
		return -EKEYREJECTED;
	snprintf(k->name, sizeof(k->name), "%s", name);
	return key_id(k->name, k->pub, k->id);
}

int audit_key_from_raw(const char *name, const uint8_t pub[32], struct audit_key *k)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (!k->pkey)
		return -EKEYREJECTED;
	r = key_finish(k, name);
	if (r < 0)
		audit_key_free(k);
	return r;
}

void audit_key_free(struct audit_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

static int key_create(const char *path, struct audit_key *k)
{
	FILE *f;
	int fd, r = 0;

	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k->pkey)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
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
	if (r < 0)
		audit_key_free(k);
	return r;
}

int audit_key_vkey(const struct audit_key *k, char *out, size_t size)
{
	uint8_t raw[33];
	char b64[64], id[9];
	int n;

	raw[0] = SIG_ED25519;
	memcpy(raw + 1, k->pub, 32);
	b64_encode(raw, sizeof(raw), b64, sizeof(b64));
	audit_hex(k->id, 4, id);
	n = snprintf(out, size, "%s+%s+%s", k->name, id, b64);
	return n < 0 || (size_t)n >= size ? -ENOBUFS : n;
}

/* A vkey line `name+hex8+base64(0x01||pub)`: the id must match what name and key give. */
static int key_parse_vkey(const char *line, struct audit_key *k)
{
	const char *p1 = strchr(line, '+'), *p2 = p1 ? strchr(p1 + 1, '+') : NULL;
	uint8_t raw[33], id[4];
	char name[AUDIT_ORIGIN_MAX + 1];
	int r;

	if (!p2 || p2 - p1 != 9 || (size_t)(p1 - line) > AUDIT_ORIGIN_MAX ||
	    audit_unhex(p1 + 1, 4, id) < 0 ||
	    b64_decode_exact(p2 + 1, strcspn(p2 + 1, "\r\n"), raw, sizeof(raw)) < 0 ||
	    raw[0] != SIG_ED25519)
		return -EBADMSG;
	memcpy(name, line, (size_t)(p1 - line));
	name[p1 - line] = 0;
	r = audit_key_from_raw(name, raw + 1, k);
	if (r == 0 && memcmp(id, k->id, 4) != 0) {
		audit_key_free(k);
		return -EKEYREJECTED;
	}
	return r;
}

int audit_key_read_public(const char *path, const char *name, struct audit_key *k)
{
	char buf[4096];
	size_t len;
	FILE *f = fopen(path, "re");
	int r;

	memset(k, 0, sizeof(*k));
	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = 0;
	if (strncmp(buf, "-----BEGIN", 10) == 0) {
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

int audit_checkpoint_sign(const struct audit_key *k, const struct audit_checkpoint *cp, char *out,
                          size_t size)
{
	uint8_t sig[4 + 64];
	char root[64], sigb64[128];
	size_t siglen = 64;
	EVP_MD_CTX *md;
	int body, n, ok;

	b64_encode(cp->root, AUDIT_HASH_LEN, root, sizeof(root));
	body = snprintf(out, size, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->n, root);
	if (body < 0 || (size_t)body >= size)
		return -ENOBUFS;
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, k->pkey) &&
	     EVP_DigestSign(md, sig + 4, &siglen, (const unsigned char *)out, (size_t)body) &&
	     siglen == 64;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -EIO;
	memcpy(sig, k->id, 4);
	b64_encode(sig, sizeof(sig), sigb64, sizeof(sigb64));
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
		uint8_t sig[4 + 64];
		const char *b64;
		EVP_MD_CTX *md;
		int ok;

		if (!eol || (size_t)(eol - p) < 4 || memcmp(p, EM_DASH_SP, 4) != 0)
			return -EBADMSG;
		b64 = memchr(p + 4, ' ', (size_t)(eol - p - 4));
		if (!b64)
			return -EBADMSG;
		if ((size_t)(b64 - p - 4) != nlen || memcmp(p + 4, k->name, nlen) != 0 ||
		    b64_decode_exact(b64 + 1, (size_t)(eol - b64 - 1), sig, sizeof(sig)) < 0 ||
		    memcmp(sig, k->id, 4) != 0) {
			p = eol + 1; /* another signer's line: ignored, as the spec says */
			continue;
		}
		md = EVP_MD_CTX_new();
		ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k->pkey) &&
		     EVP_DigestVerify(md, sig + 4, 64, (const unsigned char *)note, body_len) == 1;
		EVP_MD_CTX_free(md);
		return ok ? 0 : -EKEYREJECTED;
	}
	return -ENOKEY;
}
