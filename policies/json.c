/* Strict JSON parser into an arena tree (policies/json.h): recursive descent, depth-capped. */
#include "policies/json.h"
#include "lib/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vjson_block {
	struct vjson_block *next;
	size_t used, size;
	_Alignas(8) unsigned char data[];
};

#define BLOCK_MIN (64u << 10)
#define BLOCK_MAX (4u << 20)

struct parser {
	const char *start, *p, *end;
	struct vjson_doc *doc;
	size_t next_block; /* size of the next shared block: grows with the document */
	/* Children of the containers being parsed; a closed container moves its own to the arena.
	 */
	vjson *items;
	size_t n_items, cap_items;
	struct vjson_member *members;
	size_t n_members, cap_members;
	/* Keys seen lately, reused instead of copied: 100,000 rules repeat the same few. */
	struct {
		const char *s;
		uint32_t len;
	} keys[64];
	int depth;
	const char *err_at;
	char err[128];
};

/* align: 8 for tree nodes, 1 for string bytes. */
static void *arena_alloc(struct parser *ps, size_t size, size_t align)
{
	struct vjson_block *b = ps->doc->blocks;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
	void *out;

	if (!b || at > b->size || b->size - at < size) {
		/* Large values get a block of their own, behind the current one (which keeps its
		 * free space); the shared blocks grow with the document. */
		bool own = size > ps->next_block / 2;
		size_t want = own ? size : ps->next_block;

		b = malloc(sizeof(*b) + want);
		if (!b)
			return NULL;
		b->size = want;
		b->used = 0;
		if (own && ps->doc->blocks) {
			b->next = ps->doc->blocks->next;
			ps->doc->blocks->next = b;
		} else {
			b->next = ps->doc->blocks;
			ps->doc->blocks = b;
		}
		if (!own && ps->next_block < BLOCK_MAX)
			ps->next_block *= 2;
		at = 0;
	}
	out = b->data + at;
	b->used = at + size;
	return out;
}

