/*
 * Record lines -> members, without a general JSON library on the hot path: a record is one flat
 * JSON object (event and policy records nest one object, "e"), written by vigil's own
 * producers. Strings are unescaped into one pool per record; nested objects and arrays inside
 * the event object (a policy record's measurement) are kept as JSON text. Anything else in
 * the line is refused (-EBADMSG): the follower has already checked the line against the chain.
 */
#include "exporters/otlp_int.h"
#include "lib/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

struct scan {
	const char *p, *end;
	char *pool, *pool_end;
	/* The scan for the writer: bit i % 64 of quotes[i / 64] set when base[i] is '"' or '\\'
	 * (NULL: none, strings are searched one by one). */
	const char *base;
	const uint64_t *quotes;
};

static inline void skip_ws(struct scan *s)
{
	/* vigil writes no whitespace: one compare on the usual path. */
	if (s->p < s->end && (unsigned char)*s->p > ' ')
		return;
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static bool put_utf8(struct scan *s, uint32_t c)
{
	if (s->pool_end - s->pool < 4)
		return false;
	s->pool = vigil_utf8_put(s->pool, c);
	return true;
}

static bool read_u4(struct scan *s, uint32_t *c)
{
	int a, b, d, e;

	if (s->end - s->p < 4 || (a = hexval(s->p[0])) < 0 || (b = hexval(s->p[1])) < 0 ||
	    (d = hexval(s->p[2])) < 0 || (e = hexval(s->p[3])) < 0)
		return false;
	*c = (uint32_t)(a << 12 | b << 8 | d << 4 | e);
	s->p += 4;
	return true;
}

/*
 * A string at s->p (after its opening quote): unescaped into the pool, NUL-terminated.
 * The escape table and the UTF-8 writer are lib's, shared with policies/json.c; the loop is
 * not: that one judges untrusted policy text (lone surrogates, \u0000, a message with the offset
 * for the author); this one reads lines vigil wrote and the chain already vouched for, per record
 * on the export hot path, so it only needs to stop on malformed input.
 */
static const char *read_string(struct scan *s)
{
	char *out = s->pool;

	for (;;) {
		const char *q = s->p;
		size_t run;

		while (q < s->end && *q != '"' && *q != '\\')
			q++;
		run = (size_t)(q - s->p);
		if (q >= s->end || (size_t)(s->pool_end - s->pool) < run + 1)
			return NULL;
		memcpy(s->pool, s->p, run);
		s->pool += run;
		s->p = q + 1;
		if (*q == '"')
			break;
		if (s->p >= s->end)
			return NULL;
		char c = *s->p++;
		int e = vigil_json_escape(c);
		uint32_t u, lo;

		if (e >= 0) {
			*s->pool++ = (char)e;
			continue;
		}
		switch (c) {
		case 'u':
			if (!read_u4(s, &u))
				return NULL;
			if (u >= 0xd800 && u < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
			    s->p[1] == 'u') {
				s->p += 2;
				if (!read_u4(s, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return NULL;
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (!put_utf8(s, u))
				return NULL;
			break;
		default:
			return NULL;
		}
	}
	if (s->pool >= s->pool_end)
		return NULL;
	*s->pool++ = 0;
	return out;
}

/* Skips a value (for nested objects and arrays kept as text); false when malformed. */
static bool skip_value(struct scan *s)
{
	int depth = 0;
	bool in_str = false;

	for (; s->p < s->end; s->p++) {
		char c = *s->p;

		if (in_str) {
			if (c == '\\')
				s->p++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0) {
				s->p++;
				return true;
			}
			if (depth < 0)
				return false;
		}
	}
	return false;
}

static const char *copy_text(struct scan *s, const char *from, const char *to)
{
	size_t len = (size_t)(to - from);
	char *out = s->pool;

	if ((size_t)(s->pool_end - s->pool) < len + 1)
		return NULL;
	memcpy(out, from, len);
	out[len] = 0;
	s->pool += len + 1;
	return out;
}

/* true, false or null at s->p (its first letter already seen): the value's type and int. */
static int read_literal(struct scan *s, enum otlp_vtype *type, int64_t *i)
{
	static const struct {
		const char *text;
		size_t len;
		enum otlp_vtype type;
		int64_t i;
	} lits[] = {
	    {"true", 4, OTLP_V_BOOL, 1}, {"false", 5, OTLP_V_BOOL, 0}, {"null", 4, OTLP_V_NULL, 0}};
	size_t k;

	for (k = 0; k < sizeof(lits) / sizeof(lits[0]); k++) {
		if (*s->p != lits[k].text[0])
			continue;
		if ((size_t)(s->end - s->p) < lits[k].len ||
		    memcmp(s->p, lits[k].text, lits[k].len))
			return -EBADMSG;
		s->p += lits[k].len;
		*type = lits[k].type;
		if (lits[k].type == OTLP_V_BOOL)
			*i = lits[k].i;
		return 0;
	}
	return -EBADMSG;
}

static int read_value(struct scan *s, struct otlp_member *m)
{
	const char *start = s->p;

	if (s->p >= s->end)
		return -EBADMSG;
	switch (*s->p) {
	case '"':
		s->p++;
		m->type = OTLP_V_STR;
		m->s = read_string(s);
		return m->s ? 0 : -EBADMSG;
	case '{':
	case '[':
		if (!skip_value(s))
			return -EBADMSG;
		m->type = OTLP_V_RAW;
		m->s = copy_text(s, start, s->p);
		return m->s ? 0 : -EBADMSG;
	case 't':
	case 'f':
	case 'n':
		return read_literal(s, &m->type, &m->i);
	}
	/* A number: an integer that fits int64, else a real (or text when it does not parse). */
	{
		bool real = false;
		const char *q = s->p;
		char *end;

		if (q < s->end && *q == '-')
			q++;
		for (; q < s->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
		                      *q == 'E' || *q == '+' || *q == '-');
		     q++)
			real |= *q == '.' || *q == 'e' || *q == 'E';
		if (q == s->p)
			return -EBADMSG;
		m->s = copy_text(s, s->p, q);
		if (!m->s)
			return -EBADMSG;
		s->p = q;
		if (!real && q - start <= 18) {
			/* Up to 18 digits fit int64: no strtoll (a tenth of the parse). */
			const char *d = m->s + (m->s[0] == '-');
			int64_t v = 0;

			for (; *d >= '0' && *d <= '9'; d++)
				v = v * 10 + (*d - '0');
			if (!*d && d > m->s + (m->s[0] == '-')) {
				m->i = m->s[0] == '-' ? -v : v;
				m->type = OTLP_V_INT;
				return 0;
			}
		}
		errno = 0;
		if (!real) {
			m->i = strtoll(m->s, &end, 10);
			m->type = *end || errno ? OTLP_V_RAW : OTLP_V_INT;
		} else {
			m->d = strtod(m->s, &end);
			m->type = *end ? OTLP_V_RAW : OTLP_V_REAL;
		}
		return 0;
	}
}

/* The members of the object at s->p (after its '{') into r->m; "e" recursed into once. */
static int read_object(struct scan *s, struct otlp_rec *r, bool top, const char **e_time)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		struct otlp_member m = {0};
		const char *key;
		int rc;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return -EBADMSG;
		s->p++;
		key = read_string(s);
		skip_ws(s);
		if (!key || s->p >= s->end || *s->p != ':')
			return -EBADMSG;
		s->p++;
		skip_ws(s);
		if (top && key[0] == 'e' && !key[1] && s->p < s->end && *s->p == '{') {
			/* The event object replaces the record's own members in r->m. */
			s->p++;
			r->n_m = 0;
			r->i_type = r->i_verdict = r->i_path = r->i_uid = -1;
			r->event_object = true;
			rc = read_object(s, r, false, e_time);
			if (rc < 0)
				return rc;
		} else {
			m.key = key;
			rc = read_value(s, &m);
			if (rc < 0)
				return rc;
			if (key[0] == 't' && strcmp(key, "time") == 0 && m.type == OTLP_V_STR) {
				if (top && !r->time)
					r->time = m.s;
				else if (!top)
					*e_time = m.s;
			}
			if (!(top && r->event_object) && r->n_m < OTLP_MEMBERS_MAX) {
				int8_t *hot = NULL;

				switch (key[0]) { /* a switch first: this runs for every member */
				case 't':
					hot = strcmp(key, "type") == 0 ? &r->i_type : NULL;
					break;
				case 'v':
					hot = strcmp(key, "verdict") == 0 ? &r->i_verdict : NULL;
					break;
				case 'p':
					hot = strcmp(key, "path") == 0 ? &r->i_path : NULL;
					break;
				case 'u':
					hot = strcmp(key, "uid") == 0 ? &r->i_uid : NULL;
					break;
				}

				if (hot)
					*hot = (int8_t)r->n_m;
				r->m[r->n_m++] = m;
			}
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -EBADMSG;
	}
}

int otlp_rec_parse(const struct audit_record_view *v, uint64_t observed_ns, struct otlp_rec *r)
{
	size_t len = v->len - 1, cap = 2 * len + 64;
	const char *e_time = NULL;
	struct scan s;
	int rc;

	r->n = v->n;
	r->observed_ns = observed_ns;
	r->n_m = 0;
	r->event_object = false;
	r->i_type = r->i_verdict = r->i_path = r->i_uid = -1;
	r->time = NULL;
	snprintf(r->kind, sizeof(r->kind), "%s", v->kind);
	memcpy(r->hash, v->line + len - 2 - AUDIT_HEX_LEN, AUDIT_HEX_LEN);
	r->hash[AUDIT_HEX_LEN] = 0;
	r->pool = malloc(cap);
	if (!r->pool)
		return -ENOMEM;
	memcpy(r->pool, v->line, len);
	r->pool[len] = 0;
	r->line = r->pool;
	s = (struct scan){v->line, v->line + len, r->pool + len + 1, r->pool + cap, v->line, NULL};
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		otlp_rec_free(r);
		return -EBADMSG;
	}
	s.p++;
	rc = read_object(&s, r, true, &e_time);
	if (rc < 0) {
		otlp_rec_free(r);
		return rc;
	}
	if (e_time)
		r->time = e_time;
	return 0;
}

