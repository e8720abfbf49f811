/* Bundle acceptance: verify and rollback-check a bundle, and describe it for the measurement log.
 */
#include "attest/attest.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void bundle_admission_clear(struct bundle_admission *a)
{
	bundle_free(a->bundle);
	policy_free(a->policy);
	*a = (struct bundle_admission){0};
}

int bundle_admit(const char *buf, size_t len, const char *origin, const struct trust_store *t,
                 struct hwm_store *h, struct bundle_admission *ret, struct policy_error *err)
{
	struct bundle_admission a = {0};
	struct hwm_mark last = {0};
	bool found = false;
	int r;

	r = bundle_open(buf, len, origin, t, &a.bundle, &a.signers, &a.policy, err);
	if (r < 0)
		return r;
	r = hwm_get(h, a.policy->name, &last, &found);
	if (r < 0)
		r = vigil_reasonf(err, r, "rollback_state",
		                  "%s: cannot read the last accepted serial of '%s' (%s): %s",
		                  origin, a.policy->name, hwm_backend(h), hwm_error(h));
	else if (found && (a.policy->serial < last.serial ||
	                   (a.policy->serial == last.serial &&
	                    memcmp(a.bundle->payload_digest, last.payload_sha256,
	                           sizeof(last.payload_sha256)) != 0)))
		r = vigil_reasonf(err, -ESTALE, "rollback",
		                  "%s: serial %llu of policy '%s' is not above %llu, the last "
		                  "accepted%s (rollback refused)",
		                  origin, (unsigned long long)a.policy->serial, a.policy->name,
		                  (unsigned long long)last.serial,
		                  a.policy->serial == last.serial ? ", and its content differs"
		                                                  : "");
	if (r < 0) {
		bundle_admission_clear(&a);
		return r;
	}
	*ret = a;
	return 0;
}

char *bundle_measurement(const struct bundle_admission *a)
{
	char bundle_hex[2 * POLICY_SHA256_LEN + 1], payload_hex[2 * POLICY_SHA256_LEN + 1];
	json_t *signers = json_array(), *obj;
	char *text;
	size_t i;

	for (i = 0; signers && i < a->signers.n; i++)
		json_array_append_new(signers, json_string(a->signers.keyid[i]));
	vigil_hex(a->bundle->digest, POLICY_SHA256_LEN, bundle_hex);
	vigil_hex(a->bundle->payload_digest, POLICY_SHA256_LEN, payload_hex);
	obj = json_pack("{s:s, s:I, s:s, s:s, s:o}", "policy", a->policy->name, "serial",
	                (json_int_t)a->policy->serial, "bundle_sha256", bundle_hex,
	                "payload_sha256", payload_hex, "signers", signers);
	if (!obj)
		return NULL;
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return text;
}

int bundle_measure(struct measure_log *m, const struct bundle_admission *a, uint64_t *ret_recnum)
{
	char *content = bundle_measurement(a);
	int r;

	if (!content)
		return -ENOMEM;
	r = measure_record(m, ATTEST_CT_BUNDLE, content, strlen(content), ret_recnum);
	free(content);
	return r;
}

int bundle_commit(struct hwm_store *h, const struct bundle_admission *a)
{
	struct hwm_mark mark = {.serial = a->policy->serial};

	memcpy(mark.payload_sha256, a->bundle->payload_digest, sizeof(mark.payload_sha256));
	return hwm_set(h, a->policy->name, &mark);
}
