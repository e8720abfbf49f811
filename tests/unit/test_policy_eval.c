/* Unit tests of the offline evaluator (policies/evaluate.c) and case files (policies/cases.c):
 * precedence as the BPF programs decide it, and bad case lines named by file, line and field. */
#include "testutil.h"

#include <errno.h>
#include <netinet/in.h>

#include "bpf/vigil_abi.h"
#include "policies/cases.h"
#include "policies/evaluate.h"

#define D64 "3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6"

static const char policy_text[] =
    "{\"version\":1,\"name\":\"t\",\"serial\":4,\"mode\":\"enforce\",\"scope\":\"guest\","
    "\"exec\":{\"allow\":[{\"name\":\"py\",\"path\":\"/usr/bin/python3\",\"sha256\":\"" D64 "\"},"
    "{\"name\":\"tool\",\"path\":\"/opt/tool\",\"sha256\":\"" D64 "\",\"mode\":\"audit\"}]},"
    "\"files\":{\"default\":\"deny\",\"rules\":["
    "{\"name\":\"usr\",\"path\":\"/usr/\",\"access\":[\"read\",\"exec_map\"],\"action\":\"allow\"},"
    "{\"name\":\"sec\",\"path\":\"/srv/sec\",\"action\":\"deny\"},"
    "{\"name\":\"motd\",\"path\":\"/srv/sec/motd\",\"access\":[\"read\"],\"action\":\"allow\"},"
    "{\"name\":\"motd-a\",\"path\":\"/srv/sec/motd\",\"access\":[\"read\"],\"action\":\"audit\"},"
    "{\"name\":\"scratch\",\"path\":\"/scratch\",\"action\":\"allow\"},"
    "{\"name\":\"scratch2\",\"path\":\"/scratch\",\"action\":\"allow\"}]},"
    "\"network\":{\"default\":\"deny\",\"rules\":["
    "{\"name\":\"lan\",\"cidr\":\"10.0.0.0/8\",\"action\":\"allow\"},"
    "{\"name\":\"smtp\",\"cidr\":\"10.0.0.0/8\",\"protocol\":\"tcp\",\"ports\":25,"
    "\"action\":\"deny\"},"
    "{\"name\":\"kbs\",\"cidr\":\"10.1.2.3\",\"protocol\":\"tcp\",\"ports\":\"8000-8100\","
    "\"ops\":[\"connect\"],\"action\":\"allow\"},"
    "{\"name\":\"mapped\",\"cidr\":\"::ffff:192.168.0.0/112\",\"action\":\"audit\"},"
    "{\"name\":\"v6\",\"cidr\":\"fd00::/64\",\"ports\":\"1-1023\",\"action\":\"allow\"},"
    "{\"name\":\"v6-deny\",\"cidr\":\"fd00::/64\",\"ports\":\"1-1023\",\"action\":\"deny\"},"
    "{\"name\":\"lo\",\"cidr\":\"127.0.0.1\",\"action\":\"allow\"}]},"
    "\"keys\":{\"rules\":[{\"name\":\"disk\",\"key\":\"vigil:disk\",\"perms\":[\"read\"],"
    "\"exe\":{\"path\":\"/usr/bin/python3\",\"sha256\":\"" D64 "\"},\"cgroup\":\"/w\"},"
    "{\"name\":\"uid7\",\"key\":\"vigil:disk\",\"perms\":[\"view\"],\"uid\":7}]}}";

struct fixture {
	struct policy *p;
	struct policy_eval *e;
};

