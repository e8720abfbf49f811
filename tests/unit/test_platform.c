/* Unit tests for vigild's "is this the platform?" test (agent/platform.c) against a fake cgroup
 * tree.
 */
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "agent/agent.h"

static char root[] = "/tmp/vigil-test-platform-XXXXXX";
static char self_cg[4096]; /* this process's cgroup path, from /proc/self/cgroup */

/* Mirrors this process's cgroup path (and its ancestors) as directories under root. */
static int setup(void **state)
{
	char buf[4096], path[8192], *cg, *s;
	FILE *f;

	if (!mkdtemp(root))
		return -1;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -1;
	self_cg[0] = 0;
	while (fgets(buf, sizeof(buf), f))
		if (strncmp(buf, "0::/", 4) == 0) {
			buf[strcspn(buf, "\n")] = 0;
			snprintf(self_cg, sizeof(self_cg), "%s", buf + 3);
		}
	fclose(f);
	if (!self_cg[0])
		snprintf(self_cg, sizeof(self_cg), "/");
	snprintf(path, sizeof(path), "%s%s", root, self_cg);
	for (cg = path + strlen(root) + 1; (s = strchr(cg, '/')); cg = s + 1) {
		*s = 0;
		mkdir(path, 0755);
		*s = '/';
	}
	mkdir(path, 0755);
	mkdir(strcat(strcpy(buf, root), "/elsewhere"), 0755);
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
	char path[8192];
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
}

static void test_platform_cgroup_scope(void **state)
{
	uint64_t own = ino_of(self_cg), other = ino_of("/elsewhere");
	struct agent_scope in = {.ids = &own, .n = 1}, out = {.ids = &other, .n = 1};

	assert_int_equal(agent_pid_is_platform(root, &in, getpid()), 0);
	assert_int_equal(agent_pid_is_platform(root, &out, getpid()), 1);
}

/* A scope cgroup that is an ancestor of the process's cgroup: in scope. */
static void test_platform_ancestor_in_scope(void **state)
{
	char parent[4096], *slash;
	uint64_t id;
	struct agent_scope s = {.ids = &id, .n = 1};

	snprintf(parent, sizeof(parent), "%s", self_cg);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		skip(); /* this process sits at the top: no ancestor but the root */
	*slash = 0;
	id = ino_of(parent);
	assert_int_equal(agent_pid_is_platform(root, &s, getpid()), 0);
}

/* Cannot tell where it is (no such cgroup directory): fail closed. */
static void test_platform_unknown_cgroup_fails_closed(void **state)
{
	uint64_t other = 1;
	struct agent_scope s = {.ids = &other, .n = 1};

	assert_int_equal(agent_pid_is_platform("/nonexistent-cgroup-root", &s, getpid()), 0);
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
	    cmocka_unit_test(test_platform_ancestor_in_scope),
	    cmocka_unit_test(test_platform_unknown_cgroup_fails_closed),
	    cmocka_unit_test(test_platform_gone_pid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
