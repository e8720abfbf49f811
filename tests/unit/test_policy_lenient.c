/* Unit tests for per-rule failures: the lenient resolver and the POLICY_EXEC_BAD flag vigild uses
 * to revoke one rule instead of refusing a whole policy. */
#include "policy_testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "policies/policy.h"

/* A policy with three rules a, b, c for files a, b, c under tmpdir, all with the empty digest. */
static struct policy *three_rules(void)
{
	struct policy_error err = {0};
	struct policy *p = NULL;
	char text[2048];

	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":["
	         "{\"name\":\"a\",\"path\":\"%s/a\",\"sha256\":\"" EMPTY_SHA256 "\"},"
	         "{\"name\":\"b\",\"path\":\"%s/b\",\"sha256\":\"" EMPTY_SHA256 "\"},"
	         "{\"name\":\"c\",\"path\":\"%s/c\",\"sha256\":\"" EMPTY_SHA256 "\"}]}}",
	         tmpdir, tmpdir, tmpdir);
	assert_int_equal(policy_parse(text, strlen(text), "p.json", &p, &err), 0);
	return p;
}

static void test_lenient_resolve_marks_missing(void **state)
{
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = three_rules();
	size_t n = 0;

	free(tu_write(tmpdir, "a", "", 0));
	free(tu_write(tmpdir, "c", "", 0));
	/* Strict: the missing b refuses everything. */
	assert_int_equal(policy_resolve_exec(p, "", &e, &n, &err), -ENOENT);
	/* Lenient: b is flagged, a and c resolve. */
	assert_int_equal(policy_resolve_exec_lenient(p, "", &e, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_false(e[0].flags & POLICY_EXEC_BAD);
	assert_true(e[1].flags & POLICY_EXEC_BAD);
	assert_false(e[2].flags & POLICY_EXEC_BAD);
	assert_int_not_equal(e[2].ino, 0);
	assert_contains(err.msg, "rule 'b'");
	free(e);
	policy_free(p);
}

/* verify flags the entry whose error it returns, and clears the flag once it checks out. */
static void test_verify_flags_bad_entry(void **state)
{
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = three_rules();
	char path[4096];
	size_t n = 0;

	free(tu_write(tmpdir, "a", "", 0));
	free(tu_write(tmpdir, "b", "", 0));
	free(tu_write(tmpdir, "c", "", 0));
	assert_int_equal(policy_resolve_exec(p, "", &e, &n, &err), 0);
	snprintf(path, sizeof(path), "%s/b", tmpdir);
	FILE *f = fopen(path, "a");
	fputs("x", f);
	fclose(f);
	assert_int_equal(policy_verify_exec(p, "", e, n, NULL, &err), -EBADMSG);
	assert_false(e[0].flags & POLICY_EXEC_BAD);
	assert_true(e[1].flags & POLICY_EXEC_BAD);
	assert_contains(err.msg, "rule 'b'");
	/* The rest, from the entry after it, checks out. */
	assert_int_equal(policy_verify_exec(p, "", e + 2, 1, NULL, &err), 0);
	assert_false(e[2].flags & POLICY_EXEC_BAD);
	/* A flagged entry is never vouched for by the next load. */
	struct policy_exec_entry *e2 = NULL;
	size_t n2 = 0;
	assert_int_equal(policy_resolve_exec(p, "", &e2, &n2, &err), 0);
	assert_int_equal(policy_exec_mark_unchanged(p, e, n, p, e2, n2), 2);
	assert_false(e2[1].flags & POLICY_EXEC_UNCHANGED);
	/* Restored, it checks out again and loses the flag. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(policy_verify_exec(p, "", e + 1, 1, NULL, &err), 0);
	assert_false(e[1].flags & POLICY_EXEC_BAD);
	free(e);
	free(e2);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lenient_resolve_marks_missing),
	    cmocka_unit_test(test_verify_flags_bad_entry),
	};

	return cmocka_run_group_tests_name("policy_lenient", tests, tu_setup, tu_teardown);
}
