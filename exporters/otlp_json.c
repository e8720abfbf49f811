/*
 * OTLP/HTTP JSON from the protobuf bytes of a request, by the messages' descriptors: the JSON
 * option (protocol=json) sends the same log records as the protobuf path, written once by
 * otlp_write_log_record, re-expressed in the OTLP JSON mapping (lowerCamelCase names, 64-bit
 * integers as decimal strings, enums as numbers, bytes as hex, default scalars left out) with
 * no intermediate objects. The result is the JSON that otlp_encode_logs builds from parsed
 * records through jansson (tests/unit/test_otlp.c and fuzz_otlp compare the two), at a small
 * fraction of its cost.
 */
#include "audit/audit.h"
#include "exporters/otlp_int.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Nesting of the OTLP messages is 6 deep for a log record's attribute; arrays and kvlists in
 * AnyValue recurse. Deeper input is not what vigil writes. */
#define MAX_DEPTH 32

struct jout {
	struct otlp_wbuf *b;
	bool oom;
};

static bool room(struct jout *o, size_t need)
{
	struct otlp_wbuf *b = o->b;
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= need)
		return true;
	cap = b->cap ? b->cap : 1 << 16;
	while (cap - b->len < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		o->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct jout *o, const void *s, size_t n)
{
	if (!room(o, n))
		return;
	memcpy(o->b->p + o->b->len, s, n);
	o->b->len += n;
}

static void putc1(struct jout *o, char c)
{
	if (!room(o, 1))
		return;
	o->b->p[o->b->len++] = (uint8_t)c;
}

/* The field's JSON name: its proto name in lowerCamelCase (protoc's json_name rule). */
static void put_name(struct jout *o, const char *snake)
{
	size_t n = strlen(snake);
	uint8_t *p;
	bool up = false;

	if (!room(o, n + 3))
		return;
	p = o->b->p + o->b->len;
	*p++ = '"';
	for (; *snake; snake++) {
		if (*snake == '_') {
			up = true;
			continue;
		}
		*p++ = (uint8_t)(up && *snake >= 'a' && *snake <= 'z' ? *snake - 32 : *snake);
		up = false;
	}
	*p++ = '"';
	*p++ = ':';
	o->b->len = (size_t)(p - o->b->p);
}

/* Length of a valid UTF-8 sequence at s[0, n) (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF); 0 when invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* A JSON string: quotes, backslashes and control characters escaped, valid UTF-8 kept as it
 * is, each byte of an invalid sequence as U+FFFD (a protobuf string is UTF-8 by definition; a
 * JSON receiver would refuse the request for one bad byte). */
static void put_string(struct jout *o, const uint8_t *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	uint8_t *p;

	/* Worst case: every byte \u00XX (6) or U+FFFD (3). */
	if (!room(o, n * 6 + 2))
		return;
	p = o->b->p + o->b->len;
	*p++ = '"';
	while (i < n) {
		uint8_t c = s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*p++ = c;
			i++;
		} else if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = c;
			i++;
		} else if (c < 0x20) {
			*p++ = '\\';
			switch (c) {
			case '\b':
				*p++ = 'b';
				break;
			case '\f':
				*p++ = 'f';
				break;
			case '\n':
				*p++ = 'n';
				break;
			case '\r':
				*p++ = 'r';
				break;
			case '\t':
				*p++ = 't';
				break;
			default:
				memcpy(p, "u00", 3);
				p[3] = hex[c >> 4];
				p[4] = hex[c & 15];
				p += 5;
			}
			i++;
		} else {
			size_t k = utf8_len(s + i, n - i);

			if (k) {
				memcpy(p, s + i, k);
				p += k;
				i += k;
			} else {
				memcpy(p, "\xef\xbf\xbd", 3);
				p += 3;
				i++;
			}
		}
	}
	*p++ = '"';
	o->b->len = (size_t)(p - o->b->p);
}

static void put_u64(struct jout *o, uint64_t v, bool quoted)
{
	char num[24], *end = audit_put_u64(num, v);

	if (quoted)
		putc1(o, '"');
	put(o, num, (size_t)(end - num));
	if (quoted)
		putc1(o, '"');
}

static void put_i64(struct jout *o, int64_t v, bool quoted)
{
	if (quoted)
		putc1(o, '"');
	if (v < 0)
		putc1(o, '-');
	put_u64(o, v < 0 ? -(uint64_t)v : (uint64_t)v, false);
	if (quoted)
		putc1(o, '"');
}