__attribute__((format(printf, 3, 4))) static int fail(struct parser *ps, const char *at,
                                                      const char *fmt, ...)
{
	va_list ap;

	if (!ps->err_at) {
		ps->err_at = at;
		va_start(ap, fmt);
		vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 when invalid: no overlong
 * forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - s) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static int hex4(const char *s, const char *end, uint32_t *ret)
{
	uint32_t v = 0;
	int i;

	if (end - s < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

/* One escape at s (just past the backslash) into o; advances *s. NULL on a bad escape. */
static char *unescape(struct parser *ps, const char **s, char *o)
{
	const char *q = *s;
	int c = vigil_json_escape(*q);
	uint32_t cp, lo;

	if (c >= 0) {
		*o++ = (char)c;
		*s = q + 1;
		return o;
	}
	switch (*q) {
	case 'u':
		if (hex4(q + 1, ps->end, &cp) < 0)
			return fail(ps, q - 1, "invalid escape"), NULL;
		q += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(ps, q - 5, "invalid Unicode '\\u%04X'", cp), NULL;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (ps->end - q < 3 || q[1] != '\\' || q[2] != 'u' ||
			    hex4(q + 3, ps->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
				return fail(ps, q - 5, "invalid Unicode '\\u%04X'", cp), NULL;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			q += 6;
		}
		if (cp == 0)
			return fail(ps, q - 5, "\\u0000 is not allowed"), NULL;
		o = vigil_utf8_put(o, cp);
		break;
	default:
		return fail(ps, q - 1, "invalid escape"), NULL;
	}
	*s = q + 1;
	return o;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Skips bytes that need no attention in a string (printable ASCII but '"' and '\\'), eight at
 * a time: the 13 MiB base64 payload of a bundle is one string. */
static const unsigned char *skip_plain(const unsigned char *s, const unsigned char *e)
{
	while (e - s >= 8) {
		uint64_t w, quote, bslash;

		memcpy(&w, s, 8);
		quote = w ^ (ONES * '"');
		bslash = w ^ (ONES * '\\');
		/* Any byte < 0x20, == '"', == '\\' or >= 0x80 stops the fast path. */
		if (((w - ONES * 0x20) | (quote - ONES) | (bslash - ONES) | w) & HIGHS)
			break;
		s += 8;
	}
	while (s < e && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
		s++;
	return s;
}

/* A string at ps->p (past the opening quote) into the arena. Two passes: find the end and
 * check every byte, then copy (no escapes, the common case) or unescape. */
static int parse_string(struct parser *ps, bool is_key, const char **ret, uint32_t *ret_len)
{
	size_t slot = SIZE_MAX;
	const unsigned char *s = (const unsigned char *)ps->p, *e = (const unsigned char *)ps->end;
	const char *open = ps->p - 1;
	bool escaped = false;
	size_t raw;
	char *out, *o;

	for (;;) {
		s = skip_plain(s, e);
		if (s == e)
			return fail(ps, open, "premature end of input in a string");
		if (*s == '"')
			break;
		if (*s == '\\') {
			if (s + 1 == e)
				return fail(ps, open, "premature end of input in a string");
			escaped = true;
			s += 2;
			continue;
		}
		if (*s < 0x20)
			return fail(ps, (const char *)s, "control character 0x%x in a string", *s);
		raw = utf8_len(s, e);
		if (!raw)
			return fail(ps, (const char *)s, "invalid UTF-8 byte 0x%02x", *s);
		s += raw;
	}
	raw = (size_t)((const char *)s - ps->p);
	if (raw > UINT32_MAX - 1)
		return fail(ps, open, "string too long");
	if (is_key && !escaped && raw <= 32) {
		unsigned int h = (unsigned int)raw * 31u, k;

		for (k = 0; k < raw; k++)
			h = h * 33u + (unsigned char)ps->p[k];
		slot = h % (sizeof(ps->keys) / sizeof(ps->keys[0]));
		if (ps->keys[slot].s && ps->keys[slot].len == raw &&
		    memcmp(ps->keys[slot].s, ps->p, raw) == 0) {
			*ret = ps->keys[slot].s;
			*ret_len = (uint32_t)raw;
			ps->p = (const char *)s + 1;
			return 0;
		}
	}
	out = arena_alloc(ps, raw + 1, 1);
	if (!out)
		return -ENOMEM;
	if (!escaped) {
		memcpy(out, ps->p, raw);
		o = out + raw;
	} else {
		const char *q = ps->p;

		for (o = out; q < (const char *)s;) {
			if (*q != '\\') {
				*o++ = *q++;
				continue;
			}
			q++;
			o = unescape(ps, &q, o);
			if (!o)
				return -EINVAL;
		}
	}
	*o = 0;
	if (slot != SIZE_MAX) {
		ps->keys[slot].s = out;
		ps->keys[slot].len = (uint32_t)raw;
	}
	*ret = out;
	*ret_len = (uint32_t)(o - out);
	ps->p = (const char *)s + 1;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The grammar's number, then long long (jansson's json_int_t) or a finite double. */
static int parse_number(struct parser *ps, vjson *v)
{
	const char *s = ps->p, *q = s;
	bool real = false, neg = *q == '-';
	char small[64], *tmp;
	size_t len;

	if (neg)
		q++;
	if (q == ps->end || !is_digit(*q))
		return fail(ps, s, "invalid token");
	if (*q == '0') {
		q++;
		if (q < ps->end && is_digit(*q))
			return fail(ps, s, "invalid token");
	} else {
		while (q < ps->end && is_digit(*q))
			q++;
	}
	if (q < ps->end && *q == '.') {
		real = true;
		if (++q == ps->end || !is_digit(*q))
			return fail(ps, s, "invalid token");
		while (q < ps->end && is_digit(*q))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		real = true;
		if (++q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q == ps->end || !is_digit(*q))
			return fail(ps, s, "invalid token");
		while (q < ps->end && is_digit(*q))
			q++;
	}
	ps->p = q;
	if (!real) {
		unsigned long long mag = 0,
		                   limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;

		for (q = s + neg; q < ps->p; q++) {
			unsigned int d = (unsigned int)(*q - '0');

			if (mag > (limit - d) / 10)
				return fail(ps, s, "too big %sinteger", neg ? "negative " : "");
			mag = mag * 10 + d;
		}
		v->type = VJSON_INTEGER;
		v->i =
		    neg ? (mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag)
		        : (long long)mag;
		return 0;
	}
	len = (size_t)(ps->p - s);
	tmp = len < sizeof(small) ? small : malloc(len + 1);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	v->type = VJSON_REAL;
	v->d = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	if (isinf(v->d))
		return fail(ps, s, "real number overflow");
	return 0;
}

static int literal(struct parser *ps, const char *word, enum vjson_type t, vjson *v)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, ps->p, "invalid token");
	ps->p += n;
	v->type = t;
	return 0;
}

static int grow(void **v, size_t *cap, size_t size)
{
	size_t ncap = *cap ? 2 * *cap : 64;
	void *n = realloc(*v, ncap * size);

	if (!n)
		return -ENOMEM;
	*v = n;
	*cap = ncap;
	return 0;
}

static int parse_value(struct parser *ps, vjson *v);

static int parse_array(struct parser *ps, vjson *v)
{
	size_t base = ps->n_items, n;
	vjson item;
	void *dst;
	int r;

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		goto done;
	}
	for (;;) {
		r = parse_value(ps, &item);
		if (r < 0)
			return r;
		if (ps->n_items == ps->cap_items &&
		    grow((void **)&ps->items, &ps->cap_items, sizeof(item)) < 0)
			return -ENOMEM;
		ps->items[ps->n_items++] = item;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			break;
		}
		return fail(ps, ps->p, "',' or ']' expected");
	}
done:
	n = ps->n_items - base;
	dst = arena_alloc(ps, n ? n * sizeof(vjson) : 1, 8);
	if (!dst)
		return -ENOMEM;
	if (n)
		memcpy(dst, ps->items + base, n * sizeof(vjson));
	ps->n_items = base;
	v->type = VJSON_ARRAY;
	v->n = (uint32_t)n;
	v->items = dst;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct vjson_member *x = *(const struct vjson_member *const *)a;
	const struct vjson_member *y = *(const struct vjson_member *const *)b;

	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return memcmp(x->key, y->key, x->key_len);
}

/* Duplicate keys are refused (a duplicate would let two readers see two policies): pairwise
 * for small objects, sorted for large ones (no quadratic time on hostile input). */
static int check_duplicates(struct parser *ps, const struct vjson_member *m, size_t n,
                            const char *at)
{
	const struct vjson_member **sorted;
	size_t i, j;
	int r = 0;

	if (n <= 16) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (m[i].key_len == m[j].key_len &&
				    memcmp(m[i].key, m[j].key, m[i].key_len) == 0)
					return fail(ps, at, "duplicate object key");
		return 0;
	}
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		sorted[i] = &m[i];
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	for (i = 1; i < n && r == 0; i++)
		if (key_cmp(&sorted[i - 1], &sorted[i]) == 0)
			r = fail(ps, at, "duplicate object key");
	free(sorted);
	return r;
}

static int parse_object(struct parser *ps, vjson *v)
{
	size_t base = ps->n_members, n;
	struct vjson_member m;
	struct vjson_member *dst;
	int r;

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		goto done;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p == ps->end || *ps->p != '"')
			return fail(ps, ps->p, "string or '}' expected");
		ps->p++;
		r = parse_string(ps, true, &m.key, &m.key_len);
		if (r < 0)
			return r;
		skip_ws(ps);
		if (ps->p == ps->end || *ps->p != ':')
			return fail(ps, ps->p, "':' expected");
		ps->p++;
		r = parse_value(ps, &m.value);
		if (r < 0)
			return r;
		if (ps->n_members == ps->cap_members &&
		    grow((void **)&ps->members, &ps->cap_members, sizeof(m)) < 0)
			return -ENOMEM;
		ps->members[ps->n_members++] = m;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		return fail(ps, ps->p, "',' or '}' expected");
	}
