/* Unit tests for agent_event_format: the exact JSON of one decision (the audit record's body). */
#include "testutil.h"

#include "agent/agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fill(struct vigil_event *e)
{
	memset(e, 0, sizeof(*e));
	e->abi_version = VIGIL_ABI_VERSION;
	e->ts_boot_ns = 1500000000ull;
	e->type = VIGIL_EV_EXEC;
	e->verdict = VIGIL_DENY;
	e->reason = VIGIL_R_NOT_LISTED;
	e->err = -1;
	e->pid = 100;
	e->tid = 101;
	e->ppid = 1;
	e->cgroup_id = 4242;
	e->dev = (8ull << 20) | 1;
	e->ino = 77;
	e->policy_serial = 7;
	e->gen = 1;
	strcpy(e->comm, "sh");
}

static void test_format_escapes(void **state)
{
	struct agent a = {.boot_to_real_ns = 1700000000000000000ll};
	struct vigil_event e;
	char buf[2048];
	const char *want =
	    "{\"time\":\"2023-11-14T22:13:21.500000000Z\",\"type\":\"exec\",\"verdict\":\"deny\","
	    "\"reason\":\"not_listed\",\"errno\":1,\"pid\":100,\"tid\":101,\"ppid\":1,\"uid\":0,"
	    "\"gid\":0,\"cgroup_id\":4242,\"comm\":\"sh\",\"path\":\"/tmp/"
	    "a\\\"b\\\\c\\u0001\\u00ff\","
	    "\"dev\":\"8:1\",\"ino\":77,\"rule\":null,\"policy_serial\":7,\"generation\":1}\n";
	int n;

	fill(&e);
	strcpy(e.path, "/tmp/a\"b\\c\x01\xff");
	n = agent_event_format(&a, &e, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
	/* One byte short of the line and its NUL: refused, not cut. */
	assert_int_equal(agent_event_format(&a, &e, buf, strlen(want)), -ENOBUFS);
	assert_int_equal(agent_event_format(&a, &e, buf, strlen(want) + 1), (int)strlen(want));
}

static void test_format_rule_and_policy(void **state)
{
	struct policy_exec_rule rules[2] = {{.name = "busybox"}, {.name = "tool"}};
	struct policy pol = {.name = "prod", .exec = rules, .n_exec = 2};
	struct agent a = {.boot_to_real_ns = 1700000000000000000ll};
	struct vigil_event e;
	char buf[2048];

	a.cur.policy = &pol;
	a.cur.gen = 1;
	fill(&e);
	e.verdict = VIGIL_ALLOW;
	e.reason = VIGIL_R_RULE;
	e.rule_id = 1;
	e.err = 0;
	/* A full-length path without a NUL is bounded by the field size. */
	memset(e.path, 'p', sizeof(e.path));
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"errno\":0,"));
	assert_non_null(strstr(buf, ",\"rule\":\"tool\",\"policy\":\"prod\",\"policy_serial\":7,"));
	assert_int_equal(strlen(strstr(buf, "\"path\":\"") + 8) - strlen(strstr(buf, "\",\"dev\"")),
	                 sizeof(e.path));
	/* An event from an unknown generation names no rule or policy. */
	e.gen = 9;
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"rule\":null,\"policy_serial\":7,\"generation\":9}\n"));
}

/* The reference: JSON string escaping one byte at a time. */
static void escape_ref(const char *s, char *out)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			out += sprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			out += sprintf(out, "\\u%04x", c);
		else
			*out++ = (char)c;
	}
	*out = 0;
}