void otlp_rec_free(struct otlp_rec *r)
{
	free(r->pool);
	r->pool = NULL;
	r->line = NULL;
}

const struct otlp_member *otlp_rec_get(const struct otlp_rec *r, const char *key)
{
	for (size_t i = 0; i < r->n_m; i++)
		if (strcmp(r->m[i].key, key) == 0)
			return &r->m[i];
	return NULL;
}

const char *otlp_rec_str(const struct otlp_rec *r, const char *key)
{
	const struct otlp_member *m = otlp_rec_get(r, key);

	return m && m->type == OTLP_V_STR ? m->s : NULL;
}

/* --- the scan for the protobuf writer: spans, nothing allocated ---------------------- */

/*
 * A string at s->p (after its opening quote) as a span: of the line itself when it holds no
 * escape (almost every string: nothing copied), else unescaped into the scratch pool by
 * read_string (cut at a \u0000, as the C strings of otlp_rec_parse are).
 */
static bool scan_string_slow(struct scan *s, struct otlp_span *out);

static inline bool scan_string(struct scan *s, struct otlp_span *out)
{
	if (s->quotes) {
		/* The line's mask: the next '"' or '\\' is the lowest bit set from p on (bits past
		 * the end are clear); a string within its word and without escapes is done here. */
		size_t i = (size_t)(s->p - s->base);
		uint64_t w = i < (size_t)(s->end - s->base) ? s->quotes[i / 64] >> (i % 64) : 0;
		const char *q = s->p + (w ? __builtin_ctzll(w) : 0);

		if (w && *q == '"') {
			out->p = s->p;
			out->len = (size_t)(q - s->p);
			s->p = q + 1;
			return true;
		}
	}
	return scan_string_slow(s, out);
}

