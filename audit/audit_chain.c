/* Audit record encoding and checking: one JSON line per record, chained with SHA-256. */
/* SHA256_Init and friends hash records without EVP's per-call setup (chain_hash); OpenSSL 3
 * still ships them, marked deprecated. */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>

#include "audit/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int audit_chain_init(struct audit_chain *c)
{
	memset(c, 0, sizeof(*c));
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	c->md = EVP_MD_CTX_new();
	if (!c->sha256 || !c->md) {
		audit_chain_free(c);
		return -ENOMEM;
	}
	return 0;
}

void audit_chain_free(struct audit_chain *c)
{
	EVP_MD_CTX_free(c->md);
	EVP_MD_free(c->sha256);
	c->md = NULL;
	c->sha256 = NULL;
}

/*
 * h(n) = SHA-256(h(n-1) || record bytes) on a stack SHA256_CTX: EVP_DigestInit_ex2 frees and
 * allocates its state on every call, a malloc, a free and a cleanse per record. (Driving
 * SHA256_Transform block by block was measured too: no faster.)
 */
static void chain_hash(const uint8_t prev[AUDIT_HASH_LEN], const char *rec, size_t len,
                       uint8_t out[AUDIT_HASH_LEN])
{
	SHA256_CTX ctx;

	/* These return 1 unless given NULL pointers. */
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, prev, AUDIT_HASH_LEN);
	SHA256_Update(&ctx, rec, len);
	SHA256_Final(out, &ctx);
}

int audit_record_encode(struct audit_chain *c, const char *kind, const char *members,
                        size_t members_len, char *out, size_t size)
{
	size_t klen = strlen(kind), len;
	uint8_t h[AUDIT_HASH_LEN];
	SHA256_CTX ctx;
	/* Built behind h(n-1) in the room the trailer needs later: one SHA256_Update over both. */
	char *rec = out + AUDIT_HASH_LEN, *p = rec;

	/* {"n": 20 digits ,"k":" kind " , members trailer \n */
	if (klen > AUDIT_KIND_MAX ||
	    5 + 20 + 6 + klen + 2 + members_len + AUDIT_TRAILER_LEN + 1 > size)
		return -ENOBUFS;
	memcpy(out, c->h, AUDIT_HASH_LEN);
	memcpy(p, "{\"n\":", 5);
	p = audit_put_u64(p + 5, c->n + 1);
	memcpy(p, ",\"k\":\"", 6);
	memcpy(p + 6, kind, klen);
	p += 6 + klen;
	*p++ = '"';
	if (members_len) {
		*p++ = ',';
		memcpy(p, members, members_len);
		p += members_len;
	}
	len = (size_t)(p - rec);
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, out, AUDIT_HASH_LEN + len);
	SHA256_Final(h, &ctx);
	memmove(out, rec, len);
	p = out + len;
	memcpy(p, ",\"h\":\"", 6);
	vigil_hex(h, AUDIT_HASH_LEN, p + 6);
	memcpy(p + 6 + AUDIT_HEX_LEN, "\"}\n", 3);
	p += AUDIT_TRAILER_LEN + 1;
	c->n++;
	memcpy(c->h, h, AUDIT_HASH_LEN);
	return (int)(p - out);
}

int audit_record_member(const char *line, size_t len, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *v, *end;
	int plen = snprintf(pat, sizeof(pat), "\"%s\":\"", key);

	if (plen < 0 || (size_t)plen >= sizeof(pat))
		return -EINVAL;
	v = memmem(line, len, pat, (size_t)plen);
	if (!v)
		return -ENOENT;
	v += plen;
	end = memchr(v, '"', len - (size_t)(v - line));
	if (!end || (size_t)(end - v) >= size)
		return -EBADMSG;
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = 0;
	return 0;
}

#define FAIL(r, ...) (snprintf(msg, msg_size, __VA_ARGS__), (r))

