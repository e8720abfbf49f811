/* Unit tests of the capabilities section: bad input named precisely, the compiled capability set
 * (the ordinary default, grants, refusals, default deny, raw sockets), names and warnings, and the
 * event's JSON field. */
#include "policy_testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "agent/agent.h"
#include "policies/policy.h"

#define BIT(cap) (1ull << (cap))
enum {
	CHOWN = 0,
	DAC_READ_SEARCH = 2,
	LINUX_IMMUTABLE = 9,
	NET_BIND = 10,
	NET_ADMIN = 12,
	NET_RAW = 13,
	SYS_MODULE = 16,
	SYS_RAWIO = 17,
	SYS_PTRACE = 19,
	SYS_ADMIN = 21,
	SYS_BOOT = 22,
	SYS_NICE = 23,
	SYS_RESOURCE = 24,
	SYS_TIME = 25,
	MAC_OVERRIDE = 32,
	MAC_ADMIN = 33,
	SYSLOG = 34,
	PERFMON = 38,
	BPF = 39
};

static void test_cap_bad_input(void **state)
{
	(void)state;
	expect_reject("\"capabilities\":[]", "capabilities", "expected an object");
	expect_reject("\"capabilities\":{\"grant\":[]}", "capabilities.grant", "unknown field");
	expect_reject("\"capabilities\":{\"allow\":\"CAP_CHOWN\"}", "capabilities.allow",
	              "expected an array");
	expect_reject("\"capabilities\":{\"allow\":[\"CAP_CHOWN\",\"cap_sys_admin\"]}",
	              "capabilities.allow[1]", "'cap_sys_admin' is not a capability name");
	expect_reject("\"capabilities\":{\"allow\":[\"SYS_ADMIN\"]}", "capabilities.allow[0]",
	              NULL);
	expect_reject("\"capabilities\":{\"allow\":[\"CAP_LAST_CAP\"]}", "allow[0]", NULL);
	expect_reject("\"capabilities\":{\"deny\":[21]}", "capabilities.deny[0]", "not a string");
	expect_reject("\"capabilities\":{\"allow\":[\"CAP_BPF\",\"CAP_BPF\"]}", "allow[1]",
	              "listed twice");
	expect_reject("\"capabilities\":{\"allow\":[\"CAP_BPF\"],\"deny\":[\"CAP_BPF\"]}",
	              "CAP_BPF", "both in allow and in deny");
	expect_reject("\"capabilities\":{\"default\":\"allow\"}", "capabilities.default",
	              "ordinary | deny");
	expect_reject("\"capabilities\":{\"mode\":\"warn\"}", "capabilities.mode", "'warn'");
	expect_reject("\"capabilities\":{\"user_namespaces\":\"yes\"}",
	              "capabilities.user_namespaces", "true or false");
	expect_reject("\"capabilities\":{\"default\":\"\"}", "capabilities.default", "empty");
}