static bool scan_string_slow(struct scan *s, struct otlp_span *out)
{
	const char *q = s->p, *u;

	if (s->quotes) {
		size_t i = (size_t)(q - s->base), len = (size_t)(s->end - s->base);
		uint64_t w = i < len ? s->quotes[i / 64] >> (i % 64) : 0;

		while (!w) {
			i = (i | 63) + 1;
			if (i >= len)
				return false;
			w = s->quotes[i / 64];
		}
		q = s->base + i + __builtin_ctzll(w);
	} else {
		/* Eight bytes at a time: a word's bytes equal to '"' or '\\' are its zero bytes
		 * once XORed with either; (v - 0x01..01) & ~v & 0x80..80 flags them, and its
		 * lowest flag is always the first zero byte (a borrow only runs upward). */
		for (; s->end - q >= 8; q += 8) {
			uint64_t w, a, b, hit;

			memcpy(&w, q, 8);
			a = w ^ 0x2222222222222222ull;
			b = w ^ 0x5c5c5c5c5c5c5c5cull;
			hit =
			    ((a - 0x0101010101010101ull) & ~a) | ((b - 0x0101010101010101ull) & ~b);
			hit &= 0x8080808080808080ull;
			if (hit) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
				q += __builtin_ctzll(hit) / 8;
#endif /* else the byte loop below finds it in this word */
				break;
			}
		}
		while (q < s->end && *q != '"' && *q != '\\')
			q++;
		if (q >= s->end)
			return false;
	}
	if (*q == '"') {
		out->p = s->p;
		out->len = (size_t)(q - s->p);
		s->p = q + 1;
		return true;
	}
	u = read_string(s);
	if (!u)
		return false;
	out->p = u;
	out->len = strlen(u);
	return true;
}

