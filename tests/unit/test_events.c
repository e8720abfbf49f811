/* Unit tests for the decision-event JSON formatter. */
#include "testutil.h"

#include <errno.h>
#include <jansson.h>

#include "agent/agent.h"

static struct policy *one_rule_policy(void)
{
	static const char text[] =
	    "{\"version\":1,\"name\":\"pol\",\"serial\":9,\"mode\":\"enforce\",\"scope\":"
	    "\"guest\",\"exec\":{\"allow\":[{\"name\":\"r0\",\"path\":\"/x\",\"sha256\":"
	    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]}}";
	struct policy_error err;
	struct policy *p = NULL;

	assert_int_equal(policy_parse(text, strlen(text), "t", &p, &err), 0);
	return p;
}

static json_t *format(struct agent *a, const struct vigil_event *e)
{
	char line[2048];
	json_error_t jerr;
	json_t *j;
	int n = agent_event_format(a, e, line, sizeof(line));

	assert_true(n > 0);
	assert_int_equal(line[n - 1], '\n');
	j = json_loadb(line, (size_t)n, 0, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, line);
	return j;
}

static void test_event_deny_fields(void **state)
{
	struct agent a = {.cur = {.policy = one_rule_policy(), .gen = 4}};
	struct vigil_event e = {
	    .ts_boot_ns = 1500000000ull,
	    .cgroup_id = 77,
	    .dev = (8ull << 20) | 3,
	    .ino = 1234,
	    .policy_serial = 9,
	    .abi_version = VIGIL_ABI_VERSION,
	    .gen = 4,
	    .pid = 100,
	    .tid = 101,
	    .ppid = 1,
	    .uid = 1000,
	    .gid = 1000,
	    .err = -1,
	    .type = VIGIL_EV_EXEC,
	    .verdict = VIGIL_DENY,
	    .reason = VIGIL_R_NOT_LISTED,
	};
	json_t *j;

	/* comm and path are attacker-chosen: quotes, backslashes, control bytes, no NUL. */
	memcpy(e.comm, "a\"b\\c\nd\x01\xff-------", sizeof(e.comm));
	snprintf(e.path, sizeof(e.path), "/tmp/\"quoted\"\t");
	a.boot_to_real_ns = 1700000000ll * 1000000000ll;
	j = format(&a, &e);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "exec");
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "deny");
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "not_listed");
	assert_int_equal(json_integer_value(json_object_get(j, "errno")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 100);
	assert_int_equal(json_integer_value(json_object_get(j, "ppid")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "uid")), 1000);
	assert_int_equal(json_integer_value(json_object_get(j, "cgroup_id")), 77);
	assert_int_equal(json_integer_value(json_object_get(j, "ino")), 1234);
	assert_string_equal(json_string_value(json_object_get(j, "dev")), "8:3");
	/* Bytes outside ASCII become \u00XX: 0xff reads back as U+00FF (UTF-8 c3 bf). */
	assert_string_equal(json_string_value(json_object_get(j, "comm")),
	                    "a\"b\\c\nd\x01\xc3\xbf-------");
	assert_string_equal(json_string_value(json_object_get(j, "path")), "/tmp/\"quoted\"\t");
	assert_true(json_is_null(json_object_get(j, "rule")));
	assert_string_equal(json_string_value(json_object_get(j, "policy")), "pol");
	assert_int_equal(json_integer_value(json_object_get(j, "policy_serial")), 9);
	assert_string_equal(json_string_value(json_object_get(j, "time")),
	                    "2023-11-14T22:13:21.500000000Z");
	json_decref(j);

	/* An allow by rule names the rule; an event of an unknown generation names no policy. */
	e.verdict = VIGIL_ALLOW;
	e.reason = VIGIL_R_RULE;
	e.err = 0;
	j = format(&a, &e);
	assert_string_equal(json_string_value(json_object_get(j, "rule")), "r0");
	json_decref(j);
	e.gen = 99;
	j = format(&a, &e);
	assert_true(json_is_null(json_object_get(j, "rule")));
	assert_null(json_object_get(j, "policy"));
	json_decref(j);
	policy_free(a.cur.policy);
}

static void test_event_buffer_too_small(void **state)
{
	struct agent a = {0};
	struct vigil_event e = {.abi_version = VIGIL_ABI_VERSION, .type = VIGIL_EV_EXEC};
	char small[64];

	assert_int_equal(agent_event_format(&a, &e, small, sizeof(small)), -ENOBUFS);
}

static void test_names(void **state)
{
	assert_string_equal(vigil_reason_name(VIGIL_R_FILELESS), "fileless");
	assert_string_equal(vigil_reason_name(200), "unknown");
	assert_string_equal(vigil_verdict_name(VIGIL_AUDIT), "audit");
	assert_string_equal(vigil_event_type_name(VIGIL_EV_MPROTECT_EXEC), "mprotect_exec");
	assert_true(vigil_reason_has_rule(VIGIL_R_MODIFIED));
	assert_false(vigil_reason_has_rule(VIGIL_R_NOT_LISTED));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_deny_fields),
	    cmocka_unit_test(test_event_buffer_too_small),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
