/* Unit tests for the policy's keys.release (resources vigild fetches after attestation), the JCS
 * canonicalization and base64 helpers of attest/kbs.h. */
#include "testutil.h"

#include <errno.h>

#include "attest/kbs.h"
#include "policies/policy.h"

#define HEAD                                                                                       \
	"{\"version\":1,\"name\":\"k\",\"serial\":1,\"mode\":\"enforce\","                         \
	"\"scope\":{\"cgroups\":[\"/w\"]},\"keys\":{\"rules\":[],\"release\":"

static int parse(const char *release, struct policy **p, struct policy_error *err)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), HEAD "%s}}", release);
	return policy_parse(buf, strlen(buf), "p.json", p, err);
}

static void test_release_valid(void **state)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	assert_int_equal(parse("[{\"resource\":\"vigil/key/disk\",\"key\":\"vigil:disk\"},"
	                       "{\"resource\":\"default/tls/cert-1.pem\",\"key\":\"tls\"}]",
	                       &p, &err),
	                 0);
	assert_int_equal(p->n_key_release, 2);
	assert_string_equal(p->key_release[0].resource, "vigil/key/disk");
	assert_string_equal(p->key_release[0].key, "vigil:disk");
	assert_string_equal(p->key_release[1].resource, "default/tls/cert-1.pem");
	policy_free(p);
}

static void expect_bad(const char *release, const char *msg)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	assert_int_equal(parse(release, &p, &err), -EINVAL);
	assert_null(p);
	assert_contains(err.msg, msg);
}

static void test_release_invalid(void **state)
{
	expect_bad("{}", "keys.release: expected an array");
	expect_bad("[{\"resource\":\"a/b\",\"key\":\"k\"}]", "is not repository/type/tag");
	expect_bad("[{\"resource\":\"a/b/c/d\",\"key\":\"k\"}]", "is not repository/type/tag");
	expect_bad("[{\"resource\":\"a/../c\",\"key\":\"k\"}]", "is not repository/type/tag");
	expect_bad("[{\"resource\":\"a/b/\",\"key\":\"k\"}]", "is not repository/type/tag");
	expect_bad("[{\"resource\":\"a/b/c?x\",\"key\":\"k\"}]", "is not repository/type/tag");
	expect_bad("[{\"resource\":\"a/b/c\",\"key\":\"\"}]", "keys.release[0].key");
	expect_bad("[{\"resource\":\"a/b/c\"}]", "key");
	expect_bad("[{\"resource\":\"a/b/c\",\"key\":\"k\",\"uri\":\"x\"}]", "uri");
	expect_bad("[{\"resource\":\"a/b/c\",\"key\":\"k\",\"revoke_after_denials\":"
	           "{\"kind\":\"mmap\",\"count\":1}}]",
	           "revoke_after_denials.kind: 'mmap' is not one of");
	expect_bad("[{\"resource\":\"a/b/c\",\"key\":\"k\",\"revoke_after_denials\":"
	           "{\"kind\":\"exec\",\"count\":0}}]",
	           "revoke_after_denials.count: expected 1 to 1000000");
}

static void test_release_trigger(void **state)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	assert_int_equal(parse("[{\"resource\":\"v/k/d\",\"key\":\"d\",\"revoke_after_denials\":"
	                       "{\"kind\":\"exec\",\"count\":3}},{\"resource\":\"v/k/e\","
	                       "\"key\":\"e\"}]",
	                       &p, &err),
	                 0);
	assert_int_equal(p->key_release[0].revoke_type, 1); /* VIGIL_EV_EXEC */
	assert_int_equal(p->key_release[0].revoke_denials, 3);
	assert_int_equal(p->key_release[1].revoke_denials, 0);
	policy_free(p);
}

static void test_jcs(void **state)
{
	json_t *v = json_loads("{\"b\":[1,\"x\\u0007\"],\"a\":{\"\\u20ac\":true,\"\\ud83d\\ude00\":"
	                       "null,\"\\ufb33\":false}}",
	                       0, NULL);
	char *text = NULL;

	assert_non_null(v);
	assert_int_equal(jcs_canonicalize(v, &text), 0);
	/* U+1F600 (surrogates d83d...) sorts between U+20AC and U+FB33 in UTF-16 order. */
	assert_string_equal(text, "{\"a\":{\"\xe2\x82\xac\":true,\"\xf0\x9f\x98\x80\":null,"
	                          "\"\xef\xac\xb3\":false},\"b\":[1,\"x\\u0007\"]}");
	free(text);
	json_decref(v);
	v = json_loads("{\"r\":1.5}", 0, NULL);
	assert_int_equal(jcs_canonicalize(v, &text), -ENOTSUP);
	json_decref(v);
}

static void test_b64(void **state)
{
	size_t n = 0;
	char *s = kbs_b64("\xfb\xff", 2, true);
	uint8_t *d;

	assert_string_equal(s, "-_8");
	d = kbs_unb64(s, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(d, "\xfb\xff", 2);
	free(s);
	free(d);
	s = kbs_b64("\xfb\xff", 2, false);
	assert_string_equal(s, "+/8=");
	free(s);
	assert_null(kbs_unb64("a", &n));
	assert_null(kbs_unb64("ab!c", &n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_release_valid),
	    cmocka_unit_test(test_release_invalid),
	    cmocka_unit_test(test_release_trigger),
	    cmocka_unit_test(test_jcs),
	    cmocka_unit_test(test_b64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
