/*
 * libFuzzer target: the policy v1 parser and the bundle envelope decoder must accept or reject
 * any input without crashing, and the JSON parser under both (policies/json.c) must accept
 * exactly what jansson accepts, with the same tree.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/bundle.h"
#include "policies/json.h"
#include "policies/policy.h"

static int same(const vjson *v, json_t *j)
{
	const char *key;
	json_t *jv;
	size_t i;

	switch (v->type) {
	case VJSON_NULL:
		return json_is_null(j);
	case VJSON_TRUE:
		return json_is_true(j);
	case VJSON_FALSE:
		return json_is_false(j);
	case VJSON_INTEGER:
		return json_is_integer(j) && json_integer_value(j) == v->i;
	case VJSON_REAL:
		return json_is_real(j) &&
		       (json_real_value(j) == v->d || (isnan(v->d) && isnan(json_real_value(j))));
	case VJSON_STRING:
		return json_is_string(j) && json_string_length(j) == v->n &&
		       memcmp(json_string_value(j), v->s, v->n) == 0 && v->s[v->n] == 0;
	case VJSON_ARRAY:
		if (!json_is_array(j) || json_array_size(j) != v->n)
			return 0;
		for (i = 0; i < v->n; i++)
			if (!same(&v->items[i], json_array_get(j, i)))
				return 0;
		return 1;
	case VJSON_OBJECT:
		if (!json_is_object(j) || json_object_size(j) != v->n)
			return 0;
		for (i = 0; i < v->n; i++) {
			key = v->members[i].key;
			if (strlen(key) != v->members[i].key_len ||
			    !(jv = json_object_get(j, key)) || !same(&v->members[i].value, jv) ||
			    vjson_object_get(v, key) != &v->members[i].value)
				return 0;
		}
		return 1;
	}
	return 0;
}

static void differential(const uint8_t *data, size_t size)
{
	struct vjson_doc *doc = NULL;
	char msg[192];
	int r = vjson_parse((const char *)data, size, &doc, msg, sizeof(msg));
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

	/* jansson's reader drops a NUL byte that follows a number (its lookahead buffer ends at
	 * NUL); vjson refuses every NUL outside a string as well as inside, the stricter answer. */
	bool nul = memchr(data, 0, size) != NULL;

	if ((r == 0) != (j != NULL) && !(nul && r < 0)) {
		fprintf(stderr, "vjson %s, jansson %s\n", r == 0 ? "accepted" : msg,
		        j ? "accepted" : "rejected");
		abort();
	}
	if (r == 0 && j && !same(doc->root, j)) {
		fprintf(stderr, "vjson and jansson trees differ\n");
		abort();
	}
	json_decref(j);
	vjson_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy *p = NULL;
	struct bundle *b = NULL;

	differential(data, size);
	if (policy_parse((const char *)data, size, "fuzz", &p, &err) == 0)
		policy_free(p);
	if (bundle_decode((const char *)data, size, "fuzz", &b, &err) == 0)
		bundle_free(b);
	return 0;
}
