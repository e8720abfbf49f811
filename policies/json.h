/* A strict, read-only JSON tree for policies and bundles: one arena, no per-value allocation. */
#ifndef VIGIL_POLICIES_JSON_H
#define VIGIL_POLICIES_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Accepts what jansson's json_loadb(JSON_REJECT_DUPLICATES) accepts, and nothing else (the fuzz
 * target compares the two on every input): an object or array at the top level, valid UTF-8,
 * no \u0000, integers within long long, finite reals, no duplicate keys, nesting up to 2048.
 * One deliberate difference: jansson skips a NUL byte right after a number; this refuses it.
 * jansson built a hash table per object and a heap block per value: most of parsing a
 * 100,000-rule policy.
 */
enum vjson_type {
	VJSON_NULL,
	VJSON_FALSE,
	VJSON_TRUE,
	VJSON_INTEGER,
	VJSON_REAL,
	VJSON_STRING,
	VJSON_ARRAY,
	VJSON_OBJECT,
};

#define VJSON_MAX_DEPTH 2048

typedef struct vjson vjson;
struct vjson_member;

struct vjson {
	uint32_t type; /* enum vjson_type */
	uint32_t n;    /* string length in bytes, array size or member count */
	union {
		const char *s; /* NUL-terminated, no NUL inside */
		long long i;
		double d;
		const vjson *items;
		const struct vjson_member *members; /* in document order */
	};
};

struct vjson_member {
	const char *key;
	uint32_t key_len;
	vjson value;
};

struct vjson_block;

/* A parsed document; everything in it lives until vjson_doc_free. */
struct vjson_doc {
	const vjson *root;
	struct vjson_block *blocks;
};

/* Parses len bytes (no NUL needed). On failure returns -EINVAL (or -ENOMEM) and writes
 * "LINE:COL: what" to msg. */
int vjson_parse(const char *buf, size_t len, struct vjson_doc **ret, char *msg, size_t msg_len);
void vjson_doc_free(struct vjson_doc *doc);

/* NULL-safe accessors in the manner of jansson's: a wrong type reads as absent or zero. */
static inline bool vjson_is(const vjson *v, enum vjson_type t)
{
	return v && v->type == (uint32_t)t;
}
#define vjson_is_object(v)  vjson_is(v, VJSON_OBJECT)
#define vjson_is_array(v)   vjson_is(v, VJSON_ARRAY)
#define vjson_is_string(v)  vjson_is(v, VJSON_STRING)
#define vjson_is_integer(v) vjson_is(v, VJSON_INTEGER)
#define vjson_is_true(v)    vjson_is(v, VJSON_TRUE)
static inline bool vjson_is_boolean(const vjson *v)
{
	return vjson_is(v, VJSON_TRUE) || vjson_is(v, VJSON_FALSE);
}
static inline const char *vjson_string_value(const vjson *v)
{
	return vjson_is_string(v) ? v->s : NULL;
}
static inline size_t vjson_string_length(const vjson *v)
{
	return vjson_is_string(v) ? v->n : 0;
}
static inline long long vjson_integer_value(const vjson *v)
{
	return vjson_is_integer(v) ? v->i : 0;
}
static inline size_t vjson_array_size(const vjson *v)
{
	return vjson_is_array(v) ? v->n : 0;
}
static inline const vjson *vjson_array_get(const vjson *v, size_t i)
{
	return i < vjson_array_size(v) ? &v->items[i] : NULL;
}
/* Linear: the objects of a policy have a handful of keys. */
const vjson *vjson_object_get(const vjson *obj, const char *key);

#define vjson_array_foreach(arr, idx, val)                                                         \
	for ((idx) = 0; (idx) < vjson_array_size(arr) && ((val) = &(arr)->items[idx], 1); (idx)++)
#define vjson_object_foreach_key(obj, key)                                                         \
	for (size_t vjson_i_ = 0; vjson_is_object(obj) && vjson_i_ < (obj)->n &&                   \
	                          ((key) = (obj)->members[vjson_i_].key, 1);                       \
	     vjson_i_++)

#endif /* VIGIL_POLICIES_JSON_H */
