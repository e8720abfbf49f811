/* Unit tests of the files, network and keys sections: bad input is rejected with a message naming
 * the rule and the field; precedence compiles as documented in policies/SCHEMA.md. */
#include "policy_testutil.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policies/policy.h"

#define HEAD "{\"version\":1,\"name\":\"t\",\"serial\":1,\"mode\":\"enforce\",\"scope\":\"guest\","

#define NET(rule) "\"network\":{\"default\":\"deny\",\"rules\":[" rule "]}"

static void test_net_bad_input(void **state)
{
	expect_reject(NET("{\"name\":\"a\",\"cidr\":\"10.0.0.300/8\",\"action\":\"deny\"}"),
	              "network.rules[0].cidr", "rule 'a'");
	expect_reject(NET("{\"name\":\"h\",\"cidr\":\"10.0.0.1/8\",\"action\":\"deny\"}"),
	              "network.rules[0].cidr", "bits set past the prefix");
	expect_reject(NET("{\"cidr\":\"10.0.0.0/33\",\"action\":\"deny\"}"),
	              "network.rules[0].cidr", NULL);
	expect_reject(NET("{\"cidr\":\"::/129\",\"action\":\"deny\"}"), "network.rules[0].cidr",
	              NULL);
	expect_reject(NET("{\"cidr\":\"10.0.0.0/+8\",\"action\":\"deny\"}"),
	              "network.rules[0].cidr", NULL);
	expect_reject(NET("{\"cidr\":\"example.com\",\"action\":\"deny\"}"), ".cidr", NULL);
	expect_reject(NET("{\"name\":\"p\",\"cidr\":\"10.0.0.0/8\",\"ports\":\"80-20\",\"action\":"
	                  "\"deny\"}"),
	              "network.rules[0].ports", "rule 'p'");
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"ports\":70000,\"action\":\"deny\"}"),
	              "network.rules[0].ports", NULL);
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"ports\":\"1-2-3\",\"action\":\"deny\"}"),
	              ".ports", NULL);
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"ports\":\"-1\",\"action\":\"deny\"}"),
	              ".ports", NULL);
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"protocol\":\"icmp\",\"action\":\"deny\"}"),
	              "network.rules[0].protocol", NULL);
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"ops\":[\"connect\",\"accept\"],\"action\":"
	                  "\"deny\"}"),
	              "network.rules[0].ops[1]", "'accept'");
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"action\":\"block\"}"),
	              "network.rules[0].action", "'block'");
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\"}"), "network.rules[0].action", "missing");
	expect_reject(NET("{\"cidr\":\"10.0.0.0/8\",\"action\":\"deny\",\"port\":1}"),
	              "network.rules[0].port", "unknown field");
	expect_reject("\"network\":{\"default\":\"maybe\"}", "network.default", NULL);
}

static void test_net_precedence(void **state)
{
	struct policy *p = expect_accept(NET(
	    "{\"name\":\"r0\",\"cidr\":\"10.0.0.0/8\",\"action\":\"allow\"},"
	    "{\"name\":\"r1\",\"cidr\":\"10.1.0.0/16\",\"action\":\"deny\"},"
	    "{\"name\":\"r2\",\"cidr\":\"10.1.2.3\",\"ports\":80,\"action\":\"allow\"},"
	    "{\"name\":\"r3\",\"cidr\":\"10.1.0.0/16\",\"ports\":\"1-1024\",\"action\":\"allow\"},"
	    "{\"name\":\"r4\",\"cidr\":\"10.1.0.0/16\",\"ports\":\"1-1024\",\"action\":\"deny\"},"
	    "{\"name\":\"m\",\"cidr\":\"::ffff:192.168.0.0/112\",\"action\":\"deny\"}"));
	struct policy_error err = {0};
	struct policy_net_entry *e = NULL;
	size_t n = 0, i;

	assert_int_equal(p->net[5].family, 4);
	assert_int_equal(p->net[5].prefix, 16);
	assert_int_equal(p->net[5].addr[0], 192);
	assert_int_equal(policy_compile_net(p, 16, &e, &n, &err), 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		if (e[i].family != 4 || e[i].prefix != 32)
			continue;
		/* Longest prefix first; at /16, the narrower port range, then deny over allow. */
		assert_int_equal(e[i].n_rules, 5);
		assert_int_equal(e[i].rules[0], 2);
		assert_int_equal(e[i].rules[1], 4);
		assert_int_equal(e[i].rules[2], 3);
		assert_int_equal(e[i].rules[3], 1);
		assert_int_equal(e[i].rules[4], 0);
	}
	free(e);
	/* Two rules can reach 10.1.2.3; a limit of one is exceeded and the rule is named. */
	assert_int_equal(policy_compile_net(p, 1, &e, &n, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "network.rules["));
	policy_free(p);
}

#define FILES(rule) "\"files\":{\"rules\":[" rule "]}"

static void test_files_bad_input(void **state)
{
	expect_reject(FILES("{\"name\":\"f\",\"path\":\"/etc\",\"access\":[\"read\",\"exec\"],"
	                    "\"action\":\"deny\"}"),
	              "files.rules[0].access[1]", "'exec'");
	expect_reject(FILES("{\"path\":\"etc\",\"action\":\"deny\"}"), "files.rules[0].path", NULL);
	expect_reject(FILES("{\"path\":\"/etc\",\"access\":[],\"action\":\"deny\"}"),
	              "files.rules[0].access", NULL);
	expect_reject(FILES("{\"path\":\"/etc\",\"action\":\"audit\",\"recursive\":true}"),
	              "files.rules[0].recursive", "unknown field");
	expect_reject("\"files\":{\"default\":\"none\"}", "files.default", NULL);
	expect_reject("\"files\":{\"system_writable\":\"yes\"}", "files.system_writable",
	              "true or false");
}

