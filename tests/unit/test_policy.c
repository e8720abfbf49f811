/* Unit tests for the policy v1 parser, resolver and digest checks. */
#include "policy_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "policies/policy.h"

/* Parses text; on failure returns the errno and leaves the message in err. */
static int parse(const char *text, struct policy **ret, struct policy_error *err)
{
	return policy_parse(text, strlen(text), "p.json", ret, err);
}

static void expect_error(const char *text, int want, const char *msg)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	assert_int_equal(parse(text, &p, &err), want);
	assert_null(p);
	assert_contains(err.msg, msg);
}

static void test_policy_valid(void **state)
{
	struct policy_error err = {0};
	struct policy *p = NULL;

	assert_int_equal(parse("{\"version\":1,\"name\":\"web\",\"serial\":42,\"mode\":\"audit\","
	                       "\"scope\":{\"cgroups\":[\"/a\",\"/b/c\"]},"
	                       "\"exec\":{\"allow_fileless\":true,\"allow\":["
	                       "{\"path\":\"/bin/x\",\"sha256\":\"" EMPTY_SHA256 "\"},"
	                       "{\"name\":\"y\",\"path\":\"/bin/y\",\"mode\":\"enforce\","
	                       "\"sha256\":\"" EMPTY_SHA256 "\"}]}}",
	                       &p, &err),
	                 0);
	assert_string_equal(p->name, "web");
	assert_int_equal(p->serial, 42);
	assert_true(p->audit);
	assert_false(p->scope_guest);
	assert_int_equal(p->n_cgroups, 2);
	assert_string_equal(p->cgroups[1], "/b/c");
	assert_true(p->allow_fileless);
	assert_int_equal(p->n_exec, 2);
	assert_string_equal(p->exec[0].name, "/bin/x"); /* name defaults to the path */
	assert_true(p->exec[0].audit);                  /* inherits the policy mode */
	assert_false(p->exec[1].audit);                 /* per-rule override */
	assert_int_equal(p->exec[1].sha256[0], 0xe3);
	assert_int_equal(p->exec[1].sha256[31], 0x55);
	policy_free(p);
}

static void test_policy_syntax_error_has_line_and_column(void **state)
{
	expect_error("{\"version\":1,\n\"name\":\"x\",\n\"serial\": 1,,\n}", -EINVAL, "p.json:3:");
	expect_error("{\"version\":1,\"version\":1}", -EINVAL, "p.json:1:");
	expect_error("", -EINVAL, "p.json:");
}