done:
	n = ps->n_members - base;
	r = n ? check_duplicates(ps, ps->members + base, n, ps->p - 1) : 0;
	if (r < 0)
		return r;
	dst = arena_alloc(ps, n ? n * sizeof(*dst) : 1, 8);
	if (!dst)
		return -ENOMEM;
	if (n)
		memcpy(dst, ps->members + base, n * sizeof(*dst));
	ps->n_members = base;
	v->type = VJSON_OBJECT;
	v->n = (uint32_t)n;
	v->members = dst;
	return 0;
}

static int parse_token(struct parser *ps, vjson *v)
{
	switch (*ps->p) {
	case '{':
		ps->p++;
		return parse_object(ps, v);
	case '[':
		ps->p++;
		return parse_array(ps, v);
	case '"':
		ps->p++;
		v->type = VJSON_STRING;
		return parse_string(ps, false, &v->s, &v->n);
	case 't':
		return literal(ps, "true", VJSON_TRUE, v);
	case 'f':
		return literal(ps, "false", VJSON_FALSE, v);
	case 'n':
		return literal(ps, "null", VJSON_NULL, v);
	case '-':
	case '0' ... '9':
		return parse_number(ps, v);
	}
	return fail(ps, ps->p, "invalid token");
}

/* Depth counts every value, containers and scalars, as jansson's does. */
static int parse_value(struct parser *ps, vjson *v)
{
	int r;

	*v = (vjson){0};
	skip_ws(ps);
	if (ps->p == ps->end)
		return fail(ps, ps->p, "premature end of input");
	if (++ps->depth > VJSON_MAX_DEPTH)
		return fail(ps, ps->p, "maximum parsing depth reached");
	r = parse_token(ps, v);
	ps->depth--;
	return r;
}

