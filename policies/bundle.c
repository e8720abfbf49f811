/* DSSE policy bundles: strict envelope decoding and encoding, canonical base64, PAE, file reading.
 */
#include "policies/bundle.h"
#include "policies/policy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Sextet of each byte; X (0xff): not in the alphabet. */
#define X 0xff
static const uint8_t b64_rev[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  X,  0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X

/* Rejects rather than repairs: whitespace, missing padding and non-zero trailing bits all fail.
 * Table-driven, four characters to three bytes: a 13 MiB payload takes milliseconds. */
int bundle_b64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
	const uint8_t *s = (const uint8_t *)in;
	size_t i, o = 0, pad = 0, full;
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
	/* Every quad but the last has no padding. */
	full = len ? len - 4 : 0;
	for (i = 0; i < full; i += 4) {
		uint32_t a = b64_rev[s[i]], b = b64_rev[s[i + 1]], c = b64_rev[s[i + 2]],
		         d = b64_rev[s[i + 3]];

		if ((a | b | c | d) & 0xc0)
			goto bad;
		uint32_t w = a << 18 | b << 12 | c << 6 | d;

		out[o] = (uint8_t)(w >> 16);
		out[o + 1] = (uint8_t)(w >> 8);
		out[o + 2] = (uint8_t)w;
		o += 3;
	}
	if (len) {
		uint32_t v[4], w;
		int k;

		for (k = 0; k < 4; k++) {
			v[k] = k >= 4 - (int)pad ? 0 : b64_rev[s[i + (size_t)k]];
			if (v[k] & 0xc0)
				goto bad;
		}
		w = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		/* Canonical form only: the bits padding drops must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			goto bad;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
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
	struct vjson_doc *doc;
	char msg[192];
	bool is;

	if (vjson_parse(buf, len, &doc, msg, sizeof(msg)) < 0)
		return false;
	is = vjson_is_object(doc->root) && vjson_object_get(doc->root, "payloadType");
	vjson_doc_free(doc);
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
static int only_keys(const vjson *obj, const char *a, const char *b, const char *c)
{
	const char *key;

	vjson_object_foreach_key(obj, key)
	{
		if (strcmp(key, a) && strcmp(key, b) && (!c || strcmp(key, c)))
			return -EINVAL;
	}
	return 0;
}

static int decode_sig(const vjson *s, size_t i, const char *origin, struct bundle_sig *out,
                      struct policy_error *err)
{
	const vjson *keyid = vjson_object_get(s, "keyid"), *sig = vjson_object_get(s, "sig");

	if (!vjson_is_object(s) || only_keys(s, "keyid", "sig", NULL) < 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: signatures[%zu]: expected an object with keyid and sig",
		                     origin, i);
	if (!vjson_is_string(keyid) || !is_keyid(vjson_string_value(keyid)))
		return policy_errorf(err, -EINVAL,
		                     "%s: signatures[%zu].keyid: expected 64 lower-case hex digits",
		                     origin, i);
	if (!vjson_is_string(sig) || vjson_string_length(sig) > BUNDLE_SIG_MAX ||
	    bundle_b64_decode(vjson_string_value(sig), vjson_string_length(sig), &out->sig,
	                      &out->sig_len) < 0 ||
	    out->sig_len == 0)
		return policy_errorf(
		    err, -EINVAL,
		    "%s: signatures[%zu].sig: expected canonical base64 of at most "
		    "%u characters",
		    origin, i, BUNDLE_SIG_MAX);
	memcpy(out->keyid, vjson_string_value(keyid), BUNDLE_KEYID_HEX);
	return 0;
}

static int decode_root(const vjson *root, const char *origin, struct bundle *b,
                       struct policy_error *err)
{
	const vjson *type = vjson_object_get(root, "payloadType");
	const vjson *payload = vjson_object_get(root, "payload");
	const vjson *sigs = vjson_object_get(root, "signatures");
	size_t i;
	int r;

	if (!vjson_is_object(root))
		return policy_errorf(err, -EINVAL, "%s: a bundle is a JSON object", origin);
	if (only_keys(root, "payloadType", "payload", "signatures") < 0)
		return policy_errorf(err, -EINVAL,
		                     "%s: unknown field (a bundle has payloadType, payload, "
		                     "signatures)",
		                     origin);
	if (!vjson_is_string(type) || vjson_string_length(type) == 0 ||
	    vjson_string_length(type) > 256 ||
	    strlen(vjson_string_value(type)) != vjson_string_length(type))
		return policy_errorf(err, -EINVAL, "%s: payloadType: expected a string", origin);
	if (!vjson_is_string(payload) ||
	    bundle_b64_decode(vjson_string_value(payload), vjson_string_length(payload),
	                      &b->payload, &b->payload_len) < 0)
		return policy_errorf(err, -EINVAL, "%s: payload: expected canonical base64",
		                     origin);
	if (!vjson_is_array(sigs) || vjson_array_size(sigs) == 0 ||
	    vjson_array_size(sigs) > BUNDLE_MAX_SIGS)
		return policy_errorf(err, -EINVAL, "%s: signatures: expected 1 to %u signatures",
		                     origin, BUNDLE_MAX_SIGS);
	b->payload_type = strdup(vjson_string_value(type));
	if (!b->payload_type)
		return -ENOMEM;
	for (i = 0; i < vjson_array_size(sigs); i++) {
		r = decode_sig(vjson_array_get(sigs, i), i, origin, &b->sigs[i], err);
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
	struct vjson_doc *doc;
	struct bundle *b;
	int r;

	r = policy_json_load(buf, len, BUNDLE_MAX_BYTES, origin, "bundle", &doc, err);
	if (r < 0)
		return r;
	b = calloc(1, sizeof(*b));
	if (!b) {
		vjson_doc_free(doc);
		return -ENOMEM;
	}
	r = decode_root(doc->root, origin, b, err);
	vjson_doc_free(doc);
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