/* The JSON reader (policies/json.c): jansson's grammar, strict, errors with line and column. */
static void test_policy_json_strictness(void **state)
{
	const char *head = "{\"version\":1,\"serial\":1,\"mode\":\"enforce\",\"scope\":\"guest\",";
	struct policy_error err = {0};
	struct policy *p = NULL;
	char buf[16384];
	size_t i;

	expect_error("{\"version\":1,\n  \"name\" \"x\"}", -EINVAL, "p.json:2:10: ':' expected");
	expect_error("{\"version\":1,\n\"name\":\"x\",\n\"serial\": 1,,\n}", -EINVAL,
	             "p.json:3:13: string or '}' expected");
	expect_error("{\"a\":1,\"b\":2,\"a\":3}", -EINVAL, "duplicate object key");
	expect_error("{\"a\":\"x\\u0000\"}", -EINVAL, "\\u0000 is not allowed");
	expect_error("{\"a\":\"\\ud800\"}", -EINVAL, "invalid Unicode");
	expect_error("{\"a\":\"\xc0\xaf\"}", -EINVAL, "invalid UTF-8");
	expect_error("{\"a\":\"\xed\xa0\x80\"}", -EINVAL, "invalid UTF-8");
	expect_error("{\"a\":\"tab\there\"}", -EINVAL, "control character");
	expect_error("{\"a\":01}", -EINVAL, "invalid token");
	expect_error("{\"a\":1.}", -EINVAL, "invalid token");
	expect_error("{\"a\":9223372036854775808}", -EINVAL, "too big integer");
	expect_error("{\"a\":1e999}", -EINVAL, "real number overflow");
	expect_error("{\"a\":tru}", -EINVAL, "invalid token");
	expect_error("{} x", -EINVAL, "end of file expected");
	expect_error("\"top\"", -EINVAL, "'[' or '{' expected");
	expect_error("{\"a\":[1,2}", -EINVAL, "',' or ']' expected");
	expect_error("{\"a\":\"unterminated", -EINVAL, "premature end of input");
	/* Nesting: jansson's limit (2048 values deep) is kept. */
	for (i = 0; i < 2100; i++)
		buf[i] = '[';
	buf[i] = 0;
	expect_error(buf, -EINVAL, "maximum parsing depth reached");
	/* A real is not an integer; escapes are decoded before validation. */
	snprintf(buf, sizeof(buf), "{\"version\":1,\"name\":\"x\",\"serial\":1.0}");
	expect_error(buf, -EINVAL, "serial: expected an integer");
	snprintf(buf, sizeof(buf), "%s\"name\":\"w\\u0065b\\/\"}", head);
	expect_error(buf, -EINVAL, "name: use at most");
	snprintf(buf, sizeof(buf), "%s\"name\":\"w\\u0065b\"}", head);
	assert_int_equal(parse(buf, &p, &err), 0);
	assert_string_equal(p->name, "web");
	policy_free(p);
}

static void test_policy_field_errors(void **state)
{
	const char *head = "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\","
	                   "\"scope\":\"guest\",";
	char buf[1024];

	expect_error("[]", -EINVAL, "expected a JSON object");
	expect_error("{\"version\":2}", -EINVAL, "version: expected 1");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":\"1\"}", -EINVAL,
	             "serial: expected an integer");
	expect_error("{\"version\":1,\"name\":\"a b\",\"serial\":1}", -EINVAL, "name: use at most");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"strict\"}", -EINVAL,
	             "mode: 'strict' is not a mode");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"audit\"}", -EINVAL,
	             "scope: missing required field");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"audit\",\"colour\":1}",
	             -EINVAL, "p.json: colour: unknown field");
	snprintf(buf, sizeof(buf),
	         "%s\"exec\":{\"allow\":[{\"path\":\"/x\",\"sha256\":\"%s\","
	         "\"colour\":1}]}}",
	         head, EMPTY_SHA256);
	expect_error(buf, -EINVAL, "exec.allow[0].colour: unknown field");
	snprintf(buf, sizeof(buf), "%s\"exec\":{\"allow\":[{\"path\":\"/x\"}]}}", head);
	expect_error(buf, -EINVAL, "exec.allow[0].sha256: missing required field");
	snprintf(buf, sizeof(buf),
	         "%s\"exec\":{\"allow\":[{\"path\":\"/x\",\"sha256\":\"%s\"},"
	         "{\"name\":\"tool\",\"path\":\"/y\",\"sha256\":\"%.63sg\"}]}}",
	         head, EMPTY_SHA256, EMPTY_SHA256);
	expect_error(buf, -EINVAL,
	             "exec.allow[1].sha256: expected 64 lower-case hex digits (rule 'tool')");
	snprintf(
	    buf, sizeof(buf),
	    "%s\"exec\":{\"allow\":[{\"name\":\"up\",\"path\":\"/y\",\"sha256\":\"%.63sA\"}]}}",
	    head, EMPTY_SHA256);
	expect_error(buf, -EINVAL,
	             "exec.allow[0].sha256: expected 64 lower-case hex digits (rule 'up')");
	snprintf(buf, sizeof(buf), "%s\"exec\":{\"allow\":[{\"path\":\"rel\",\"sha256\":\"%s\"}]}}",
	         head, EMPTY_SHA256);
	expect_error(buf, -EINVAL, "exec.allow[0].path: 'rel' is not an absolute path");
	snprintf(buf, sizeof(buf), "%s\"exec\":{\"allow\":[{\"path\":7,\"sha256\":\"%s\"}]}}", head,
	         EMPTY_SHA256);
	expect_error(buf, -EINVAL, "exec.allow[0].path: expected a string");
	snprintf(buf, sizeof(buf), "%s\"exec\":{\"allow_fileless\":\"yes\"}}", head);
	expect_error(buf, -EINVAL, "exec.allow_fileless: expected true or false");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"audit\","
	             "\"scope\":{\"cgroups\":[\"relative\"]}}",
	             -EINVAL, "scope.cgroups[0]: expected an absolute cgroup path");
	expect_error("{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"audit\","
	             "\"scope\":{\"cgroups\":[]}}",
	             -EINVAL, "scope.cgroups: expected a non-empty array");
}