/* "LINE:COL: what near 'c'", 1-based, columns in bytes. */
static void describe(const struct parser *ps, char *msg, size_t msg_len)
{
	const char *q, *line_start = ps->start;
	int line = 1;

	for (q = ps->start; q < ps->err_at; q++)
		if (*q == '\n') {
			line++;
			line_start = q + 1;
		}
	if (ps->err_at < ps->end && *ps->err_at >= 0x21 && *ps->err_at < 0x7f)
		snprintf(msg, msg_len, "%d:%zu: %s near '%c'", line,
		         (size_t)(ps->err_at - line_start) + 1, ps->err, *ps->err_at);
	else
		snprintf(msg, msg_len, "%d:%zu: %s%s", line, (size_t)(ps->err_at - line_start) + 1,
		         ps->err, ps->err_at == ps->end ? " near end of file" : "");
}

int vjson_parse(const char *buf, size_t len, struct vjson_doc **ret, char *msg, size_t msg_len)
{
	struct parser ps = {.start = buf, .p = buf, .end = buf + len, .next_block = BLOCK_MIN};
	vjson *root = NULL;
	int r = -ENOMEM;

	ps.doc = calloc(1, sizeof(*ps.doc));
	if (ps.doc)
		root = arena_alloc(&ps, sizeof(*root), 8);
	if (!root)
		goto out;
	skip_ws(&ps);
	if (ps.p == ps.end || (*ps.p != '{' && *ps.p != '['))
		r = fail(&ps, ps.p, "'[' or '{' expected");
	else
		r = parse_value(&ps, root);
	if (r == 0) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			r = fail(&ps, ps.p, "end of file expected");
	}
out:
	free(ps.items);
	free(ps.members);
	if (r < 0) {
		if (r == -EINVAL)
			describe(&ps, msg, msg_len);
		else
			snprintf(msg, msg_len, "out of memory");
		vjson_doc_free(ps.doc);
		return r;
	}
	ps.doc->root = root;
	*ret = ps.doc;
	return 0;
}

void vjson_doc_free(struct vjson_doc *doc)
{
	struct vjson_block *b, *next;

	if (!doc)
		return;
	for (b = doc->blocks; b; b = next) {
		next = b->next;
		free(b);
	}
	free(doc);
}

const vjson *vjson_object_get(const vjson *obj, const char *key)
{
	size_t i, len;

	if (!vjson_is_object(obj))
		return NULL;
	len = strlen(key);
	for (i = 0; i < obj->n; i++)
		if (obj->members[i].key_len == len && memcmp(obj->members[i].key, key, len) == 0)
			return &obj->members[i].value;
	return NULL;
}