static void put_double(struct jout *o, double d)
{
	char num[32];
	int n;

	/* NaN and infinities have no JSON number: OTLP JSON writes them as strings. */
	if (isnan(d) || isinf(d)) {
		const char *t = isnan(d) ? "\"NaN\"" : d < 0 ? "\"-Infinity\"" : "\"Infinity\"";

		put(o, t, strlen(t));
		return;
	}
	n = snprintf(num, sizeof(num), "%.17g", d);
	put(o, num, (size_t)n);
	if (!strpbrk(num, ".e"))
		put(o, ".0", 2);
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned sh = 0; sh < 64 && *p < end; sh += 7) {
		uint8_t c = *(*p)++;

		x |= (uint64_t)(c & 0x7f) << sh;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* A field's value as the wire holds it: a number (varint, fixed64, fixed32) or a span. */
struct wire {
	uint64_t v;       /* the number; a span's length */
	const uint8_t *s; /* a length-prefixed value's bytes */
};

/* The value of wire type wt at *p, *p moved past it; false when truncated or unknown. */
static bool wire_read(unsigned wt, const uint8_t **p, const uint8_t *end, struct wire *w)
{
	size_t n = wt == PROTOBUF_C_WIRE_TYPE_64BIT ? 8 : 4;

	*w = (struct wire){0};
	switch (wt) {
	case PROTOBUF_C_WIRE_TYPE_VARINT:
		return get_varint(p, end, &w->v);
	case PROTOBUF_C_WIRE_TYPE_64BIT:
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		if ((size_t)(end - *p) < n)
			return false;
		for (size_t i = n; i-- > 0;) /* little-endian */
			w->v = w->v << 8 | (*p)[i];
		*p += n;
		return true;
	case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
		if (!get_varint(p, end, &w->v) || w->v > (uint64_t)(end - *p))
			return false;
		w->s = *p;
		*p += w->v;
		return true;
	}
	return false;
}

/* The wire type a field of type t is written with (unpacked). */
static unsigned wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return PROTOBUF_C_WIRE_TYPE_64BIT;
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return PROTOBUF_C_WIRE_TYPE_32BIT;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
	default:
		return PROTOBUF_C_WIRE_TYPE_VARINT;
	}
}

static int message(struct jout *o, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                   size_t len, int depth);

/* A field's value w in the OTLP JSON mapping. */
static int value(struct jout *o, const ProtobufCFieldDescriptor *f, const struct wire *w, int depth)
{
	uint64_t v = w->v;

	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return message(o, f->descriptor, w->s, (size_t)v, depth + 1);
	case PROTOBUF_C_TYPE_STRING:
		put_string(o, w->s, (size_t)v);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		/* OTLP JSON: trace and span ids (and any bytes) as hex. */
		if (!room(o, 2 * v + 2))
			break;
		o->b->p[o->b->len] = '"';
		audit_hex(w->s, (size_t)v, (char *)o->b->p + o->b->len + 1);
		o->b->len += 2 * v + 1;
		o->b->p[o->b->len++] = '"';
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_SFIXED32:
		put_i64(o, (int32_t)(uint32_t)v, false);
		break;
	case PROTOBUF_C_TYPE_SINT32:
		put_i64(o, (int32_t)((uint32_t)v >> 1 ^ -(uint32_t)(v & 1)), false);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		put_u64(o, (uint32_t)v, false);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		put_i64(o, (int64_t)v, true);
		break;
	case PROTOBUF_C_TYPE_SINT64:
		put_i64(o, (int64_t)(v >> 1 ^ -(v & 1)), true);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		put_u64(o, v, true);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		put(o, v ? "true" : "false", v ? 4 : 5);
		break;
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d;

		memcpy(&d, &v, sizeof(d));
		put_double(o, d);
		break;
	}
	case PROTOBUF_C_TYPE_FLOAT: {
		uint32_t bits = (uint32_t)v;
		float fl;

		memcpy(&fl, &bits, sizeof(fl));
		put_double(o, fl);
		break;
	}
	}
	return 0;
}

/*
 * A message's fields as a JSON object. The fields must come in ascending number, a repeated
 * field's elements together (the order protobuf-c and otlp_write_log_record write, which is
 * the descriptor's, so the object's members come in the order otlp_encode_logs gives them);
 * anything else is -EPROTO, as are truncated values and packed repeated fields (none in the
 * logs request).
 */
static int message(struct jout *o, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                   size_t len, int depth)
{
	const uint8_t *end = p + len;
	const ProtobufCFieldDescriptor *open = NULL; /* the repeated field whose array is open */
	unsigned last = 0;
	bool first = true;
	int r;

	if (depth > MAX_DEPTH)
		return -EPROTO;
	putc1(o, '{');
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		struct wire w;
		uint64_t tag;
		unsigned id;

		if (!get_varint(&p, end, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff ||
		    !wire_read((unsigned)(tag & 7), &p, end, &w))
			return -EPROTO;
		id = (unsigned)(tag >> 3);
		f = protobuf_c_message_descriptor_get_field(d, id);
		if (!f)
			continue; /* unknown: skipped */
		/* The wrong wire type for the field, or a packed repeated field */
		if ((tag & 7) != wire_type_of(f->type))
			return -EPROTO;
		if (open && f != open) {
			putc1(o, ']');
			open = NULL;
		}
		if (open) {
			putc1(o, ',');
		} else {
			/* A scalar at its default outside a oneof is left out (proto3's implicit
			 * presence, as otlp_encode_logs leaves it out); a message never is. */
			bool dflt = f->label != PROTOBUF_C_LABEL_REPEATED &&
			            !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			            f->type != PROTOBUF_C_TYPE_MESSAGE && w.v == 0;

			if (id <= last)
				return -EPROTO;
			last = id;
			if (dflt)
				continue;
			if (!first)
				putc1(o, ',');
			first = false;
			put_name(o, f->name);
			if (f->label == PROTOBUF_C_LABEL_REPEATED) {
				putc1(o, '[');
				open = f;
			}
		}
		r = value(o, f, &w, depth);
		if (r < 0)
			return r;
	}
	if (open)
		putc1(o, ']');
	putc1(o, '}');
	return 0;
}

int otlp_logs_json(const uint8_t *req, size_t len, struct otlp_wbuf *out)
{
	struct jout o = {out, false};
	size_t start = out->len;
	int r = message(
	    &o, &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
	    req, len, 0);

	if (o.oom)
		r = -ENOMEM;
	if (r < 0)
		out->len = start;
	return r;
}