/* Parses the fixed head `{"n":N,"k":"KIND"` and returns the offset after it, or -EBADMSG. */
static int parse_head(const char *line, size_t plen, uint64_t *n, char *kind)
{
	size_t i = 5, k;
	uint64_t v = 0;

	if (plen < 5 || memcmp(line, "{\"n\":", 5) != 0)
		return -EBADMSG;
	if (i < plen && line[i] == '0')
		return -EBADMSG; /* no leading zeros: one encoding per number */
	for (k = 0; i < plen && line[i] >= '0' && line[i] <= '9'; i++, k++) {
		if (k >= 19)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (k == 0 || plen - i < 7 || memcmp(line + i, ",\"k\":\"", 6) != 0)
		return -EBADMSG;
	i += 6;
	for (k = 0; i < plen && line[i] != '"'; i++, k++) {
		if (k >= AUDIT_KIND_MAX || !((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_'))
			return -EBADMSG;
		kind[k] = line[i];
	}
	kind[k] = 0;
	if (k == 0 || i >= plen)
		return -EBADMSG;
	i++;
	if (i < plen && line[i] != ',')
		return -EBADMSG;
	*n = v;
	return (int)i;
}

/* The trailer `,"h":"HEX"}\n`: h into h; *plen = the length before it. -EBADMSG, -EPROTO. */
static int parse_trailer(const char *line, size_t len, size_t *plen, uint8_t *h)
{
	if (len < AUDIT_TRAILER_LEN + 1 + 16 || line[len - 1] != '\n')
		return -EBADMSG;
	*plen = len - 1 - AUDIT_TRAILER_LEN;
	if (memcmp(line + *plen, ",\"h\":\"", 6) != 0 ||
	    memcmp(line + *plen + 6 + AUDIT_HEX_LEN, "\"}", 2) != 0 ||
	    vigil_unhex(line + *plen + 6, AUDIT_HASH_LEN, h) < 0)
		return -EPROTO;
	return 0;
}

int audit_record_frame(const char *line, size_t len, struct audit_record_view *ret,
                       uint8_t h[AUDIT_HASH_LEN])
{
	size_t plen;

	if (parse_trailer(line, len, &plen, h) < 0 ||
	    parse_head(line, plen, &ret->n, ret->kind) < 0)
		return -EBADMSG;
	ret->line = line;
	ret->len = len;
	return 0;
}

int audit_record_check(struct audit_chain *c, const char *line, size_t len,
                       struct audit_record_view *ret, char *msg, size_t msg_size)
{
	uint8_t want[AUDIT_HASH_LEN], got[AUDIT_HASH_LEN], prev[AUDIT_HASH_LEN];
	char prevhex[AUDIT_HEX_LEN + 1];
	size_t plen, i;
	uint64_t n;
	int r = parse_trailer(line, len, &plen, want);

	if (r == -EBADMSG)
		return FAIL(-EBADMSG, "line too short or not terminated");
	if (r < 0)
		return FAIL(-EBADMSG, "no \"h\" member at the end of the line");
	/* Eight bytes at a time (this runs over every byte the exporter and `vigil log verify`
	 * read): a word has a byte below 0x20 iff (w - 0x20..20) & ~w & 0x80..80 is not 0. */
	for (i = 0; i + 8 <= plen; i += 8) {
		uint64_t w;

		memcpy(&w, line + i, 8);
		if ((w - 0x2020202020202020ull) & ~w & 0x8080808080808080ull)
			break;
	}
	for (; i < plen; i++)
		if ((unsigned char)line[i] < 0x20)
			return FAIL(-EBADMSG, "control byte 0x%02x at column %zu",
			            (unsigned char)line[i], i);
	if (parse_head(line, plen, &n, ret->kind) < 0)
		return FAIL(-EBADMSG, "malformed record head");
	ret->n = n;
	ret->line = line;
	ret->len = len;

	memcpy(prev, c->h, sizeof(prev));
	if (c->n == UINT64_MAX) {
		/* Seeding: only record 1 or the "file" record that opens a rotated file. */
		if (n == 1) {
			memset(prev, 0, sizeof(prev));
		} else if (strcmp(ret->kind, "file") != 0 ||
		           audit_record_member(line, plen, "prev", prevhex, sizeof(prevhex)) < 0 ||
		           strlen(prevhex) != AUDIT_HEX_LEN ||
		           vigil_unhex(prevhex, AUDIT_HASH_LEN, prev) < 0) {
			return FAIL(-EBADMSG, "file does not start with record 1 or a file record");
		}
	} else if (n != c->n + 1) {
		return FAIL(-ERANGE, "record number %llu where %llu was expected",
		            (unsigned long long)n, (unsigned long long)(c->n + 1));
	} else if (strcmp(ret->kind, "file") == 0) {
		vigil_hex(c->h, AUDIT_HASH_LEN, prevhex);
		char got_prev[AUDIT_HEX_LEN + 1];

		if (audit_record_member(line, plen, "prev", got_prev, sizeof(got_prev)) < 0 ||
		    strcmp(got_prev, prevhex) != 0)
			return FAIL(-EILSEQ, "file record names another previous hash");
	}
	chain_hash(prev, line, plen, got);
	if (memcmp(got, want, sizeof(got)) != 0)
		return FAIL(-EILSEQ, "hash mismatch: the record or one before it was altered");
	c->n = n;
	memcpy(c->h, got, sizeof(got));
	return 0;
}

void audit_file_name(uint32_t seq, char *out, size_t size)
{
	snprintf(out, size, AUDIT_FILE_PREFIX "%06u" AUDIT_FILE_SUFFIX, seq);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int audit_list_files(const char *dir, uint32_t **ret_seqs, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	uint32_t *seqs = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char name[64];
		unsigned int seq;
		int used = 0;

		if (sscanf(de->d_name, AUDIT_FILE_PREFIX "%u" AUDIT_FILE_SUFFIX "%n", &seq,
		           &used) != 1 ||
		    (size_t)used != strlen(de->d_name) || seq == 0)
			continue;
		audit_file_name(seq, name, sizeof(name));
		if (strcmp(name, de->d_name) != 0)
			continue; /* only the canonical spelling */
		if (n == cap) {
			uint32_t *grown = realloc(seqs, (cap = cap ? 2 * cap : 16) * sizeof(*seqs));

			if (!grown) {
				free(seqs);
				closedir(d);
				return -ENOMEM;
			}
			seqs = grown;
		}
		seqs[n++] = seq;
	}
	closedir(d);
	if (n)
		qsort(seqs, n, sizeof(*seqs), cmp_u32);
	*ret_seqs = seqs;
	*ret_n = n;
	return 0;
}

int audit_vformat_members(char *buf, size_t size, const char *fmt, va_list ap)
{
	char ts[VIGIL_RFC3339_LEN];
	int n, m;

	vigil_rfc3339_now(ts);
	n = snprintf(buf, size, "\"time\":\"%s\",", ts);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	m = vsnprintf(buf + n, size - (size_t)n, fmt, ap);
	if (m < 0 || (size_t)m >= size - (size_t)n)
		return -ENOBUFS;
	return n + m;
}