static void test_policy_resolve_and_verify(void **state)
{
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = NULL;
	char text[1024], *file, *other;
	struct stat st;
	size_t n = 0;

	file = tu_write(tmpdir, "empty", "", 0);
	other = tu_write(tmpdir, "other", "x", 1);
	assert_non_null(file);
	assert_non_null(other);
	snprintf(
	    text, sizeof(text),
	    "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	    "\"guest\",\"exec\":{\"allow\":[{\"name\":\"e\",\"path\":\"%s\",\"sha256\":\"%s\"}]}}",
	    file, EMPTY_SHA256);
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, "", &e, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(e[0].ino, st.st_ino);
	assert_int_equal(e[0].dev, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev));
	assert_int_equal(policy_verify_exec(p, "", e, n, NULL, &err), 0);

	/* Content no longer matching the digest names the rule and both digests. */
	assert_int_equal(truncate(file, 0), 0);
	FILE *f = fopen(file, "a");
	fputs("changed", f);
	fclose(f);
	assert_int_equal(policy_verify_exec(p, "", e, n, NULL, &err), -EBADMSG);
	assert_contains(err.msg, "exec.allow[0].sha256: rule 'e'");
	assert_contains(err.msg, "the policy says " EMPTY_SHA256);

	/* A different file at the path (rename over it) is caught by identity. */
	assert_int_equal(rename(other, file), 0);
	assert_int_equal(policy_verify_exec(p, "", e, n, NULL, &err), -ESTALE);
	assert_contains(err.msg, "was replaced while the policy loaded");
	free(e);

	/* A missing file names the rule, the path and the reason. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(policy_resolve_exec(p, "", &e, &n, &err), -ENOENT);
	assert_contains(err.msg, "exec.allow[0].path: rule 'e'");
	assert_contains(err.msg, "No such file or directory");
	policy_free(p);
	free(file);
	free(other);
}

static void test_policy_resolve_under_root(void **state)
{
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = NULL;
	char text[512], *file;
	size_t n = 0;

	file = tu_write(tmpdir, "rooted", "", 0);
	assert_non_null(file);
	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":[{\"path\":\"/rooted\",\"sha256\":\"%s\"}]}}",
	         EMPTY_SHA256);
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, tmpdir, &e, &n, &err), 0);
	assert_int_equal(policy_verify_exec(p, tmpdir, e, n, NULL, &err), 0);
	free(e);
	policy_free(p);
	free(file);
}

#define X_SHA256 "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

/* Two rules, /u and /v under tmpdir, with the given digests. */
static struct policy *two_rules(const char *u_sha, const char *v_sha)
{
	struct policy_error err = {0};
	struct policy *p = NULL;
	char text[1024];

	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":[{\"path\":\"/u\",\"sha256\":\"%s\"},"
	         "{\"path\":\"/v\",\"sha256\":\"%s\"}]}}",
	         u_sha, v_sha);
	assert_int_equal(parse(text, &p, &err), 0);
	return p;
}

