/* Unit tests for agent_event_write: the non-decision events (policy_loaded, policy_rejected). */
#include "testutil.h"

#include <errno.h>
#include <jansson.h>

#include "agent/agent.h"

static void test_event_line(void **state)
{
	struct agent a = {0};
	char line[1024];
	json_t *ev;

	a.event_log = tmpfile();
	assert_non_null(a.event_log);
	assert_int_equal(agent_event_write(&a, "policy_rejected",
	                                   json_pack("{s:s, s:s, s:I}", "source", "push", "reason",
	                                             "rollback", "policy_serial", (json_int_t)7)),
	                 0);
	rewind(a.event_log);
	assert_non_null(fgets(line, sizeof(line), a.event_log));
	/* time and type lead, then the fields in the caller's order. */
	assert_true(strncmp(line, "{\"time\":\"", 9) == 0);
	assert_non_null(strstr(line, "Z\",\"type\":\"policy_rejected\",\"source\":\"push\","
	                             "\"reason\":\"rollback\",\"policy_serial\":7}\n"));
	ev = json_loads(line, 0, NULL);
	assert_non_null(ev);
	json_decref(ev);
	fclose(a.event_log);
}

static void test_before_the_log_is_open(void **state)
{
	struct agent a = {0};

	/* Start-up refusals happen before the log exists: reported, not crashed on, fields freed.
	 */
	assert_int_equal(agent_event_write(&a, "policy_rejected", json_pack("{s:s}", "k", "v")),
	                 -EBADF);
	assert_int_equal(agent_event_write(&a, "x", NULL), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_line),
	    cmocka_unit_test(test_before_the_log_is_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