static inline __attribute__((always_inline)) enum otlp_key key_of(const char *key, size_t len)
{
	/* A switch on the length, then compares of a constant size (no call, no strlen). */
#define K(lit, id)                                                                                 \
	if (memcmp(key, lit, sizeof(lit) - 1) == 0)                                                \
		return id;
	switch (len) {
	case 1:
		return key[0] == 'n' || key[0] == 'k' || key[0] == 'h' ? OTLP_K_NKH : OTLP_K_OTHER;
	case 3:
		K("pid", OTLP_K_PID);
		K("tid", OTLP_K_TID);
		K("uid", OTLP_K_UID);
		K("gid", OTLP_K_GID);
		return OTLP_K_OTHER;
	case 4:
		K("type", OTLP_K_TYPE);
		K("time", OTLP_K_TIME);
		K("path", OTLP_K_PATH);
		K("comm", OTLP_K_COMM);
		K("ppid", OTLP_K_PPID);
		K("rule", OTLP_K_RULE);
		return OTLP_K_OTHER;
	case 6:
		K("reason", OTLP_K_REASON);
		K("policy", OTLP_K_POLICY);
		return OTLP_K_OTHER;
	case 7:
		K("verdict", OTLP_K_VERDICT);
		K("cmdline", OTLP_K_CMDLINE);
		return OTLP_K_OTHER;
	case 10:
		K("generation", OTLP_K_GENERATION);
		break;
	case 13:
		K("policy_serial", OTLP_K_POLICY_SERIAL);
		break;
	}
#undef K
	return len >= 8 && memcmp(key, "network.", 8) == 0 ? OTLP_K_NETWORK : OTLP_K_OTHER;
}

enum otlp_key otlp_key_of(const char *key, size_t len)
{
	return key_of(key, len);
}

