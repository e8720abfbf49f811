/* Unit tests for the measurement log (attest/measure.c, replay.c), the fake-TDX RTMR and rollback
 * marks. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "attest/attest.h"

#define SHA256 0x000b
#define SHA384 0x000c

static char *log_path(const char *dir)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/measurements.log", dir) > 0);
	return p;
}

static const char *const contents[] = {"{\"a\":1}", "{\"policy\":\"p\",\"serial\":2}",
                                       "{\"checkpoint\":\"x\"}"};

/* What a verifier computes by hand: reg = H(reg || H(content)) from zero. */
static struct attest_digest expected(uint16_t alg, size_t n)
{
	struct attest_digest reg = {0}, d;
	size_t i;

	assert_int_equal(attest_hash(alg, "", 0, &reg), 0);
	memset(reg.d, 0, sizeof(reg.d));
	for (i = 0; i < n; i++) {
		assert_int_equal(attest_hash(alg, contents[i], strlen(contents[i]), &d), 0);
		assert_int_equal(attest_extend_value(&reg, &d), 0);
	}
	return reg;
}

static void record_all(const struct measure_config *cfg, size_t from, size_t to)
{
	struct measure_log *m;
	uint64_t recnum;
	size_t i;

	assert_int_equal(measure_open(cfg, &m, NULL), 0);
	for (i = from; i < to; i++) {
		assert_int_equal(
		    measure_record(m, "test/content", contents[i], strlen(contents[i]), &recnum),
		    0);
		assert_int_equal(recnum, i);
	}
	measure_close(m);
}

static int count(const struct measure_entry *e, void *ctx)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void test_log_only_and_continuation(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir), err[256];
	struct measure_config cfg = {.log_path = path, .platform = ATTEST_PLATFORM_NONE};
	struct measure_replay rp;
	size_t n = 0;

	record_all(&cfg, 0, 2);
	/* Reopening continues the numbering rather than starting a second chain. */
	record_all(&cfg, 2, 3);
	assert_int_equal(measure_log_read(path, count, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(measure_replay(path, &rp, err, sizeof(err)), 0);
	assert_int_equal(rp.records, 3);
	assert_int_equal(rp.pcr, -1); /* no TPM: the records name no PCR */
	assert_false(rp.rtmr);
	free(path);
	tu_rmdir(dir);
}

static void test_fake_tdx_rtmr(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir), err[256];
	char *rtmr = tu_write(dir, "rtmr3:sha384", "", 0);
	struct measure_config cfg = {
	    .log_path = path, .platform = ATTEST_PLATFORM_TDX, .tdx_rtmr_path = rtmr};
	struct attest_digest want = expected(SHA384, 3), last;
	struct measure_replay rp;
	uint8_t buf[64];
	int fd;

	record_all(&cfg, 0, 3);
	assert_int_equal(measure_replay(path, &rp, err, sizeof(err)), 0);
	assert_true(rp.rtmr);
	assert_memory_equal(rp.rtmr_value.d, want.d, 48);
	/* A plain file stands in for sysfs: it holds the last 48-byte extend written to it. */
	fd = open(rtmr, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 48);
	close(fd);
	assert_int_equal(attest_hash(SHA384, contents[2], strlen(contents[2]), &last), 0);
	assert_memory_equal(buf, last.d, 48);
	free(rtmr);
	free(path);
	tu_rmdir(dir);
}

static void test_tdx_missing_sysfs_fails_closed(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir), *rtmr = NULL;
	struct measure_config cfg = {.log_path = path, .platform = ATTEST_PLATFORM_TDX};
	struct measure_log *m;

	assert_true(asprintf(&rtmr, "%s/no/such/rtmr3:sha384", dir) > 0);
	cfg.tdx_rtmr_path = rtmr;
	assert_int_equal(measure_open(&cfg, &m, NULL), 0);
	assert_int_equal(measure_record(m, "t", "x", 1, NULL), -ENOENT);
	/* Logged but not extended: nothing more may be measured. */
	assert_int_equal(measure_record(m, "t", "y", 1, NULL), -EIO);
	measure_close(m);
	free(rtmr);
	free(path);
	tu_rmdir(dir);
}