/* Resolve goes through the previous rule's directory: the answers must be stat()'s. */
static void test_policy_resolve_paths(void **state)
{
	static const char *const paths[] = {"/d1/a",       "/d2/b",   "/d1/link", "/dl/a",
	                                    "/d1/../d2/b", "/d1/./a", "/d1/a",    "//d2//b"};
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = NULL;
	char text[4096], dir[512], full[1024];
	size_t i, n = 0, off;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/paths", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(full, sizeof(full), "%s/d1", dir);
	assert_int_equal(mkdir(full, 0755), 0);
	snprintf(full, sizeof(full), "%s/d2", dir);
	assert_int_equal(mkdir(full, 0755), 0);
	free(tu_write(dir, "d1/a", "a", 1));
	free(tu_write(dir, "d2/b", "b", 1));
	snprintf(full, sizeof(full), "%s/d1/link", dir);
	assert_int_equal(symlink("../d2/b", full), 0); /* relative to the link's directory */
	snprintf(full, sizeof(full), "%s/dl", dir);
	assert_int_equal(symlink("d1", full), 0);
	off = (size_t)snprintf(text, sizeof(text),
	                       "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\","
	                       "\"scope\":\"guest\",\"exec\":{\"allow\":[");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		                        "%s{\"path\":\"%s\",\"sha256\":\"%s\"}", i ? "," : "",
		                        paths[i], EMPTY_SHA256);
	snprintf(text + off, sizeof(text) - off, "]}}");
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, dir, &e, &n, &err), 0);
	assert_int_equal(n, sizeof(paths) / sizeof(paths[0]));
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s%s", dir, paths[i]);
		assert_int_equal(stat(full, &st), 0);
		assert_int_equal(e[i].ino, st.st_ino);
		assert_int_equal(e[i].dev, policy_kdev(st.st_dev));
		assert_int_equal(e[i].size, 1);
	}
	free(e);
	policy_free(p);

	/* Errors read as stat()'s: a missing file, a directory, a trailing slash. */
	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":[{\"path\":\"/d1/a\",\"sha256\":\"%s\"},"
	         "{\"name\":\"gone\",\"path\":\"/d1/missing\",\"sha256\":\"%s\"}]}}",
	         EMPTY_SHA256, EMPTY_SHA256);
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, dir, &e, &n, &err), -ENOENT);
	assert_contains(err.msg, "exec.allow[1].path: rule 'gone'");
	assert_contains(err.msg, "/d1/missing: No such file or directory");
	policy_free(p);
	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":[{\"path\":\"/d1\",\"sha256\":\"%s\"}]}}",
	         EMPTY_SHA256);
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, dir, &e, &n, &err), -EINVAL);
	assert_contains(err.msg, "is not a regular file");
	policy_free(p);
	snprintf(text, sizeof(text),
	         "{\"version\":1,\"name\":\"x\",\"serial\":1,\"mode\":\"enforce\",\"scope\":"
	         "\"guest\",\"exec\":{\"allow\":[{\"path\":\"/d1/a/\",\"sha256\":\"%s\"}]}}",
	         EMPTY_SHA256);
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, dir, &e, &n, &err), -ENOTDIR);
	policy_free(p);
}