static inline bool is_num_char(char c)
{
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* A value as otlp_rec_parse's read_value reads it, strings and numbers as spans. */
static int scan_value(struct scan *s, struct otlp_smember *m)
{
	const char *start = s->p, *q;
	bool real = false;

	switch (*s->p) {
	case '"':
		s->p++;
		m->type = OTLP_V_STR;
		return scan_string(s, &m->s) ? 0 : -EBADMSG;
	case '{':
	case '[':
		if (!skip_value(s))
			return -EBADMSG;
		m->type = OTLP_V_RAW;
		m->s = (struct otlp_span){start, (size_t)(s->p - start)};
		return 0;
	case 't':
	case 'f':
	case 'n':
		return read_literal(s, &m->type, &m->i);
	}
	/* The usual number: up to 18 digits (fit int64), then none of ".eE+-": read in one loop
	 * (no strtoll); anything else as below. */
	{
		size_t max = (size_t)(s->end - s->p) < 18 ? (size_t)(s->end - s->p) : 18;
		const char *lim = s->p + max, *d;
		bool neg = *s->p == '-';
		int64_t v = 0;

		for (q = d = s->p + neg; q < lim && (unsigned)(*q - '0') < 10; q++)
			v = v * 10 + (*q - '0');
		if (q > d && (q == s->end || !is_num_char(*q))) {
			m->s = (struct otlp_span){s->p, (size_t)(q - s->p)};
			m->i = neg ? -v : v;
			m->type = OTLP_V_INT;
			s->p = q;
			return 0;
		}
	}
	q = s->p;
	if (q < s->end && *q == '-')
		q++;
	for (; q < s->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
	                      *q == '+' || *q == '-');
	     q++)
		real |= *q == '.' || *q == 'e' || *q == 'E';
	if (q == s->p)
		return -EBADMSG;
	m->s = (struct otlp_span){s->p, (size_t)(q - s->p)};
	s->p = q;
	if (!real && m->s.len <= 18) {
		/* Up to 18 characters fit int64: no strtoll. */
		const char *d = m->s.p + (m->s.p[0] == '-');
		int64_t v = 0;

		for (; d < q && *d >= '0' && *d <= '9'; d++)
			v = v * 10 + (*d - '0');
		if (d == q && d > m->s.p + (m->s.p[0] == '-')) {
			m->i = m->s.p[0] == '-' ? -v : v;
			m->type = OTLP_V_INT;
			return 0;
		}
	}
	/* Anything longer or odder: strtoll/strtod on a NUL-terminated copy, as read_value. */
	{
		char *text = s->pool, *end;

		if ((size_t)(s->pool_end - s->pool) < m->s.len + 1)
			return -EBADMSG;
		memcpy(text, m->s.p, m->s.len);
		text[m->s.len] = 0;
		s->pool += m->s.len + 1;
		errno = 0;
		if (!real) {
			m->i = strtoll(text, &end, 10);
			m->type = *end || errno ? OTLP_V_RAW : OTLP_V_INT;
		} else {
			m->d = strtod(text, &end);
			m->type = *end ? OTLP_V_RAW : OTLP_V_REAL;
		}
		return 0;
	}
}

