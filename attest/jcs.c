/* RFC 8785 JSON canonicalization (JCS), the KBS evidence binding digest, base64 and hex. */
#include "attest/kbs.h"
#include "lib/util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *kbs_b64(const void *data, size_t len, bool url)
{
	const uint8_t *p = data;
	const char *tab = url ? b64url : b64std;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		if (!url) {
			*o++ = '=';
			*o++ = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		if (!url)
			*o++ = '=';
	}
	*o = 0;
	return out;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

uint8_t *kbs_unb64(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), i, k = 0;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *out;

	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return NULL;
	out = malloc(n * 3 / 4 + 1);
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		int v = b64val(s[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (uint8_t)(acc >> bits);
		}
	}
	*ret_len = k;
	return out;
}

void kbs_hex(const uint8_t *d, size_t n, char *out)
{
	vigil_hex(d, n, out);
}

int kbs_unhex(const char *s, uint8_t *out, size_t len)
{
	if (strlen(s) != 2 * len || vigil_unhex(s, len, out) < 0)
		return -EINVAL;
	return 0;
}

/* --- JCS ----------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

/* ECMAScript JSON.stringify string escaping, which RFC 8785 section 3.2.2.2 adopts. */
static void sb_string(struct sbuf *b, const char *s, size_t len)
{
	size_t i;

	sb_put(b, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		switch (c) {
		case '"':
			sb_put(b, "\\\"", 2);
			break;
		case '\\':
			sb_put(b, "\\\\", 2);
			break;
		case '\b':
			sb_put(b, "\\b", 2);
			break;
		case '\f':
			sb_put(b, "\\f", 2);
			break;
		case '\n':
			sb_put(b, "\\n", 2);
			break;
		case '\r':
			sb_put(b, "\\r", 2);
			break;
		case '\t':
			sb_put(b, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				sb_put(b, esc, 6);
			} else {
				sb_put(b, (const char *)&c, 1);
			}
		}
	}
	sb_put(b, "\"", 1);
}

/* The next UTF-16 code unit of a UTF-8 string (jansson keeps strings valid UTF-8). */
static unsigned int utf16_next(const unsigned char **p, unsigned int *pending)
{
	const unsigned char *s = *p;
	unsigned int cp;

	if (*pending) {
		cp = *pending;
		*pending = 0;
		return cp;
	}
	if (s[0] < 0x80) {
		cp = s[0];
		*p += 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = (s[0] & 0x1fu) << 6 | (s[1] & 0x3fu);
		*p += 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = (s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu);
		*p += 3;
	} else {
		cp = (s[0] & 0x07u) << 18 | (s[1] & 0x3fu) << 12 | (s[2] & 0x3fu) << 6 |
		     (s[3] & 0x3fu);
		*p += 4;
	}
	if (cp >= 0x10000) {
		cp -= 0x10000;
		*pending = 0xdc00 + (cp & 0x3ff);
		return 0xd800 + (cp >> 10);
	}
	return cp;
}

/* RFC 8785 3.2.3: members sorted by their names' UTF-16 code units. */
static int key_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;
	unsigned int px = 0, py = 0;

	for (;;) {
		unsigned int cx, cy;

		if ((!*x && !px) || (!*y && !py))
			return (*x || px) - (*y || py);
		cx = utf16_next(&x, &px);
		cy = utf16_next(&y, &py);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
}

static int jcs_value(struct sbuf *b, const json_t *v, int depth)
{
	char num[32];
	size_t i;

	if (depth > 64)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_NULL:
		sb_put(b, "null", 4);
		return 0;
	case JSON_TRUE:
		sb_put(b, "true", 4);
		return 0;
	case JSON_FALSE:
		sb_put(b, "false", 5);
		return 0;
	case JSON_STRING:
		sb_string(b, json_string_value(v), json_string_length(v));
		return 0;
	case JSON_INTEGER: {
		json_int_t n = json_integer_value(v);

		/* Integers an IEEE double holds exactly print as themselves (ES Number). */
		if (n > 9007199254740991LL || n < -9007199254740991LL)
			return -ERANGE;
		snprintf(num, sizeof(num), "%lld", (long long)n);
		sb_put(b, num, strlen(num));
		return 0;
	}
	case JSON_REAL:
		return -ENOTSUP;
	case JSON_ARRAY:
		sb_put(b, "[", 1);
		for (i = 0; i < json_array_size(v); i++) {
			int r;

			if (i)
				sb_put(b, ",", 1);
			r = jcs_value(b, json_array_get(v, i), depth + 1);
			if (r < 0)
				return r;
		}
		sb_put(b, "]", 1);
		return 0;
	case JSON_OBJECT: {
		size_t n = json_object_size(v), k = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		const char *key;
		json_t *m;
		int r = 0;

		if (!keys)
			return -ENOMEM;
		json_object_foreach((json_t *)v, key, m) keys[k++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);
		sb_put(b, "{", 1);
		for (i = 0; i < n && r == 0; i++) {
			if (i)
				sb_put(b, ",", 1);
			sb_string(b, keys[i], strlen(keys[i]));
			sb_put(b, ":", 1);
			r = jcs_value(b, json_object_get(v, keys[i]), depth + 1);
		}
		sb_put(b, "}", 1);
		free(keys);
		return r;
	}
	}
	return -EINVAL;
}

int jcs_canonicalize(const json_t *v, char **ret)
{
	struct sbuf b = {0};
	int r = jcs_value(&b, v, 0);

	if (r == 0 && (b.oom || !b.p))
		r = -ENOMEM;
	if (r < 0) {
		free(b.p);
		return r;
	}
	*ret = b.p;
	return 0;
}

int kbs_binding_digest(const char *nonce, const json_t *tee_pubkey, const char *additional,
                       uint8_t out[48])
{
	json_t *o = json_object();
	char *text = NULL;
	unsigned int n = 0;
	int r;

	if (!o)
		return -ENOMEM;
	if (additional)
		json_object_set_new(o, "additional-evidence", json_string(additional));
	json_object_set_new(o, "nonce", json_string(nonce));
	json_object_set(o, "tee-pubkey", (json_t *)tee_pubkey);
	r = jcs_canonicalize(o, &text);
	json_decref(o);
	if (r < 0)
		return r;
	if (!EVP_Digest(text, strlen(text), out, &n, EVP_sha384(), NULL) || n != 48)
		r = -EIO;
	free(text);
	return r;
}