/* The eight-byte fast path: escapes before, inside and after whole chunks, every length. */
static void test_format_string_chunks(void **state)
{
	static const char *const paths[] = {
	    "/a\"bcdefghijklmnop",
	    "/abcdefghijklmn\x01",
	    "/abcdefg",
	    "/abcdefgh",
	    "\"abcdefgh",
	    "/abcdefg\\",
	    "/usr/lib/x86_64-linux-gnu/libc.so.6\x7f",
	    "\x80\xff",
	    "x",
	    "/tmp/a\"b\\c\x01\xff/plain/after/the/escapes/",
	};
	struct agent a = {.boot_to_real_ns = 1700000000000000000ll};
	struct vigil_event e;
	char buf[2048], want[1600], member[1700], path[64];
	size_t i, cut;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (cut = 1; cut <= strlen(paths[i]); cut++) {
			fill(&e);
			snprintf(path, sizeof(path), "%.*s", (int)cut, paths[i]);
			strcpy(e.path, path);
			strcpy(e.comm, path + (cut > 15 ? cut - 15 : 0));
			escape_ref(path, want);
			snprintf(member, sizeof(member), ",\"path\":\"%s\",\"dev\"", want);
			assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
			if (!strstr(buf, member))
				fail_msg("path %zu/%zu: %s lacks %s", i, cut, buf, member);
			escape_ref(e.comm, want);
			snprintf(member, sizeof(member), ",\"comm\":\"%s\",\"path\"", want);
			if (!strstr(buf, member))
				fail_msg("comm %zu/%zu: %s lacks %s", i, cut, buf, member);
		}
	}
}

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * process.command_line: a live process that started before the event gets its argv (UTF-8
 * escaped, invalid bytes as U+FFFD); a pid that is gone, an event before the process started
 * (a reused pid) and an exec event whose executable the process is not running get none.
 */
static void test_cmdline(void **state)
{
	struct agent a = {.boot_to_real_ns = 1700000000000000000ll, .cmdline = true};
	struct vigil_event e;
	char buf[2048], argv[AGENT_CMDLINE_MAX];
	struct stat st;
	pid_t child, gone;
	int status;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execl("/bin/sh", "sh", "-c", "sleep 30", "\xc3\xa9\xff\xf0\x9d\x84\x9e\"", NULL);
		_exit(127);
	}
	usleep(100000); /* its exec done, and its start a clock tick behind the event */
	fill(&e);
	e.type = VIGIL_EV_FILE;
	e.pid = (uint32_t)child;
	e.ts_boot_ns = boot_ns();
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_non_null(
	    strstr(buf, ",\"cmdline\":\"sh -c sleep 30 \\u00e9\\ufffd\\ud834\\udd1e\\\"\"}\n"));
	/* An event older than the process: the pid then was another process's. */
	e.ts_boot_ns = 1;
	assert_int_equal(agent_cmdline(&e, argv, sizeof(argv)), -ESTALE);
	/* An exec event names the executable: the process runs /bin/sh, not the event's. */
	e.ts_boot_ns = boot_ns();
	e.type = VIGIL_EV_EXEC;
	e.dev = 1;
	e.ino = 2;
	assert_int_equal(agent_cmdline(&e, argv, sizeof(argv)), -ESTALE);
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "cmdline"));
	assert_int_equal(stat("/bin/sh", &st), 0);
	e.dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);
	e.ino = st.st_ino;
	assert_true(agent_cmdline(&e, argv, sizeof(argv)) > 0);
	assert_int_equal(strncmp(argv, "sh -c sleep 30 ", 15), 0);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* Gone: nothing, not another process's argv. */
	e.type = VIGIL_EV_FILE;
	e.pid = (uint32_t)child;
	e.ts_boot_ns = boot_ns();
	assert_true(agent_cmdline(&e, argv, sizeof(argv)) < 0);
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "cmdline"));
	gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	waitpid(gone, &status, 0);
	e.pid = (uint32_t)gone;
	assert_true(agent_cmdline(&e, argv, sizeof(argv)) < 0);
	/* Off (no OTLP export): no member at all. */
	a.cmdline = false;
	e.pid = (uint32_t)getpid();
	assert_true(agent_event_format(&a, &e, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "cmdline"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_escapes),
	    cmocka_unit_test(test_format_rule_and_policy),
	    cmocka_unit_test(test_format_string_chunks),
	    cmocka_unit_test(test_cmdline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
