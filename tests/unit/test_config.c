/* vigild.conf parsing, the kernel checks against a fake /sys, and the sd_notify datagram. */
#include "testutil.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "agent/agent.h"
#include "agent/config.h"

static int parse(const char *text, struct agent_options *o, struct agent_config *c, char *err)
{
	return agent_config_parse("/etc/vigil/vigild.conf", text, strlen(text), o, c, err,
	                          AGENT_CONFIG_ERR_MAX);
}

static void test_config_every_key(void **state)
{
	const char *text = "# vigild\n"
	                   "\n"
	                   "bundle = /etc/vigil/bundle.dsse.json  \n"
	                   "\ttrust-dir=/etc/vigil/trust.d\n"
	                   "pcr = 16\n"
	                   "platform = tdx\n"
	                   "tcti = swtpm:host=127.0.0.1,port=2321\n"
	                   "ringbuf-size = 0x10000\n"
	                   "event-log = -\n"
	                   "audit-dir = none\n"
	                   "audit = fsync=64,checkpoint=1000\n"
	                   "dev-unsigned = no\n"
	                   "verbose = yes";
	struct agent_options o = {.pcr = 23, .event_log_path = "/var/log/vigil/events.jsonl"};
	struct agent_config c = {0};
	char err[AGENT_CONFIG_ERR_MAX] = "";

	assert_int_equal(parse(text, &o, &c, err), 0);
	assert_string_equal(o.bundle_path, "/etc/vigil/bundle.dsse.json");
	assert_string_equal(o.trust_dir, "/etc/vigil/trust.d");
	assert_int_equal(o.pcr, 16);
	assert_string_equal(o.platform, "tdx");
	assert_string_equal(o.tcti, "swtpm:host=127.0.0.1,port=2321");
	assert_int_equal(o.ringbuf_size, 0x10000);
	assert_string_equal(o.event_log_path, "-");
	assert_string_equal(o.audit_dir, "none");
	assert_string_equal(o.audit_spec, "fsync=64,checkpoint=1000");
	assert_false(o.dev_unsigned);
	assert_true(c.verbose);
	assert_true(c.has_file);
	assert_null(o.policy_path);
	agent_config_free(&c);
}

/* Each bad file: one line naming file, line and key; the options are untouched. */
static void test_config_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"pcr = 24\n", "/etc/vigil/vigild.conf:1: key 'pcr': '24': expected a PCR number"},
	    {"bundle = /b\n# c\nbundle = /c\n",
	     "/etc/vigil/vigild.conf:3: key 'bundle': set twice (first on line 1)"},
	    {"\n\nbundel = /b\n", "/etc/vigil/vigild.conf:3: key 'bundel': unknown key"},
	    {"bundle = relative\n", ":1: key 'bundle': 'relative': expected an absolute path"},
	    {"bundle =\n", ":1: key 'bundle': empty value"},
	    {"bundle /b\n", ":1: expected 'key = value'"},
	    {"pcr = 1\r\n", ":1: control character 0x0d"},
	    {"pcr = 1\n\x01\n", ":2: control character 0x01"},
	    {"ringbuf-size = 5000\n", ":1: key 'ringbuf-size': '5000': expected a power of two"},
	    {"platform = sev\n", "key 'platform': 'sev': expected auto, none, tdx or snp"},
	    {"verbose = maybe\n", "key 'verbose': 'maybe': expected true or false"},
	    {"tcti = device /dev/tpm0\n", "key 'tcti'"},
	    {"audit = fsync=x\n", ":1: key 'audit': 'fsync=x'"},
	    {"event-log = events\n", "expected an absolute path or -"},
	    {"policy = /p\nbundle = /b\n", ":1: key 'policy': bundle and policy are both set"},
	    {"pcr = 1 # comment\n", ":1: key 'pcr': '1 # comment'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_options o = {.pcr = 7}, before;
		struct agent_config c = {0};
		char err[AGENT_CONFIG_ERR_MAX] = "";

		before = o;
		assert_int_equal(parse(cases[i].text, &o, &c, err), -EINVAL);
		assert_contains(err, cases[i].msg);
		assert_null(strchr(err, '\n'));
		assert_memory_equal(&o, &before, sizeof(o));
		assert_false(c.has_file);
		assert_null(c.text);
	}
}

/* A later bad line leaves even the good earlier lines unapplied. */
static void test_config_all_or_nothing(void **state)
{
	struct agent_options o = {0};
	struct agent_config c = {0};
	char err[AGENT_CONFIG_ERR_MAX];

	assert_int_equal(parse("bundle = /b\npcr = 2\nnope = 1\n", &o, &c, err), -EINVAL);
	assert_null(o.bundle_path);
	assert_int_equal(o.pcr, 0);
}