static int setup(void **state)
{
	struct policy_error err = {0};
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (policy_parse(policy_text, strlen(policy_text), "t.json", &f->p, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(policy_eval_new(f->p, NULL, &f->e, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	policy_eval_free(f->e);
	policy_free(f->p);
	free(f);
	return 0;
}

/* Decides one case line and checks verdict, rule and reason. */
static void expect(void **state, const char *line, unsigned int verdict, const char *rule,
                   const char *reason)
{
	struct fixture *f = *state;
	struct policy_error err = {0};
	struct policy_case c;
	struct policy_verdict v;

	if (policy_case_parse(line, strlen(line), "c.jsonl", 1, &c, &err) < 0)
		fail_msg("%s: %s", line, err.msg);
	policy_eval_decide(f->e, &c.access, &v);
	if (v.verdict != verdict || strcmp(v.reason, reason) ||
	    (rule ? !v.rule_name || strcmp(rule, v.rule_name) : v.rule_name != NULL))
		fail_msg("%s: got %s rule %s reason %s (%s)", line,
		         policy_eval_verdict_name(v.verdict), v.rule_name ? v.rule_name : "-",
		         v.reason, v.why);
	policy_case_clear(&c);
}

#define E "\"expect\":\"allow\""

static void test_exec(void **state)
{
	expect(state, "{\"exec\":\"/usr/bin/python3\"," E "}", VIGIL_ALLOW, "py", "rule");
	expect(state, "{\"exec\":\"/usr/bin/python3\",\"sha256\":\"" D64 "\"," E "}", VIGIL_ALLOW,
	       "py", "rule");
	expect(state, "{\"exec\":\"/usr/bin/python3\",\"sha256\":\"" D64 "\"," E "}", VIGIL_ALLOW,
	       "py", "rule");
	expect(state,
	       "{\"exec\":\"/usr/bin/python3\",\"sha256\":"
	       "\"0000000000000000000000000000000000000000000000000000000000000000\"," E "}",
	       VIGIL_DENY, "py", "modified");
	expect(state, "{\"exec\":\"/usr/bin/perl\"," E "}", VIGIL_DENY, NULL, "not_listed");
	expect(state, "{\"fileless\":true," E "}", VIGIL_DENY, NULL, "fileless");
	/* A rule in audit mode logs what it would deny. */
	expect(state,
	       "{\"exec\":\"/opt/tool\",\"sha256\":"
	       "\"1111111111111111111111111111111111111111111111111111111111111111\"," E "}",
	       VIGIL_AUDIT, "tool", "modified");
}

static void test_files(void **state)
{
	/* Nearest rule; a trailing slash in a rule's path is the same directory. */
	expect(state, "{\"file\":\"/usr/lib/libc.so.6\",\"access\":\"exec_map\"," E "}",
	       VIGIL_ALLOW, "usr", "rule");
	expect(state, "{\"file\":\"/usr\",\"access\":\"read\"," E "}", VIGIL_ALLOW, "usr", "rule");
	expect(state, "{\"file\":\"/usrx/a\",\"access\":\"read\"," E "}", VIGIL_DENY, NULL,
	       "default");
	/* Each access kind separately: the file's own read rule, the tree's deny for write. */
	expect(state, "{\"file\":\"/srv/sec/motd\",\"access\":\"read\"," E "}", VIGIL_AUDIT,
	       "motd-a", "rule");
	expect(state, "{\"file\":\"/srv/sec/motd\",\"access\":\"write\"," E "}", VIGIL_DENY, "sec",
	       "rule");
	/* A deny rule also covers rename and link, whatever its access says. */
	expect(state, "{\"file\":\"/srv/sec/a/b\",\"access\":\"link\"," E "}", VIGIL_DENY, "sec",
	       "rule");
	/* Same path, same action: policy order. */
	expect(state, "{\"file\":\"/scratch/x\",\"access\":\"create\"," E "}", VIGIL_ALLOW,
	       "scratch", "rule");
}

static void test_too_deep(void **state)
{
	char line[512] = "{\"file\":\"/usr";
	int i;

	/* 31 components: walked to the root; 32: fails closed under a directory rule. */
	for (i = 0; i < 30; i++)
		strcat(line, "/d");
	strcat(line, "\",\"access\":\"read\"," E "}");
	expect(state, line, VIGIL_ALLOW, "usr", "rule");
	memmove(line + 13 + 2, line + 13, strlen(line + 13) + 1);
	memcpy(line + 13, "/d", 2);
	expect(state, line, VIGIL_DENY, NULL, "too_deep");
}

static void test_net(void **state)
{
	/* Longest prefix, then narrower ports, protocol, ops, deny > audit > allow. */
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"10.1.2.3\",\"port\":8080,\"protocol\":\"tcp\"," E
	       "}",
	       VIGIL_ALLOW, "kbs", "rule");
	expect(state,
	       "{\"net\":\"bind\",\"addr\":\"10.1.2.3\",\"port\":8080,\"protocol\":\"tcp\"," E "}",
	       VIGIL_ALLOW, "lan", "rule");
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"10.1.2.3\",\"port\":25,\"protocol\":\"tcp\"," E "}",
	       VIGIL_DENY, "smtp", "rule");
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"10.1.2.3\",\"port\":25,\"protocol\":\"udp\"," E "}",
	       VIGIL_ALLOW, "lan", "rule");
	expect(state,
	       "{\"net\":\"sendmsg\",\"addr\":\"fd00::5\",\"port\":53,\"protocol\":\"udp\"," E "}",
	       VIGIL_DENY, "v6-deny", "rule");
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"fd00::5\",\"port\":2000,\"protocol\":\"tcp\"," E
	       "}",
	       VIGIL_DENY, NULL, "default");
	/* IPv4-mapped IPv6: the IPv4 rules decide, both ways round. */
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"::ffff:10.9.9.9\",\"port\":25,\"protocol\":\"tcp\","
	       "" E "}",
	       VIGIL_DENY, "smtp", "rule");
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"192.168.7.7\",\"port\":1,\"protocol\":\"tcp\"," E
	       "}",
	       VIGIL_AUDIT, "mapped", "rule");
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"::10.1.2.3\",\"port\":1,\"protocol\":\"tcp\"," E
	       "}",
	       VIGIL_DENY, NULL, "default");
	/* A connect to 0.0.0.0 reaches 127.0.0.1; a bind to it does not. */
	expect(state,
	       "{\"net\":\"connect\",\"addr\":\"0.0.0.0\",\"port\":80,\"protocol\":\"tcp\"," E "}",
	       VIGIL_ALLOW, "lo", "rule");
	expect(state,
	       "{\"net\":\"bind\",\"addr\":\"0.0.0.0\",\"port\":80,\"protocol\":\"tcp\"," E "}",
	       VIGIL_DENY, NULL, "default");
}