static void test_cap_compile(void **state)
{
	struct policy *p;
	uint64_t refused = BIT(SYS_MODULE) | BIT(SYS_RAWIO) | BIT(SYS_ADMIN) | BIT(NET_RAW) |
	                   BIT(SYS_PTRACE) | BIT(SYS_RESOURCE) | BIT(LINUX_IMMUTABLE) |
	                   BIT(SYS_BOOT) | BIT(MAC_ADMIN) | BIT(MAC_OVERRIDE) | BIT(BPF) |
	                   BIT(PERFMON) | BIT(SYSLOG) | BIT(SYS_TIME) | BIT(NET_ADMIN) |
	                   BIT(SYS_NICE) | BIT(DAC_READ_SEARCH);

	(void)state;
	assert_int_equal(POLICY_CAP_REFUSED, refused);
	/* No section: the ordinary set, every capability of 6.1 but the refused ones. */
	p = expect_accept("");
	assert_int_equal(policy_cap_allow(p), POLICY_CAP_ALL & ~refused);
	assert_true(policy_cap_allow(p) & BIT(CHOWN));
	assert_false(p->userns);
	assert_int_equal(agent_sections_cfg_flags(p) & (VIGIL_CFG_CAP_AUDIT | VIGIL_CFG_USERNS), 0);
	/* Raw sockets the network section allows keep CAP_NET_RAW. */
	p->net_raw = true;
	assert_true(policy_cap_allow(p) & BIT(NET_RAW));
	policy_free(p);

	p = expect_accept("\"capabilities\":{\"allow\":[\"CAP_SYS_ADMIN\",\"CAP_NET_RAW\"],"
	                  "\"deny\":[\"CAP_CHOWN\"],\"user_namespaces\":true,\"mode\":\"audit\"}");
	assert_int_equal(policy_cap_allow(p),
	                 (POLICY_CAP_ALL & ~refused & ~BIT(CHOWN)) | BIT(SYS_ADMIN) | BIT(NET_RAW));
	assert_true(p->userns);
	assert_int_equal(agent_sections_cfg_flags(p) & (VIGIL_CFG_CAP_AUDIT | VIGIL_CFG_USERNS),
	                 VIGIL_CFG_CAP_AUDIT | VIGIL_CFG_USERNS);
	policy_free(p);

	/* A network section that refuses raw sockets withdraws CAP_NET_RAW, even when allowed:
	 * raw and packet sockets receive from socket() on, before any address is checked. */
	p = expect_accept("\"capabilities\":{\"allow\":[\"CAP_NET_RAW\"]},"
	                  "\"network\":{\"default\":\"allow\"}");
	assert_true(policy_net_refuses_raw(p));
	assert_false(policy_cap_allow(p) & BIT(NET_RAW));
	assert_true(agent_sections_cfg_flags(p) & VIGIL_CFG_NET_RULES);
	policy_free(p);
	p = expect_accept("\"capabilities\":{\"allow\":[\"CAP_NET_RAW\"]},"
	                  "\"network\":{\"default\":\"deny\",\"raw\":\"allow\"}");
	assert_false(policy_net_refuses_raw(p));
	assert_true(policy_cap_allow(p) & BIT(NET_RAW));
	policy_free(p);

	/* Default deny: only what is listed; a deny wins over net_raw too. */
	p = expect_accept(
	    "\"capabilities\":{\"default\":\"deny\",\"allow\":[\"CAP_NET_BIND_SERVICE\","
	    "\"CAP_CHECKPOINT_RESTORE\"]}");
	p->net_raw = true;
	assert_int_equal(policy_cap_allow(p), BIT(NET_BIND) | BIT(40));
	policy_free(p);
	p = expect_accept("\"capabilities\":{\"deny\":[\"CAP_NET_RAW\"]}");
	p->net_raw = true;
	assert_false(policy_cap_allow(p) & BIT(NET_RAW));
	policy_free(p);
}

static void test_cap_names_and_risks(void **state)
{
	unsigned int cap;

	(void)state;
	assert_string_equal(policy_cap_name(0), "CAP_CHOWN");
	assert_string_equal(policy_cap_name(SYS_ADMIN), "CAP_SYS_ADMIN");
	assert_string_equal(policy_cap_name(POLICY_CAP_LAST), "CAP_CHECKPOINT_RESTORE");
	assert_null(policy_cap_name(POLICY_CAP_LAST + 1));
	/* Every refused capability says what granting it gives up; ordinary ones say nothing. */
	for (cap = 0; cap <= POLICY_CAP_LAST; cap++) {
		if (POLICY_CAP_REFUSED & BIT(cap))
			assert_non_null(policy_cap_risk(cap));
		else
			assert_null(policy_cap_risk(cap));
	}
	assert_contains(policy_cap_risk(SYS_ADMIN), "mount");
	assert_contains(policy_cap_risk(NET_ADMIN), "routes");
	assert_contains(policy_cap_risk(SYS_NICE), "starve");
	assert_contains(policy_cap_risk(DAC_READ_SEARCH), "open_by_handle_at");
}

static void test_cap_event_json(void **state)
{
	struct vigil_event e = {.type = VIGIL_EV_CAP, .access = SYS_ADMIN};
	char out[256];
	int n;

	(void)state;
	agent_event_format_kind(&e, out, sizeof(out), &n);
	assert_string_equal(out, ",\"capability\":\"CAP_SYS_ADMIN\"");
	assert_int_equal(n, (int)strlen(out));
	e.access = VIGIL_CAP_USERNS;
	agent_event_format_kind(&e, out, sizeof(out), &n);
	assert_string_equal(out, ",\"capability\":\"user_namespace\"");
	e.access = 63;
	agent_event_format_kind(&e, out, sizeof(out), &n);
	assert_string_equal(out, ",\"capability\":\"unknown\"");
	assert_string_equal(vigil_event_type_name(VIGIL_EV_CAP), "capability");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cap_bad_input),
	    cmocka_unit_test(test_cap_compile),
	    cmocka_unit_test(test_cap_names_and_risks),
	    cmocka_unit_test(test_cap_event_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
