/* Shared helpers for the policy unit tests: a scratch directory, and a policy section parsed under
 * a fixed guest-scoped header, accepted or rejected with the message checked. */
#ifndef VIGIL_POLICY_TESTUTIL_H
#define VIGIL_POLICY_TESTUTIL_H

#include "testutil.h"

#include "policies/policy.h"

/* The SHA-256 of the empty file. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* The scratch directory of the running test: made by tu_setup, removed by tu_teardown. */
static char *tmpdir __attribute__((unused));

static inline int tu_setup(void **state)
{
	(void)state;
	tmpdir = tu_mkdtemp();
	return 0;
}

static inline int tu_teardown(void **state)
{
	(void)state;
	tu_rmdir(tmpdir);
	return 0;
}

/* Parses the sections in body (empty: none) after a guest-scoped enforce header. */
static inline int policy_test_parse(const char *body, struct policy **ret, struct policy_error *err)
{
	char buf[8192];

	snprintf(
	    buf, sizeof(buf),
	    "{\"version\":1,\"name\":\"t\",\"serial\":1,\"mode\":\"enforce\",\"scope\":\"guest\""
	    "%s%s}",
	    *body ? "," : "", body);
	return policy_parse(buf, strlen(buf), "t.json", ret, err);
}

/* body must be rejected with a message containing frag1 and, if given, frag2. */
static inline void expect_reject(const char *body, const char *frag1, const char *frag2)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	if (policy_test_parse(body, &p, &err) >= 0)
		fail_msg("accepted: %s", body);
	assert_contains(err.msg, frag1);
	if (frag2)
		assert_contains(err.msg, frag2);
}

/* body must be accepted; returns the policy (caller frees). */
static inline struct policy *expect_accept(const char *body)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	if (policy_test_parse(body, &p, &err) < 0)
		fail_msg("rejected: %s: %s", body, err.msg);
	return p;
}

#endif /* VIGIL_POLICY_TESTUTIL_H */