static void test_keys(void **state)
{
	expect(state,
	       "{\"key\":\"vigil:disk\",\"perm\":\"read\",\"exe\":\"/usr/bin/python3\","
	       "\"cgroup\":\"/w/x\"," E "}",
	       VIGIL_ALLOW, "disk", "rule");
	expect(state,
	       "{\"key\":\"vigil:disk\",\"perm\":\"read\",\"exe\":\"/usr/bin/python3\","
	       "\"cgroup\":\"/wx\"," E "}",
	       VIGIL_DENY, NULL, "not_named");
	expect(
	    state,
	    "{\"key\":\"vigil:disk\",\"perm\":\"read\",\"exe\":\"/usr/bin/python3\","
	    "\"exe_sha256\":\"1111111111111111111111111111111111111111111111111111111111111111\","
	    "\"cgroup\":\"/w\"," E "}",
	    VIGIL_DENY, NULL, "not_named");
	expect(state, "{\"key\":\"vigil:disk\",\"perm\":\"view\",\"uid\":7," E "}", VIGIL_ALLOW,
	       "uid7", "rule");
	expect(state, "{\"key\":\"vigil:disk\",\"perm\":\"view\",\"uid\":8," E "}", VIGIL_DENY,
	       NULL, "not_named");
	expect(state, "{\"key\":\"other\",\"perm\":\"view\"," E "}", VIGIL_ALLOW, NULL,
	       "unchecked");
}

static void reject(const char *line, const char *msg)
{
	struct policy_error err = {0};
	struct policy_case c;

	if (policy_case_parse(line, strlen(line), "c.jsonl", 9, &c, &err) == 0)
		fail_msg("accepted: %s", line);
	assert_contains(err.msg, msg);
}

