/* Shared helpers for the cmocka unit tests: assertions, temporary directories and files. */
#ifndef VIGIL_TESTUTIL_H
#define VIGIL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* Asserts that haystack contains needle, printing both when it does not. */
#define assert_contains(haystack, needle)                                                          \
	do {                                                                                       \
		if (!strstr((haystack), (needle)))                                                 \
			fail_msg("'%s' does not contain '%s'", (haystack), (needle));              \
	} while (0)

/* A fresh directory under $TMPDIR; removed (recursively) by tu_rmdir. */
static inline char *tu_mkdtemp(void)
{
	char *d = NULL;

	assert_true(asprintf(&d, "%s/vigil-test.XXXXXX", getenv("TMPDIR") ?: "/tmp") > 0);
	assert_non_null(mkdtemp(d));
	return d;
}

static inline void tu_rmdir(char *d)
{
	char *cmd = NULL;

	assert_true(asprintf(&cmd, "rm -rf '%s'", d) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(d);
}

/* Writes len bytes of data to dir/name; returns the path (caller frees). */
static inline char *tu_write(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

#endif /* VIGIL_TESTUTIL_H */
