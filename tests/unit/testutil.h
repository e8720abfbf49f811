/* Shared helpers for the cmocka unit tests. */
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

/* Writes content to a fresh file under a private temporary directory; returns its path. */
static inline char *write_temp(const char *dir, const char *name, const void *content, size_t len)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	f = fopen(path, "w");
	if (!f || fwrite(content, 1, len, f) != len || fclose(f) != 0) {
		free(path);
		return NULL;
	}
	return path;
}

#endif /* VIGIL_TESTUTIL_H */