static void test_bad_cases(void **state)
{
	reject("{\"file\":\"/a\",\"access\":\"read\",\"expect\":\"deny\",\"port\":1}",
	       "c.jsonl:9: port: unknown field for a file case");
	reject("{\"file\":\"a\",\"access\":\"read\",\"expect\":\"deny\"}",
	       "c.jsonl:9: file: 'a' is not an absolute path");
	reject("{\"file\":\"/a/../b\",\"access\":\"read\",\"expect\":\"deny\"}",
	       "c.jsonl:9: file: '/a/../b' has a . or .. component");
	reject("{\"file\":\"/a\",\"access\":\"exec\",\"expect\":\"deny\"}", "c.jsonl:9: access:");
	reject("{\"file\":\"/a\",\"access\":\"read\"}", "c.jsonl:9: expect: missing");
	reject("{\"file\":\"/a\",\"access\":\"read\",\"expect\":\"no\"}", "c.jsonl:9: expect:");
	reject("{\"net\":\"connect\",\"addr\":\"1.2.3.4\",\"port\":65536,\"protocol\":\"tcp\","
	       "\"expect\":\"deny\"}",
	       "c.jsonl:9: port: expected an integer 0-65535");
	reject("{\"net\":\"connect\",\"addr\":\"1.2.3.4/8\",\"port\":1,\"protocol\":\"tcp\","
	       "\"expect\":\"deny\"}",
	       "c.jsonl:9: addr:");
	reject("{\"net\":\"listen\",\"addr\":\"1.2.3.4\",\"port\":1,\"protocol\":\"udp\","
	       "\"expect\":\"deny\"}",
	       "c.jsonl:9: protocol:");
	reject("{\"net\":\"connect\",\"addr\":\"1.2.3.4\",\"port\":1,\"protocol\":\"any\","
	       "\"expect\":\"deny\"}",
	       "c.jsonl:9: protocol: 'any'");
	reject("{\"key\":\"k\",\"perm\":\"own\",\"expect\":\"deny\"}", "c.jsonl:9: perm:");
	reject("{\"key\":\"k\",\"perm\":\"read\",\"exe_sha256\":\"" D64 "\",\"expect\":\"deny\"}",
	       "c.jsonl:9: exe_sha256: a digest without an executable");
	reject("{\"exec\":\"/a\",\"fileless\":true,\"expect\":\"deny\"}", "c.jsonl:9: exec:");
	reject("{\"exec\":\"/a\",\"file\":\"/b\",\"expect\":\"deny\"}",
	       "c.jsonl:9: file: a case has exactly one access");
	reject("{\"expect\":\"deny\"}", "c.jsonl:9: (none): a case has exactly one access");
	reject("{\"exec\":\"/a\",\"expect\":\"deny\",\"rule\":3}", "c.jsonl:9: rule:");
	reject("{\"exec\":\"/a\",\"expect\":\"deny\",\"reason\":\"because\"}",
	       "c.jsonl:9: reason:");
	reject("[1]", "c.jsonl:9: not a JSON object");
	reject("{\"exec\":\"/a\",", "c.jsonl:9: not a JSON object");
}

static void test_load_file(void **state)
{
	char *dir = tu_mkdtemp(), *path;
	struct policy_error err = {0};
	struct policy_case *cases;
	size_t n;
	static const char text[] = "# comment\n\n{\"exec\":\"/a\",\"expect\":\"deny\"}\n"
	                           "  {\"file\":\"/a\",\"access\":\"read\",\"expect\":\"x\"}\n";

	path = tu_write(dir, "c.jsonl", text, strlen(text));
	assert_non_null(path);
	assert_true(policy_cases_load(path, &cases, &n, &err) < 0);
	assert_contains(err.msg, "c.jsonl:4: expect:");
	free(path);
	path = tu_write(dir, "c.jsonl", text, strlen(text) - 46);
	assert_int_equal(policy_cases_load(path, &cases, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cases[0].line, 3);
	policy_cases_free(cases, n);
	free(path);
	path = tu_write(dir, "empty.jsonl", "# none\n", 7);
	assert_true(policy_cases_load(path, &cases, &n, &err) < 0);
	assert_contains(err.msg, "empty.jsonl: no cases");
	free(path);
	assert_true(policy_cases_load("/nonexistent/c.jsonl", &cases, &n, &err) < 0);
	assert_contains(err.msg, "/nonexistent/c.jsonl: No such file");
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_deep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_net, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test(test_bad_cases),
	    cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
