/* Unit tests for vigild's "is this the platform?" test (agent/platform.c) against a fake cgroup
 * tree.
 */
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "agent/agent.h"

static char root[] = "/tmp/vigil-test-platform-XXXXXX";

/* root/workload/a/b, root/other, root/deep/1/2/.../17 */
static int setup(void **state)
{
	char path[4096];
	int i;

	if (!mkdtemp(root))
		return -1;
	snprintf(path, sizeof(path), "%s/workload", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/workload/a", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/workload/a/b", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/other", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/deep", root);
	mkdir(path, 0755);
	for (i = 1; i <= 17; i++) {
		size_t len = strlen(path);

		snprintf(path + len, sizeof(path) - len, "/%d", i);
		mkdir(path, 0755);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static uint64_t ino_of(const char *rel)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void test_platform_pid1_always(void **state)
{
	struct agent_scope guest = {.guest = true};

	assert_int_equal(agent_pid_is_platform(root, &guest, 1), 1);
}

static void test_platform_guest_scope_is_only_pid1(void **state)
{
	struct agent_scope guest = {.guest = true};

	assert_int_equal(agent_pid_is_platform(root, &guest, getpid()), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &guest, "/other"), 0);
}

static void test_platform_cgroup_scope(void **state)
{
	uint64_t ids[2] = {ino_of("/workload"), ino_of("/deep/1/2")};
	struct agent_scope s = {.ids = ids, .n = 2};

	/* The scope cgroup itself and everything below it. */
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/workload"), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/workload/a/b"), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/deep/1/2/3"), 0);
	/* Beside it, above it, and the root cgroup: the platform. */
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/other"), 1);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/deep/1"), 1);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/"), 1);
}

/* Identity, not names: a scope cgroup renamed is still in scope. */
static void test_platform_rename_keeps_scope(void **state)
{
	char from[4096], to[4096];
	uint64_t id = ino_of("/workload/a");
	struct agent_scope s = {.ids = &id, .n = 1};

	snprintf(from, sizeof(from), "%s/workload/a", root);
	snprintf(to, sizeof(to), "%s/workload/renamed", root);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/workload/renamed/b"), 0);
	assert_int_equal(rename(to, from), 0);
}

/* What cannot be placed is not the platform: gone, odd, or deeper than the kernel walks. */
static void test_platform_fails_closed(void **state)
{
	uint64_t id = ino_of("/other");
	struct agent_scope s = {.ids = &id, .n = 1};

	assert_int_equal(agent_cgroup_is_platform(root, &s, "/no/such/cgroup"), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "relative"), 0);
	assert_int_equal(agent_cgroup_is_platform(root, &s, "/workload (deleted)"), 0);
	assert_int_equal(
	    agent_cgroup_is_platform(root, &s, "/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"),
	    0);
	assert_int_equal(
	    agent_cgroup_is_platform(root, &s, "/deep/1/2/3/4/5/6/7/8/9/10/11/12/13/14"), 1);
}

static void test_platform_gone_pid(void **state)
{
	uint64_t other = 1;
	struct agent_scope s = {.ids = &other, .n = 1};

	assert_int_equal(agent_pid_is_platform(root, &s, 0x3fffffff), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_platform_pid1_always),
	    cmocka_unit_test(test_platform_guest_scope_is_only_pid1),
	    cmocka_unit_test(test_platform_cgroup_scope),
	    cmocka_unit_test(test_platform_rename_keeps_scope),
	    cmocka_unit_test(test_platform_fails_closed),
	    cmocka_unit_test(test_platform_gone_pid),
	};

	return cmocka_run_group_tests_name("platform", tests, setup, teardown);
}