static void test_config_load_files(void **state)
{
	char *d = tu_mkdtemp(), *path, *missing = NULL, err[AGENT_CONFIG_ERR_MAX] = "";
	struct agent_options o = {0};
	struct agent_config c = {0};
	char *big = calloc(1, AGENT_CONFIG_MAX_SIZE + 2);

	assert_true(asprintf(&missing, "%s/none.conf", d) > 0);
	assert_int_equal(agent_config_load(missing, false, &o, &c, err, sizeof(err)), 0);
	assert_false(c.has_file);
	assert_int_equal(agent_config_load(missing, true, &o, &c, err, sizeof(err)), -ENOENT);
	assert_contains(err, "none.conf: cannot open");
	path = tu_write(d, "ok.conf", "state-dir = /var/lib/x\n", 23);
	assert_int_equal(agent_config_load(path, true, &o, &c, err, sizeof(err)), 0);
	assert_string_equal(o.state_dir, "/var/lib/x");
	free(path);
	memset(big, '#', AGENT_CONFIG_MAX_SIZE + 1);
	path = tu_write(d, "big.conf", big, AGENT_CONFIG_MAX_SIZE + 1);
	assert_int_equal(agent_config_load(path, true, &o, &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "larger than");
	free(path);
	assert_int_equal(agent_config_load(d, true, &o, &c, err, sizeof(err)), -EINVAL);
	assert_contains(err, "not a regular file");
	agent_config_free(&c);
	free(big);
	free(missing);
	tu_rmdir(d);
}

static void test_config_path_from_argv(void **state)
{
	char *a1[] = {"vigild", "--bundle", "/b", "--config", "/x.conf", NULL};
	char *a2[] = {"vigild", "--config=/y.conf", NULL};
	char *a3[] = {"vigild", "-v", NULL};
	bool ex;

	assert_string_equal(agent_config_path(5, a1, &ex), "/x.conf");
	assert_true(ex);
	assert_string_equal(agent_config_path(2, a2, &ex), "/y.conf");
	assert_true(ex);
	assert_string_equal(agent_config_path(2, a3, &ex), AGENT_CONFIG_DEFAULT);
	assert_false(ex);
}

static void mkfile(const char *root, const char *rel, const char *content)
{
	char *path = NULL, *cmd = NULL;

	assert_true(asprintf(&path, "%s%s", root, rel) > 0);
	assert_true(asprintf(&cmd, "mkdir -p \"$(dirname '%s')\"", path) > 0);
	assert_int_equal(system(cmd), 0);
	free(tu_write(root, rel + 1, content, strlen(content)));
	free(path);
	free(cmd);
}

static void test_kernel_checks(void **state)
{
	char *root = tu_mkdtemp();
	struct kcheck c[KCHECK_COUNT];

	/* Nothing mounted: the LSM list is unknown (warn), no BTF (fail), no lockdown (ok). */
	agent_kernel_requirements(root, c);
	assert_string_equal(c[0].name, "lsm");
	assert_int_equal(c[0].status, KCHECK_WARN);
	assert_contains(c[0].fix, "mount -t securityfs");
	assert_int_equal(c[1].status, KCHECK_FAIL);
	assert_contains(c[1].fix, "CONFIG_DEBUG_INFO_BTF");
	assert_int_equal(c[2].status, KCHECK_OK);

	mkfile(root, "/sys/kernel/security/lsm", "lockdown,capability,landlock,yama,apparmor");
	mkfile(root, "/sys/kernel/btf/vmlinux", "BTF");
	mkfile(root, "/sys/kernel/security/lockdown", "none integrity [confidentiality]\n");
	agent_kernel_requirements(root, c);
	assert_int_equal(c[0].status, KCHECK_FAIL);
	assert_contains(c[0].msg, "landlock,yama,apparmor");
	assert_contains(c[0].fix, "lsm=");
	assert_int_equal(c[1].status, KCHECK_OK);
	assert_int_equal(c[2].status, KCHECK_FAIL);
	assert_contains(c[2].fix, "lockdown=integrity");

	/* "bpfx" is not "bpf"; the word must be a whole list item. */
	mkfile(root, "/sys/kernel/security/lsm", "capability,bpfx");
	agent_kernel_requirements(root, c);
	assert_int_equal(c[0].status, KCHECK_FAIL);
	mkfile(root, "/sys/kernel/security/lsm", "lockdown,capability,bpf");
	mkfile(root, "/sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
	agent_kernel_requirements(root, c);
	for (int i = 0; i < KCHECK_COUNT; i++)
		assert_int_equal(c[i].status, KCHECK_OK);
	tu_rmdir(root);
}

static void test_notify(void **state)
{
	char *d = tu_mkdtemp(), buf[128];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(agent_notify("READY=1"), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", d);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	assert_int_equal(agent_notify("READY=1\nSTATUS=x"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_int_equal(n, 16);
	buf[n] = 0;
	assert_string_equal(buf, "READY=1\nSTATUS=x");
	setenv("NOTIFY_SOCKET", "relative", 1);
	assert_int_equal(agent_notify("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	tu_rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_every_key),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_config_all_or_nothing),
	    cmocka_unit_test(test_config_load_files),
	    cmocka_unit_test(test_config_path_from_argv),
	    cmocka_unit_test(test_kernel_checks),
	    cmocka_unit_test(test_notify),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