/* Rewrites the log with a sed script and expects replay to refuse it. */
static void expect_refused(const char *path, const char *sed_script, int want)
{
	char err[256], *cmd = NULL;
	struct measure_replay rp;

	assert_true(asprintf(&cmd, "cp '%s' '%s.orig' && sed -i '%s' '%s'", path, path, sed_script,
	                     path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(measure_replay(path, &rp, err, sizeof(err)), want);
	assert_true(strlen(err) > 0);
	assert_true(asprintf(&cmd, "mv '%s.orig' '%s'", path, path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_tampering_detected(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir), *cmd = NULL, err[256];
	struct measure_config cfg = {.log_path = path};
	struct measure_replay rp;

	record_all(&cfg, 0, 3);
	/* Content changed without its digest. */
	expect_refused(path, "s/\\\\\"serial\\\\\":2/\\\\\"serial\\\\\":3/", -EBADMSG);
	/* A record deleted: numbering breaks. */
	expect_refused(path, "2d", -ERANGE);
	/* Records swapped. */
	expect_refused(path, "1{h;d};2{G}", -ERANGE);
	/* Garbage. */
	expect_refused(path, "2s/^/x/", -EINVAL);
	/* A torn tail: the last newline missing. */
	assert_true(asprintf(&cmd, "truncate -s -1 '%s'", path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(measure_replay(path, &rp, err, sizeof(err)), -EBADMSG);
	free(path);
	tu_rmdir(dir);
}

static void test_record_rules(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir);
	struct measure_config cfg = {.log_path = path};
	struct measure_log *m;
	char *big = calloc(1, ATTEST_RECORD_MAX);

	assert_int_equal(measure_open(&cfg, &m, NULL), 0);
	assert_int_equal(measure_record(m, "", "x", 1, NULL), -EINVAL);
	assert_int_equal(measure_record(m, "t", "\xff\xfe", 2, NULL), -EINVAL); /* not UTF-8 */
	memset(big, 'a', ATTEST_RECORD_MAX - 1);
	assert_int_equal(measure_record(m, "t", big, ATTEST_RECORD_MAX - 1, NULL), -EINVAL);
	assert_int_equal(measure_record(m, "t", "ok", 2, NULL), 0);
	measure_close(m);
	free(big);
	free(path);
	tu_rmdir(dir);
}

static void test_hwm_state_file(void **state)
{
	char *dir = tu_mkdtemp(), *path = NULL, *bad;
	struct hwm_store *h;
	struct hwm_mark m41 = {.serial = 41, .payload_sha256 = {1, 2, 3}}, m3 = {.serial = 3}, got;
	bool found = true;

	assert_true(asprintf(&path, "%s/serials.json", dir) > 0);
	assert_int_equal(hwm_open(NULL, path, &h), 0);
	assert_string_equal(hwm_backend(h), "state-file");
	assert_int_equal(hwm_get(h, "a b", &got, &found), 0);
	assert_false(found);
	assert_int_equal(hwm_set(h, "a b", &m41), 0);
	assert_int_equal(hwm_set(h, "other", &m3), 0);
	assert_int_equal(hwm_get(h, "a b", &got, &found), 0);
	assert_true(found);
	assert_int_equal(got.serial, 41);
	assert_memory_equal(got.payload_sha256, m41.payload_sha256, 32);
	hwm_close(h);
	/* A damaged state file fails closed. */
	bad = tu_write(dir, "serials.json", "[1]", 3);
	assert_int_equal(hwm_open(NULL, bad, &h), 0);
	assert_int_equal(hwm_get(h, "a b", &got, &found), -EBADMSG);
	hwm_close(h);
	free(bad);
	free(path);
	tu_rmdir(dir);
}

/* The verifier's replay fails closed: empty, no register, no start record, a FIFO for the log. */
static void test_replay_strict(void **state)
{
	char *dir = tu_mkdtemp(), *path = log_path(dir), *rtmr = tu_write(dir, "rtmr", "", 0),
	     err[512];
	struct measure_config cfg = {.log_path = path, .platform = ATTEST_PLATFORM_NONE};
	struct measure_replay rp;
	char *fifo = NULL;

	assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(measure_replay(path, &rp, err, sizeof(err)), 0); /* the writer's view */
	assert_int_equal(measure_replay_strict(path, false, &rp, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "empty"));
	unlink(path);
	record_all(&cfg, 0, 2); /* no TPM, no TDX: the records name no register */
	assert_int_equal(measure_replay_strict(path, false, &rp, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "names no register"));
	unlink(path);
	cfg.platform = ATTEST_PLATFORM_TDX;
	cfg.tdx_rtmr_path = rtmr;
	record_all(&cfg, 0, 2);
	assert_int_equal(measure_replay_strict(path, false, &rp, err, sizeof(err)), 0);
	assert_int_equal(measure_replay_strict(path, true, &rp, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no start record"));
	assert_non_null(strstr(err, path));
	assert_true(asprintf(&fifo, "%s/fifo", dir) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_true(measure_replay_strict(fifo, false, &rp, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a regular file"));
	free(fifo);
	free(rtmr);
	free(path);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_only_and_continuation),
	    cmocka_unit_test(test_fake_tdx_rtmr),
	    cmocka_unit_test(test_replay_strict),
	    cmocka_unit_test(test_tdx_missing_sysfs_fails_closed),
	    cmocka_unit_test(test_tampering_detected),
	    cmocka_unit_test(test_record_rules),
	    cmocka_unit_test(test_hwm_state_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
