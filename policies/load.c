/* Policies and bundles from a path: the one reader every caller goes through. */
#include "policies/bundle.h"
#include "policies/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bundle_read_file(const char *path, size_t max, char **ret, size_t *ret_len,
                     struct policy_error *err)
{
	int r = vigil_read_file(path, max, 0, ret, ret_len);

	switch (r) {
	case 0:
		return 0;
	case -VIGIL_ENOTREG:
		return policy_errorf(err, -EINVAL, "%s: not a regular file", path);
	case -EFBIG:
		return vigil_reasonf(err, r, "too_large", "%s: larger than %zu bytes", path, max);
	case -ENODATA:
		return policy_errorf(err, r, "%s: empty", path);
	case -EIO:
		return policy_errorf(err, r, "%s: read error or the file shrank while read", path);
	case -ENOMEM:
		return policy_errorf(err, r, "%s: out of memory", path);
	default:
		return policy_errorf(err, r, "%s: cannot open: %s", path, strerror(-r));
	}
}

int policy_load_path(const char *path, unsigned int accept, const struct trust_store *trust,
                     struct policy **ret, struct bundle **ret_bundle,
                     struct bundle_signers *ret_signers, struct policy_error *err)
{
	struct bundle_signers signers;
	struct bundle *b = NULL;
	bool envelope;
	size_t len;
	char *buf;
	int r;

	if (ret_bundle)
		*ret_bundle = NULL;
	r = bundle_read_file(path,
	                     accept & POLICY_LOAD_BUNDLE ? BUNDLE_MAX_BYTES : POLICY_MAX_BYTES,
	                     &buf, &len, err);
	if (r < 0)
		return r;
	envelope = (accept & POLICY_LOAD_BUNDLE) &&
	           (!(accept & POLICY_LOAD_POLICY) || bundle_is_envelope(buf, len));
	if (!envelope) {
		r = policy_parse(buf, len, path, ret, err);
		free(buf);
		return r;
	}
	if (trust) {
		r = bundle_open(buf, len, path, trust, &b, ret_signers ?: &signers, ret, err);
		free(buf);
	} else {
		r = bundle_decode(buf, len, path, &b, err);
		free(buf);
		if (r < 0)
			return r;
		if (strcmp(b->payload_type, BUNDLE_PAYLOAD_TYPE) != 0)
			r = vigil_reasonf(err, -EPROTO, "payload_type",
			                  "%s: payloadType '%s': expected '%s'", path,
			                  b->payload_type, BUNDLE_PAYLOAD_TYPE);
		else
			r = policy_parse((const char *)b->payload, b->payload_len, path, ret, err);
	}
	if (r < 0 || !ret_bundle)
		bundle_free(b);
	else
		*ret_bundle = b;
	return r;
}

int policy_load_file(const char *path, struct policy **ret, struct policy_error *err)
{
	return policy_load_path(path, POLICY_LOAD_POLICY, NULL, ret, NULL, NULL, err);
}