static void test_policy_mark_unchanged(void **state)
{
	struct policy *prev = two_rules(EMPTY_SHA256, X_SHA256), *p;
	struct policy_exec_entry *pe = NULL, *e = NULL;
	struct policy_error err = {0};
	size_t pn = 0, n = 0, hashed = 99;
	char *u = tu_write(tmpdir, "u", "", 0), *v = tu_write(tmpdir, "v", "x", 1);
	FILE *f;

	assert_non_null(u);
	assert_non_null(v);
	assert_int_equal(policy_resolve_exec(prev, tmpdir, &pe, &pn, &err), 0);
	assert_int_equal(policy_verify_exec(prev, tmpdir, pe, pn, &hashed, &err), 0);
	assert_int_equal(hashed, 2);

	/* Same files, same digests: both vouched for, neither read. */
	p = two_rules(EMPTY_SHA256, X_SHA256);
	assert_int_equal(policy_resolve_exec(p, tmpdir, &e, &n, &err), 0);
	assert_int_equal(policy_exec_mark_unchanged(prev, pe, pn, p, e, n), 2);
	assert_int_equal(policy_verify_exec(p, tmpdir, e, n, &hashed, &err), 0);
	assert_int_equal(hashed, 0);
	free(e);
	policy_free(p);

	/* Another digest for /v: only /u is vouched for, /v is read and refused. */
	p = two_rules(EMPTY_SHA256, EMPTY_SHA256);
	assert_int_equal(policy_resolve_exec(p, tmpdir, &e, &n, &err), 0);
	assert_int_equal(policy_exec_mark_unchanged(prev, pe, pn, p, e, n), 1);
	assert_true(e[0].flags & POLICY_EXEC_UNCHANGED);
	assert_false(e[1].flags & POLICY_EXEC_UNCHANGED);
	assert_int_equal(policy_verify_exec(p, tmpdir, e, n, &hashed, &err), -EBADMSG);
	assert_contains(err.msg, "exec.allow[1].sha256");
	free(e);
	policy_free(p);

	/* Written (ctime and size moved): read again, and the change is found. */
	f = fopen(u, "a");
	assert_non_null(f);
	fputs("changed", f);
	fclose(f);
	p = two_rules(EMPTY_SHA256, X_SHA256);
	assert_int_equal(policy_resolve_exec(p, tmpdir, &e, &n, &err), 0);
	assert_int_equal(policy_exec_mark_unchanged(prev, pe, pn, p, e, n), 1);
	assert_false(e[0].flags & POLICY_EXEC_UNCHANGED);
	assert_int_equal(policy_verify_exec(p, tmpdir, e, n, &hashed, &err), -EBADMSG);
	assert_contains(err.msg, "exec.allow[0].sha256");

	/* No earlier generation: nothing is vouched for. */
	assert_int_equal(policy_exec_mark_unchanged(NULL, NULL, 0, p, e, n), 0);
	free(e);
	free(pe);
	policy_free(p);
	policy_free(prev);
	free(u);
	free(v);
}

/* A writer holding a listed file at its check: flagged, and never vouched for afterwards. */
static void test_policy_writer_at_check(void **state)
{
	struct policy *prev = two_rules(EMPTY_SHA256, X_SHA256), *p;
	struct policy_exec_entry *pe = NULL, *e = NULL;
	struct policy_error err = {0};
	size_t pn = 0, n = 0, hashed = 0;
	char root[256], *u, *v;
	int rd, wr;

	(void)state;
	snprintf(root, sizeof(root), "%s/w", tmpdir);
	assert_int_equal(mkdir(root, 0700), 0);
	u = tu_write(root, "u", "", 0);
	v = tu_write(root, "v", "x", 1);
	assert_non_null(u);
	assert_non_null(v);

	/* The probe itself: a read-only fd sees another fd's write access come and go. */
	rd = open(u, O_RDONLY);
	assert_true(rd >= 0);
	assert_int_equal(policy_fd_writer(rd), 0);
	wr = open(u, O_WRONLY | O_APPEND);
	assert_true(wr >= 0);
	assert_int_equal(policy_fd_writer(rd), 1);

	/* Verified while the writer holds /u: the digests match, /u is flagged, /v is not. */
	assert_int_equal(policy_resolve_exec(prev, root, &pe, &pn, &err), 0);
	assert_int_equal(policy_verify_exec(prev, root, pe, pn, &hashed, &err), 0);
	assert_int_equal(hashed, 2);
	assert_true(pe[0].flags & POLICY_EXEC_WRITER);
	assert_false(pe[0].flags & POLICY_EXEC_UNPROVEN);
	assert_false(pe[1].flags & POLICY_EXEC_WRITER);

	/* Writer gone, same rules: /u was never vouched for, so it is read again. */
	close(wr);
	assert_int_equal(policy_fd_writer(rd), 0);
	close(rd);
	p = two_rules(EMPTY_SHA256, X_SHA256);
	assert_int_equal(policy_resolve_exec(p, root, &e, &n, &err), 0);
	assert_int_equal(policy_exec_mark_unchanged(prev, pe, pn, p, e, n), 1);
	assert_false(e[0].flags & POLICY_EXEC_UNCHANGED);
	assert_true(e[1].flags & POLICY_EXEC_UNCHANGED);
	assert_int_equal(policy_verify_exec(p, root, e, n, &hashed, &err), 0);
	assert_int_equal(hashed, 1);
	assert_false(e[0].flags & POLICY_EXEC_WRITER);
	free(e);
	free(pe);
	policy_free(p);
	policy_free(prev);
	free(u);
	free(v);
}