/* The members of the object at s->p (after its '{'), as read_object reads them. */
static int scan_object(struct scan *s, struct otlp_scan *r, bool top, struct otlp_span *e_time)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		/* Read straight into the next slot (a copy of the member was a fifth of the scan).
		 */
		struct otlp_smember spare;
		bool keep = !(top && r->event_object) && r->n_m < OTLP_MEMBERS_MAX;
		struct otlp_smember *m = keep ? &r->m[r->n_m] : &spare;
		enum otlp_key id;
		int rc;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return -EBADMSG;
		s->p++;
		if (!scan_string(s, &m->key))
			return -EBADMSG;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -EBADMSG;
		s->p++;
		skip_ws(s);
		if (s->p >= s->end)
			return -EBADMSG;
		if (top && m->key.len == 1 && m->key.p[0] == 'e' && *s->p == '{') {
			/* The event object replaces the record's own members. */
			s->p++;
			r->n_m = 0;
			r->i_type = r->i_verdict = r->i_path = r->i_uid = -1;
			r->event_object = true;
			rc = scan_object(s, r, false, e_time);
			if (rc < 0)
				return rc;
		} else {
			rc = scan_value(s, m);
			if (rc < 0)
				return rc;
			/* From a local: a load of the member's type and its just stored id as one
			 * word waited for the store (the scan's hottest instruction). */
			id = key_of(m->key.p, m->key.len);
			m->key_id = (uint8_t)id;
			if (id == OTLP_K_TIME && m->type == OTLP_V_STR) {
				if (top && !r->time.p)
					r->time = m->s;
				else if (!top)
					*e_time = m->s;
			}
			if (keep) {
				switch (id) {
				case OTLP_K_TYPE:
					r->i_type = (int8_t)r->n_m;
					break;
				case OTLP_K_VERDICT:
					r->i_verdict = (int8_t)r->n_m;
					break;
				case OTLP_K_PATH:
					r->i_path = (int8_t)r->n_m;
					break;
				case OTLP_K_UID:
					r->i_uid = (int8_t)r->n_m;
					break;
				default:
					break;
				}
				r->n_m++;
			}
		}
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return -EBADMSG;
	}
}

/* Lines up to this long are scanned with a mask of their quotes (2 KiB on the stack). */
#define QUOTES_MAX AUDIT_RECORD_MAX

#if defined(__x86_64__)
/* The mask of '"' and '\\' in line[0, len), 64 bytes a step; the tail through a zeroed copy
 * (never read past the line). */
__attribute__((target("avx2"))) static void quotes_avx2(const char *line, size_t len,
                                                        uint64_t *quotes)
{
	const __m256i dq = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
	char tail[64];

	for (size_t i = 0; i < len; i += 64) {
		const char *b = line + i;
		__m256i x, y;
		uint32_t lo, hi;

		if (len - i < 64) {
			memset(tail, 0, sizeof(tail));
			memcpy(tail, b, len - i);
			b = tail;
		}
		x = _mm256_loadu_si256((const __m256i *)b);
		y = _mm256_loadu_si256((const __m256i *)(b + 32));
		lo = (uint32_t)_mm256_movemask_epi8(
		    _mm256_or_si256(_mm256_cmpeq_epi8(x, dq), _mm256_cmpeq_epi8(x, bs)));
		hi = (uint32_t)_mm256_movemask_epi8(
		    _mm256_or_si256(_mm256_cmpeq_epi8(y, dq), _mm256_cmpeq_epi8(y, bs)));
		quotes[i / 64] = (uint64_t)hi << 32 | lo;
	}
}
#endif

/* The quote mask of a line; false without AVX2 (strings are then searched with SWAR). */
static bool quotes_of(const char *line, size_t len, uint64_t *quotes)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2")) {
		quotes_avx2(line, len, quotes);
		return true;
	}
#endif
	return false;
}

int otlp_scan_line(const char *line, size_t len, struct otlp_scan *r, char *scratch,
                   size_t scratch_size)
{
	struct otlp_span e_time = {NULL, 0};
	struct scan s = {line, line + len, scratch, scratch + scratch_size, line, NULL};
	uint64_t quotes[QUOTES_MAX / 64];
	int rc;

	if (len <= QUOTES_MAX && quotes_of(line, len, quotes))
		s.quotes = quotes;

	r->n_m = 0;
	r->event_object = false;
	r->i_type = r->i_verdict = r->i_path = r->i_uid = -1;
	r->time = e_time;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -EBADMSG;
	s.p++;
	rc = scan_object(&s, r, true, &e_time);
	if (rc < 0)
		return rc;
	if (e_time.p)
		r->time = e_time;
	return 0;
}