/* files.system_writable: off unless said, alone it adds no file checking. */
static void test_files_system_writable(void **state)
{
	struct policy *p = expect_accept("\"files\":{\"system_writable\":true}");

	(void)state;
	assert_true(p->system_writable);
	assert_int_equal(p->n_files, 0);
	assert_int_equal(p->file_default, POLICY_ACT_ALLOW);
	policy_free(p);
	p = expect_accept("\"files\":{\"default\":\"allow\"}");
	assert_false(p->system_writable);
	policy_free(p);
	p = expect_accept("\"files\":{\"system_writable\":false}");
	assert_false(p->system_writable);
	policy_free(p);
}

static void test_files_precedence(void **state)
{
	char dir[] = "/tmp/vigil-test-XXXXXX", path[256];
	struct policy_error err = {0};
	struct policy_file_entry *e = NULL;
	struct policy *p;
	struct stat st;
	size_t n = 0, i;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/f", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	{
		char body[1024];

		snprintf(
		    body, sizeof(body),
		    FILES("{\"name\":\"tree\",\"path\":\"%s\",\"access\":[\"read\"],\"action\":"
		          "\"deny\"},"
		          "{\"name\":\"sub\",\"path\":\"%s/sub\",\"access\":[\"read\"],"
		          "\"action\":\"allow\"},"
		          "{\"name\":\"same\",\"path\":\"%s/sub\",\"access\":[\"read\"],"
		          "\"action\":\"audit\"}"),
		    dir, dir, dir);
		p = expect_accept(body);
	}
	assert_int_equal(policy_resolve_files(p, "", &e, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(stat(path, &st), 0);
	for (i = 0; i < n; i++) {
		if (e[i].ino != st.st_ino)
			continue;
		/* The nearest rule wins (sub, one level up); at sub, audit beats allow. */
		assert_int_equal(e[i].action[POLICY_FA_READ], POLICY_ACT_AUDIT);
		assert_int_equal(e[i].rule_id[POLICY_FA_READ], 2);
		/* The tree's deny also freezes names: rename and link are denied from the root. */
		assert_int_equal(e[i].action[POLICY_FA_RENAME], POLICY_ACT_DENY);
		assert_int_equal(e[i].rule_id[POLICY_FA_LINK], 0);
	}
	free(e);
	policy_free(p);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

#define KEYS(rule) "\"keys\":{\"rules\":[" rule "]}"

static void test_keys_bad_input(void **state)
{
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"a\\u0001b\",\"perms\":[\"read\"]}"),
	              "keys.rules[0].key", "rule 'k'");
	expect_reject(
	    KEYS("{\"key\":\"0123456789012345678901234567890123456789012345678901234567890"
	         "123\",\"perms\":[\"read\"]}"),
	    "keys.rules[0].key", NULL);
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"x\",\"perms\":[\"read\",\"own\"]}"),
	              "keys.rules[0].perms[1]", "'own'");
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"x\"}"), "keys.rules[0].perms", "rule 'k'");
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"x\",\"perms\":[\"read\"],\"uid\":-1}"),
	              "keys.rules[0].uid", "rule 'k'");
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"x\",\"perms\":[\"read\"],\"cgroup\":\"w\"}"),
	              "keys.rules[0].cgroup", NULL);
	expect_reject(KEYS("{\"name\":\"k\",\"key\":\"x\",\"perms\":[\"read\"],\"exe\":{\"path\":"
	                   "\"/bin/sh\",\"sha256\":\"00\"}}"),
	              "keys.rules[0].exe.sha256", "rule 'k'");
	expect_reject(KEYS("{\"key\":\"x\",\"perms\":[\"read\"],\"exe\":{\"path\":\"/bin/sh\"}}"),
	              "keys.rules[0].exe.sha256", "missing");
}

static void test_keys_group(void **state)
{
	struct policy *p = expect_accept(
	    KEYS("{\"key\":\"a\",\"perms\":[\"read\"]},{\"key\":\"b\",\"perms\":[\"view\"]},"
	         "{\"key\":\"a\",\"perms\":[\"search\"],\"uid\":7}"));
	struct policy_error err = {0};
	struct policy_key_entry *e = NULL;
	size_t n = 0;

	assert_int_equal(p->keys[0].perms, 1u << 2);
	assert_int_equal(p->keys[2].uid, 7);
	assert_int_equal(p->keys[1].uid, UINT32_MAX);
	assert_int_equal(policy_compile_keys(p, 8, &e, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].n_rules, 2);
	assert_int_equal(e[0].rules[1], 2);
	free(e);
	assert_int_equal(policy_compile_keys(p, 1, &e, &n, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "keys.rules[2]"));
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_net_bad_input),
	    cmocka_unit_test(test_net_precedence),
	    cmocka_unit_test(test_files_bad_input),
	    cmocka_unit_test(test_files_precedence),
	    cmocka_unit_test(test_files_system_writable),
	    cmocka_unit_test(test_keys_bad_input),
	    cmocka_unit_test(test_keys_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