/* Enough files to hash in parallel: the error is still the lowest-numbered bad entry's. */
static void test_policy_verify_parallel(void **state)
{
	enum { N = 700 };
	size_t cap = 200 + N * 110, len, i, n = 0, hashed = 0;
	char *text = malloc(cap), root[256], name[32];
	struct policy_exec_entry *e = NULL;
	struct policy_error err = {0};
	struct policy *p = NULL;

	(void)state;
	assert_non_null(text);
	snprintf(root, sizeof(root), "%s/par", tmpdir);
	assert_int_equal(mkdir(root, 0700), 0);
	len = (size_t)snprintf(text, cap,
	                       "{\"version\":1,\"name\":\"x\",\"serial\":1,"
	                       "\"mode\":\"enforce\",\"scope\":\"guest\",\"exec\":{\"allow\":[");
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		free(tu_write(root, name, "", 0));
		len += (size_t)snprintf(text + len, cap - len,
		                        "%s{\"path\":\"/%s\",\"sha256\":\"%s\"}", i ? "," : "",
		                        name, EMPTY_SHA256);
	}
	snprintf(text + len, cap - len, "]}}");
	assert_int_equal(parse(text, &p, &err), 0);
	assert_int_equal(policy_resolve_exec(p, root, &e, &n, &err), 0);
	assert_int_equal(policy_verify_exec(p, root, e, n, &hashed, &err), 0);
	assert_int_equal(hashed, N);

	/* Two files changed: the one a single thread would meet first is reported. */
	free(tu_write(root, "f650", "x", 1));
	free(tu_write(root, "f301", "x", 1));
	free(e);
	assert_int_equal(policy_resolve_exec(p, root, &e, &n, &err), 0);
	assert_int_equal(policy_verify_exec(p, root, e, n, &hashed, &err), -EBADMSG);
	assert_contains(err.msg, "exec.allow[301].sha256");
	free(e);
	policy_free(p);
	free(text);
}

static void test_policy_kdev_and_hex(void **state)
{
	char hex[9];

	assert_int_equal(policy_kdev(makedev(8, 1)), (8ull << 20) | 1);
	assert_int_equal(policy_kdev(makedev(259, 70000)), (259ull << 20) | 70000);
	vigil_hex((const uint8_t *)"\x00\xab\xff\x10", 4, hex);
	assert_string_equal(hex, "00abff10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_valid),
	    cmocka_unit_test(test_policy_syntax_error_has_line_and_column),
	    cmocka_unit_test(test_policy_json_strictness),
	    cmocka_unit_test(test_policy_field_errors),
	    cmocka_unit_test(test_policy_resolve_and_verify),
	    cmocka_unit_test(test_policy_resolve_under_root),
	    cmocka_unit_test(test_policy_resolve_paths),
	    cmocka_unit_test(test_policy_mark_unchanged),
	    cmocka_unit_test(test_policy_writer_at_check),
	    cmocka_unit_test(test_policy_verify_parallel),
	    cmocka_unit_test(test_policy_kdev_and_hex),
	};

	return cmocka_run_group_tests_name("policy", tests, tu_setup, tu_teardown);
}
